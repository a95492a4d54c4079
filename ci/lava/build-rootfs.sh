#!/usr/bin/env bash
# Builds the LAVA guest of ci/lava/qemu-job.yaml from the Debian archive with
# mmdebstrap: a minimal Debian 12 rootfs with the tcpsem .deb (and its
# dependencies) and a Debian kernel package installed, packed as a gzip'd
# newc cpio that the kernel unpacks as its root filesystem. The kernel image
# is taken out of the rootfs so the job can boot it.
#
#   ci/lava/build-rootfs.sh TCPSEM_DEB OUT_DIR [KERNEL_PACKAGE]
#
# KERNEL_PACKAGE defaults to linux-image-cloud-amd64 (Debian's kernel for
# virtual machines). Writes OUT_DIR/vmlinuz, OUT_DIR/rootfs.cpio.gz and
# OUT_DIR/kernel-release. Needs root (mmdebstrap as root creates the device
# nodes and owners the rootfs needs).
set -euo pipefail
deb=$(readlink -f "${1:?usage: build-rootfs.sh TCPSEM_DEB OUT_DIR [KERNEL_PACKAGE]}")
out=${2:?usage: build-rootfs.sh TCPSEM_DEB OUT_DIR [KERNEL_PACKAGE]}
kernel_package=${3:-linux-image-cloud-amd64}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ -f "$deb" ] || { echo "build-rootfs: $deb: no such .deb" >&2; exit 1; }
mkdir -p -m 0700 "$out"
root="$out/root"
rm -rf "$root"
# minbase: essential packages and apt only. The kernel package's postinst
# would build an initrd for /boot (path-exclude drops its hook): this guest
# boots without one, its rootfs is the initramfs. Documentation and locales
# are dropped to keep the image small.
# The hook makes the local .deb visible to dpkg inside the chroot.
mmdebstrap --variant=minbase --quiet \
  --hook-dir=/usr/share/mmdebstrap/hooks/file-mirror-automount \
  --include="kmod,iproute2,procps,bash,$kernel_package,$deb" \
  --dpkgopt='path-exclude=/etc/kernel/postinst.d/*' \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --customize-hook="install -m 0755 '$here/guest-init.sh' \"\$1/sbin/tcpsem-lava-init\"" \
  --customize-hook='echo tcpsem > "$1/etc/hostname"' \
  bookworm "$root"
vmlinuz=$(find "$root/boot" -maxdepth 1 -name 'vmlinuz-*' | sort | tail -n 1)
[ -n "$vmlinuz" ] || { echo "build-rootfs: $kernel_package installed no /boot/vmlinuz-*" >&2; exit 1; }
basename "$vmlinuz" | sed 's/^vmlinuz-//' >"$out/kernel-release"
cp "$vmlinuz" "$out/vmlinuz"
rm -rf "$root/boot"/* "$root/var/cache/apt"/*.bin "$root/var/lib/apt/lists"/*
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet) |
  gzip -1 >"$out/rootfs.cpio.gz.tmp"
mv "$out/rootfs.cpio.gz.tmp" "$out/rootfs.cpio.gz"
rm -rf "$root"
echo "build-rootfs: kernel $(cat "$out/kernel-release"), rootfs $(du -h "$out/rootfs.cpio.gz" | cut -f1)"

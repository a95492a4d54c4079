#!/usr/bin/env bash
# shellcheck disable=SC1090,SC1091  # kernel.env files are generated per run
# Kernel matrix: run the tcpsem suite under several kernels in QEMU guests and
# compare them scenario by scenario. See docs/kernel-matrix.md.
#
# Usage: ci/kernel-matrix.sh [options] [-- extra suite arguments]
#
#   --binary PATH     the gtest suite binary (default
#                     ${TCPSEM_BUILD_DIR:-<repo>/build}/tests/tcpsem_matrix)
#   --kernel SPEC     a kernel to run (repeatable; default: debian-6.1
#                     debian-6.12 host). SPEC is one of
#                       debian-6.1     newest linux-image-6.1.0-*-cloud-amd64
#                       debian-6.12    newest linux-image-6.12.*+deb12-cloud-amd64
#                       debian-all     every distinct upstream version the
#                                      archive offers for cloud-amd64 (each
#                                      6.1.0-N ABI and each 6.12.X), oldest
#                                      first; one package per upstream version
#                       host           the running kernel, if its image is on disk
#                       pkg:NAME       a Debian kernel package by name
#                       PATH.deb       a kernel image .deb
#                       VMLINUZ[:MODULES_DIR]  a kernel image and, optionally,
#                                      its lib/modules/<release> directory
#   --runner PATH     the watchdog the suite runs under (default tcpsem_run
#                     in ../tools next to the suite binary; "none": run the
#                     binary directly, e.g. a payload without a journal)
#   --suite-jobs N    suite processes at once inside a guest (default 4;
#                     tcpsem_run --tcpsem_run_jobs): the tests that wait on
#                     the kernel's timers overlap
#   --test-timeout SEC  bound on one test inside a guest (default 60): a
#                     test past it is killed and recorded as hung, and the
#                     run goes on with the next
#   --filter PATTERN  gtest filter (--gtest_filter=PATTERN) for every guest
#   --no-record       do not pass --tcpsem_record (payloads without it)
#   --modules LIST    extra modules to load in every guest (space-separated)
#   --timeout SEC     bound on one guest, boot to poweroff (default 600)
#   --jobs N          guests run at once (default: host CPUs, here 2)
#   --smp N / --mem MB  guest size (default 1 / 1024)
#   --accel auto|kvm|tcg|tcg,OPTS  (default auto: KVM if a probe guest boots,
#                     else TCG; e.g. tcg,thread=single)
#   --out DIR         results (default ${TCPSEM_BUILD_DIR:-<repo>/build}/kernel-matrix)
#   --cache DIR       downloads and images (default
#                     ${XDG_CACHE_HOME:-$HOME/.cache}/tcpsem)
#   --no-install      never call apt-get (fail if a tool is missing)
#
# Exit status: 0 every kernel that was asked for ran and passed (the host
# kernel may be "not run" when its image is not on disk); 1 some kernel failed,
# hung, panicked or crashed; 2 none did, but a kernel that was asked for could
# not be run (bad path, not a kernel .deb, missing feature); 64 usage error.
set -euo pipefail
shopt -s inherit_errexit

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HERE=$REPO/ci/kernel-matrix
BUILD_DIR=${TCPSEM_BUILD_DIR:-$REPO/build}
BINARY=${TCPSEM_VM_BINARY:-$BUILD_DIR/tests/tcpsem_matrix}
CACHE=${TCPSEM_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tcpsem}
OUT=${TCPSEM_VM_OUT:-$BUILD_DIR/kernel-matrix}
TIMEOUT=${TCPSEM_VM_TIMEOUT:-600}
JOBS=${TCPSEM_VM_JOBS:-$(nproc)}
# One vCPU per guest, guests side by side: under multi-threaded TCG a 2-vCPU
# guest is slower for this suite, and 6.12 panicked there ("Oops: int3" in
# ttwu_do_activate while tracepoints were being patched; docs/kernel-matrix.md).
SMP=${TCPSEM_VM_SMP:-1}
MEM=${TCPSEM_VM_MEM:-1024}
ACCEL=${TCPSEM_VM_ACCEL:-auto}
FILTER=""
RUNNER=${TCPSEM_VM_RUNNER:-}
TEST_TIMEOUT=${TCPSEM_VM_TEST_TIMEOUT:-60}
SUITE_JOBS=${TCPSEM_VM_SUITE_JOBS:-4}
RECORD=1
INSTALL=1
EXTRA_MODULES=""
# What the suite needs from the kernel: packet sockets (the wire witness),
# IPv6 (the V6 scenarios), sock_diag for TCP (the socket-state witness),
# TUN (the scripted peer; its tests skip without /dev/net/tun), and sch_tbf
# (LoopbackHold: CloserUnsentData holds a segment in flight on lo).
# Network namespaces are not a module. Built-in or modular depends on the kernel.
NEEDED_MODULES="af_packet ipv6 inet_diag tcp_diag tun sch_tbf"
KERNELS=()
SUITE_EXTRA=()

log() { printf 'kernel-matrix: %s\n' "$*" >&2; }
die() { printf 'kernel-matrix: error: %s\n' "$1" >&2; exit "${2:-1}"; }
usage() { sed -n '/^# Kernel matrix:/,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }

while (($#)); do
  case $1 in
    --binary) BINARY=${2:?}; shift 2 ;;
    --kernel) KERNELS+=("${2:?}"); shift 2 ;;
    --filter) FILTER=${2:?}; shift 2 ;;
    --runner) RUNNER=${2:?}; shift 2 ;;
    --test-timeout) TEST_TIMEOUT=${2:?}; shift 2 ;;
    --suite-jobs) SUITE_JOBS=${2:?}; shift 2 ;;
    --no-record) RECORD=0; shift ;;
    --modules) EXTRA_MODULES=${2:?}; shift 2 ;;
    --timeout) TIMEOUT=${2:?}; shift 2 ;;
    --jobs) JOBS=${2:?}; shift 2 ;;
    --smp) SMP=${2:?}; shift 2 ;;
    --mem) MEM=${2:?}; shift 2 ;;
    --accel) ACCEL=${2:?}; shift 2 ;;
    --out) OUT=${2:?}; shift 2 ;;
    --cache) CACHE=${2:?}; shift 2 ;;
    --no-install) INSTALL=0; shift ;;
    -h|--help) usage; exit 0 ;;
    --) shift; SUITE_EXTRA=("$@"); break ;;
    *) usage >&2; die "unknown argument: $1" 64 ;;
  esac
done
DEFAULT_KERNELS=0
((${#KERNELS[@]})) || { KERNELS=(debian-6.1 debian-6.12 host); DEFAULT_KERNELS=1; }

# debian-all: every cloud-amd64 kernel image apt knows, by its upstream
# version (the Debian version's leading x.y.z: 6.1.170-3 -> 6.1.170), one
# package per upstream version (the newest ABI when two share one), oldest
# first, as pkg:NAME specs.
debian_all() {
  local pkg ver
  apt-cache pkgnames linux-image-6 2>/dev/null |
    grep -E '^linux-image-6\.1\.0-[0-9]+-cloud-amd64$|^linux-image-6\.12\.[0-9]+\+deb12-cloud-amd64$' |
    while read -r pkg; do
      ver=$(apt-cache policy "$pkg" 2>/dev/null | awk '$1 == "Candidate:" {print $2}')
      [[ $ver =~ ^([0-9]+\.[0-9]+\.[0-9]+) ]] && echo "${BASH_REMATCH[1]} $pkg"
    done | sort -V -r | awk '!seen[$1]++' | sort -V | awk '{print "pkg:" $2}'
}
expanded=()
for spec in "${KERNELS[@]}"; do
  if [[ $spec == debian-all ]]; then
    mapfile -t all < <(debian_all)
    ((${#all[@]})) || die "debian-all: apt-cache knows no linux-image-*-cloud-amd64 package (run apt-get update)" 2
    log "debian-all: ${#all[@]} upstream versions: ${all[*]#pkg:}"
    expanded+=("${all[@]}")
  else
    expanded+=("$spec")
  fi
done
KERNELS=("${expanded[@]}")
[[ $TIMEOUT =~ ^[0-9]+$ && $TIMEOUT -ge 30 ]] || die "--timeout must be >= 30 seconds" 64
[[ $JOBS =~ ^[1-9][0-9]*$ ]] || die "--jobs must be a positive integer" 64
[[ $TEST_TIMEOUT =~ ^[1-9][0-9]*$ ]] || die "--test-timeout must be a positive integer" 64
[[ $SUITE_JOBS =~ ^([1-9]|1[0-6])$ ]] || die "--suite-jobs must be 1 to 16" 64
[[ $SMP =~ ^[1-9][0-9]*$ ]] || die "--smp must be a positive integer" 64
[[ $MEM =~ ^[1-9][0-9]*$ ]] || die "--mem must be a positive integer (MiB)" 64
case $ACCEL in auto|kvm|tcg|tcg,*) ;; *) die "--accel must be auto, kvm, tcg or tcg,<options>" 64 ;; esac

export DEBIAN_FRONTEND=noninteractive LC_ALL=C

# ---------------------------------------------------------------- tools ----
# Debian packages this script needs, installed only when something is missing
# (so a second run does not touch the network).
ensure_tools() {
  local missing=()
  command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
  dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed' ||
    missing+=(busybox-static)
  command -v cpio >/dev/null || missing+=(cpio)
  command -v depmod >/dev/null && command -v modprobe >/dev/null || missing+=(kmod)
  command -v xz >/dev/null || missing+=(xz-utils)
  command -v zstd >/dev/null || missing+=(zstd)
  command -v file >/dev/null || missing+=(file)
  command -v python3 >/dev/null || missing+=(python3-minimal)
  command -v flock >/dev/null && command -v timeout >/dev/null || missing+=(util-linux coreutils)
  ((${#missing[@]})) || return 0
  ((INSTALL)) || die "missing packages: ${missing[*]} (run without --no-install, or apt-get install them)"
  log "installing ${missing[*]}"
  apt-get update -qq </dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >/dev/null
}
ensure_tools
BUSYBOX=/bin/busybox
file -L "$BUSYBOX" | grep -q 'statically linked' || die "$BUSYBOX is not the static busybox (apt-get install busybox-static)"

# The payload: a dynamically linked gtest binary. Not statically linked: Debian
# ships no static libmnl, so the binary goes in with every library ldd lists.
[[ -e $BINARY ]] || die "suite binary not found: $BINARY (build it: cmake --build <build dir>, or pass --binary)" 64
BINARY=$(readlink -f "$BINARY")
file -L "$BINARY" | grep -q 'ELF 64-bit.*x86-64' || die "not an x86-64 ELF executable: $BINARY" 64
# The watchdog: next to the suite in a build tree (tests/ and tools/) or in
# an installed lib/tcpsem.
if [[ -z $RUNNER ]]; then
  for c in "$(dirname "$BINARY")/../tools/tcpsem_run" "$(dirname "$BINARY")/tcpsem_run"; do
    [[ -x $c ]] && { RUNNER=$c; break; }
  done
  [[ -n $RUNNER ]] || log "warning: no tcpsem_run next to $BINARY: the suite runs without a watchdog (a hung test ends the guest's run)"
elif [[ $RUNNER == none ]]; then
  RUNNER=""
else
  [[ -x $RUNNER ]] || die "--runner: not an executable: $RUNNER" 64
fi
[[ -z $RUNNER ]] || RUNNER=$(readlink -f "$RUNNER")

# The cache holds kernels and images this script boots and files it copies
# into them as root: trusted only when it is ours and nobody else can write
# it (a link, another user's directory or a group/world-writable one is
# refused, as is anything planted inside it).
trusted_dir() {  # trusted_dir DIR: create (0700) or check; dies if not ours
  local d=$1 bad
  [[ -L $d ]] && die "refusing $d: a symbolic link (cache directories must be real directories you own)"
  mkdir -p -m 0700 "$d"
  [[ -d $d && ! -L $d ]] || die "refusing $d: not a directory"
  [[ $(stat -c %u "$d") == "$(id -u)" ]] || die "refusing $d: owned by uid $(stat -c %u "$d"), not $(id -u)"
  (( (8#$(stat -c %a "$d") & 8#022) == 0 )) || die "refusing $d: mode $(stat -c %a "$d") lets others write"
  bad=$(find "$d" -mindepth 1 \( ! -user "$(id -u)" -o -perm /022 \) ! -type l -print -quit)
  [[ -z $bad ]] || die "refusing $d: $bad is not yours alone (owner or mode)"
}
trusted_dir "$CACHE"
for sub in debs kernels initramfs; do trusted_dir "$CACHE/$sub"; done
mkdir -p "$OUT"
CACHE=$(readlink -f "$CACHE"); OUT=$(readlink -f "$OUT")
RUN_ID=$(date +%Y%m%d-%H%M%S)
RUN=$OUT/runs/$RUN_ID
mkdir -p "$RUN"
ln -sfn "runs/$RUN_ID" "$OUT/latest"
exec 9>"$CACHE/.lock"
flock -w 1800 9 || die "another kernel-matrix run holds $CACHE/.lock"

now() { echo "${EPOCHREALTIME/,/.}"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.1f", b-a}'; }

# ----------------------------------------------------- base initramfs ------
# busybox, /init, the suite binary, its libraries and the dynamic loader.
# Cached by the hash of everything that goes in.
build_base() {
  local libs lib key out root
  libs=$( { ldd "$BINARY"; [[ -z $RUNNER ]] || ldd "$RUNNER"; } | sort -u | awk '
    /not found/ {print "MISSING " $1; next}
    $2 == "=>" && $3 ~ /^\// {print $3; next}
    $1 ~ /^\// {print $1}')
  if grep -q '^MISSING' <<<"$libs"; then
    die "ldd $BINARY: $(grep '^MISSING' <<<"$libs" | cut -d' ' -f2 | tr '\n' ' ')not found"
  fi
  key=$( { sha256sum "$BINARY" ${RUNNER:+"$RUNNER"} "$BUSYBOX" "$HERE/init.sh" "$0" "$REPO"/fixtures/config/profiles/*.conf;
           for lib in $libs; do echo "$lib $(sha256sum <"$(readlink -f "$lib")")"; done; } |
         sha256sum | cut -c1-16)
  out=$CACHE/initramfs/base-$key.cpio
  if [[ ! -s $out ]]; then
    log "building the base initramfs ($(wc -w <<<"$libs") libraries)"
    root=$(mktemp -d "$CACHE/initramfs/.root.XXXXXX")
    mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,run,etc/tcpsem,opt/tcpsem,lib/modules}
    cp "$BUSYBOX" "$root/bin/busybox"
    local applet
    for applet in $("$BUSYBOX" --list); do
      [[ $applet == busybox ]] || ln -s busybox "$root/bin/$applet"
    done
    install -m 0755 "$HERE/init.sh" "$root/init"
    cp "$BINARY" "$root/opt/tcpsem/suite"
    [[ -n $RUNNER ]] && cp "$RUNNER" "$root/opt/tcpsem/run"
    # The shipped sysctl profiles (init.sh points TCPSEM_PROFILE_DIR here).
    cp -r "$REPO/fixtures/config/profiles" "$root/opt/tcpsem/profiles"
    for lib in $libs; do
      mkdir -p "$root$(dirname "$lib")"
      cp -L "$lib" "$root$lib"
    done
    # The console node the kernel opens for /init before devtmpfs is mounted
    # (root only; without it /init starts with no fds until it mounts /dev).
    mknod -m 600 "$root/dev/console" c 5 1 2>/dev/null || true
    (cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$out.tmp"
    mv "$out.tmp" "$out"
    rm -rf "$root"
  fi
  # Keep the few most recently used base images (one per binary build).
  touch "$out"
  find "$CACHE/initramfs" -maxdepth 1 -name 'base-*.cpio' -printf '%T@ %p\n' |
    sort -rn | tail -n +5 | cut -d' ' -f2- | xargs -r rm -f
  BASE_CPIO=$out
}
build_base

# ------------------------------------------------------------ kernels ------
# Each kernel gets a work directory $RUN/<n>-<name>/ with kernel.env (what to
# boot) or notrun.txt (why not).

resolve_debian() {  # resolve_debian SERIES -> package name on stdout
  local series=$1 meta pattern pkg=""
  case $series in
    6.1) meta=linux-image-cloud-amd64; pattern='^linux-image-6\.1\.0-[0-9]+-cloud-amd64$' ;;
    6.12) meta=linux-image-6.12-cloud-amd64; pattern='^linux-image-6\.12\.[0-9]+\+deb12-cloud-amd64$' ;;
  esac
  # The metapackage points at the newest ABI; fall back to the highest name apt
  # knows, then to what is already cached (offline).
  pkg=$(apt-cache depends "$meta" 2>/dev/null | awk '$1 == "Depends:" {print $2}' | grep -E "$pattern" | head -n1 || true)
  if [[ -z $pkg ]]; then
    pkg=$(apt-cache pkgnames linux-image-6 2>/dev/null | grep -E "$pattern" | sort -V | tail -n1 || true)
  fi
  if [[ -z $pkg ]]; then
    pkg=$(find "$CACHE/debs" -maxdepth 1 -name '*.deb' -printf '%f\n' | cut -d_ -f1 | grep -E "$pattern" | sort -V | tail -n1 || true)
  fi
  [[ -n $pkg ]] || return 1
  echo "$pkg"
}

fetch_deb() {  # fetch_deb PACKAGE -> path of the cached .deb on stdout
  local pkg=$1 ver deb
  ver=$(apt-cache show --no-all-versions "$pkg" 2>/dev/null | awk '/^Version:/ {print $2; exit}' || true)
  if [[ -n $ver ]]; then
    deb=$CACHE/debs/${pkg}_${ver//:/%3a}_amd64.deb
    [[ -s $deb ]] && { echo "$deb"; return 0; }
  else
    # apt does not know it (yet): take a cached copy if there is one.
    deb=$(find "$CACHE/debs" -maxdepth 1 -name "${pkg}_*.deb" | sort -V | tail -n1)
    [[ -n $deb ]] && { echo "$deb"; return 0; }
  fi
  log "downloading $pkg${ver:+ $ver}"
  local tmp; tmp=$(mktemp -d "$CACHE/debs/.dl.XXXXXX")
  if ! (cd "$tmp" && apt-get -o APT::Sandbox::User=root download "$pkg" </dev/null >"$tmp/log" 2>&1); then
    if ((INSTALL)) && [[ -z $ver ]]; then
      apt-get update -qq </dev/null >/dev/null 2>&1 || true
      (cd "$tmp" && apt-get -o APT::Sandbox::User=root download "$pkg" </dev/null >"$tmp/log" 2>&1) || true
    fi
  fi
  deb=$(find "$tmp" -maxdepth 1 -name "${pkg}_*.deb" | head -n1)
  if [[ -z $deb ]]; then
    echo "apt-get download $pkg failed: $(grep -E '^E:' "$tmp/log" | head -n1)" >&2
    rm -rf "$tmp"; return 1
  fi
  mv "$deb" "$CACHE/debs/"
  rm -rf "$tmp"
  echo "$CACHE/debs/$(basename "$deb")"
}

unpack_deb() {  # unpack_deb DEB -> root dir on stdout; checks it is a kernel
  local deb=$1 pkg ver root tmp
  pkg=$(dpkg-deb -f "$deb" Package 2>/dev/null) || { echo "$deb is not a Debian package" >&2; return 1; }
  ver=$(dpkg-deb -f "$deb" Version)
  root=$CACHE/kernels/${pkg}_${ver//:/%3a}
  if [[ ! -e $root/.unpacked ]]; then
    if ! dpkg-deb -c "$deb" | grep -E '\./boot/vmlinuz-' >/dev/null; then
      echo "$deb ($pkg $ver) is not a kernel image package: it has no /boot/vmlinuz-*" >&2
      return 1
    fi
    log "unpacking $pkg $ver"
    rm -rf "$root"
    tmp=$(mktemp -d "$CACHE/kernels/.x.XXXXXX")
    dpkg -x "$deb" "$tmp"
    local rel
    for rel in "$tmp"/lib/modules/*/; do
      [[ -d $rel ]] && depmod -b "$tmp" "$(basename "$rel")"
    done
    echo "$pkg $ver" >"$tmp/.package"
    touch "$tmp/.unpacked"
    mv "$tmp" "$root"
  fi
  echo "$root"
}

# A user's vmlinuz (+ modules dir): modules are linked into the cache so that
# depmod never writes into the user's tree.
custom_root() {  # custom_root VMLINUZ MODDIR RELEASE -> root on stdout
  local vmlinuz=$1 moddir=$2 rel=$3 key root tmp
  key=$( { sha256sum <"$vmlinuz"; echo "$moddir"; [[ -z $moddir ]] || find "$moddir" -name '*.ko*' -printf '%P %s %T@\n' | sort; } | sha256sum | cut -c1-16)
  root=$CACHE/kernels/custom-$rel-$key
  if [[ ! -e $root/.unpacked ]]; then
    rm -rf "$root"
    tmp=$(mktemp -d "$CACHE/kernels/.x.XXXXXX")
    mkdir -p "$tmp/boot" "$tmp/lib/modules"
    cp "$vmlinuz" "$tmp/boot/vmlinuz-$rel"
    local cfg
    for cfg in "$(dirname "$vmlinuz")/config-$rel" "$moddir/build/.config" "$moddir/config"; do
      [[ -f $cfg ]] && { cp "$cfg" "$tmp/boot/config-$rel"; break; }
    done
    if [[ -n $moddir ]]; then
      mkdir -p "$tmp/lib/modules/$rel"
      cp -rs "$moddir/." "$tmp/lib/modules/$rel/"
      rm -f "$tmp/lib/modules/$rel"/modules.*.bin "$tmp/lib/modules/$rel/modules.dep"
      [[ -e $moddir/modules.builtin ]] || log "warning: $moddir has no modules.builtin: built-in features cannot be told apart from missing ones"
      depmod -b "$tmp" "$rel"
    fi
    echo "custom $vmlinuz" >"$tmp/.package"
    touch "$tmp/.unpacked"
    mv "$tmp" "$root"
  fi
  echo "$root"
}

release_of_vmlinuz() {
  file -bL "$1" | sed -n 's/.*[Vv]ersion \([^ ,]*\).*/\1/p'
}

# Modules cpio for one kernel root: the needed modules and their dependencies
# (from the kernel's own tree, decompressed), and /etc/tcpsem/modules, the
# insmod order. Sets MODS_CPIO; fails with a message if the kernel lacks a
# feature the suite cannot do without.
build_modules() {  # build_modules ROOT RELEASE
  local root=$1 rel=$2 cfg mods key out tree list m
  cfg=$root/boot/config-$rel
  if [[ -f $cfg ]]; then
    grep -q '^CONFIG_NET_NS=y' "$cfg" || { echo "kernel $rel lacks network namespaces (CONFIG_NET_NS is not set)" >&2; return 1; }
    grep -Eq '^CONFIG_PACKET=[ym]' "$cfg" || { echo "kernel $rel lacks packet sockets (CONFIG_PACKET is not set)" >&2; return 1; }
    grep -Eq '^CONFIG_BLK_DEV_INITRD=y' "$cfg" || { echo "kernel $rel cannot boot an initramfs (CONFIG_BLK_DEV_INITRD is not set)" >&2; return 1; }
    grep -Eq '^CONFIG_SERIAL_8250_CONSOLE=y' "$cfg" || log "warning: $rel has no built-in 8250 serial console; the guest may not report"
  fi
  mods="$NEEDED_MODULES $EXTRA_MODULES"
  key=$(echo "$mods" | sha256sum | cut -c1-12)
  out=$root/tcpsem-modules-$key.cpio
  list=$root/tcpsem-modules-$key.list
  if [[ ! -s $out ]]; then
    rm -f "$list.tmp"
    tree=$(mktemp -d "$root/.mods.XXXXXX")
    mkdir -p "$tree/etc/tcpsem" "$tree/lib/modules"
    : >"$tree/etc/tcpsem/modules"
    for m in $mods; do
      if [[ ! -d $root/lib/modules/$rel ]]; then
        echo "missing $m (no modules directory)" >>"$list.tmp"; continue
      fi
      if ! modprobe -d "$root" -S "$rel" --show-depends "$m" >"$tree/dep" 2>/dev/null; then
        echo "missing $m" >>"$list.tmp"; continue
      fi
      while read -r kind path _; do
        case $kind in
          builtin) echo "builtin $m" >>"$tree/etc/tcpsem/modules"; echo "builtin $m" >>"$list.tmp" ;;
          insmod)
            local relpath=${path#"$root/lib/modules/$rel/"} dst
            dst=${relpath%.xz}; dst=${dst%.zst}; dst=${dst%.gz}
            grep -qxF "insmod $dst" "$tree/etc/tcpsem/modules" && continue
            mkdir -p "$tree/lib/modules/$(dirname "$dst")"
            case $relpath in
              *.xz) xz -dc "$path" >"$tree/lib/modules/$dst" ;;
              *.zst) zstd -qdc "$path" >"$tree/lib/modules/$dst" ;;
              *.gz) gzip -dc "$path" >"$tree/lib/modules/$dst" ;;
              *) cp -L "$path" "$tree/lib/modules/$dst" ;;
            esac
            echo "insmod $dst" >>"$tree/etc/tcpsem/modules"
            echo "module $dst" >>"$list.tmp" ;;
        esac
      done <"$tree/dep"
    done
    rm -f "$tree/dep"
    (cd "$tree" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$out.tmp"
    touch "$list.tmp"
    mv "$list.tmp" "$list"; mv "$out.tmp" "$out"
    rm -rf "$tree"
  fi
  # af_packet missing with a config that says it is there is fine (config
  # check above); with no config, the guest checks /proc/net/packet itself.
  for m in $mods; do
    if grep -qx "missing $m" "$list"; then
      log "warning: $rel: module $m is neither built in nor in the modules tree"
    fi
  done
  MODS_CPIO=$out
}

prepare_kernel() {  # prepare_kernel SPEC WORKDIR; runs in a subshell with set -e
  local spec=$1 work=$2 root vmlinuz rel moddir deb pkg
  case $spec in
    debian-6.1|debian-6.12)
      pkg=$(resolve_debian "${spec#debian-}") ||
        { echo "no Debian package found for $spec (apt-cache knows none; run apt-get update)" >&2; return 1; }
      deb=$(fetch_deb "$pkg")
      root=$(unpack_deb "$deb") ;;
    pkg:*)
      pkg=${spec#pkg:}
      [[ $pkg =~ ^linux-image- ]] || { echo "$pkg is not a linux-image-* package" >&2; return 1; }
      deb=$(fetch_deb "$pkg")
      root=$(unpack_deb "$deb") ;;
    *.deb)
      [[ -f $spec ]] || { echo "no such file: $spec" >&2; return 1; }
      root=$(unpack_deb "$(readlink -f "$spec")") ;;
    host)
      rel=$(uname -r)
      vmlinuz=""
      local c
      for c in "/boot/vmlinuz-$rel" "/lib/modules/$rel/vmlinuz" "/usr/lib/modules/$rel/vmlinuz" \
               "/boot/vmlinuz" "/vmlinuz" "/usr/lib/linux/vmlinuz-$rel"; do
        [[ -f $c && -r $c ]] && { vmlinuz=$c; break; }
      done
      if [[ -z $vmlinuz ]]; then
        echo "the running kernel's image ($rel) is not on disk (looked in /boot, /lib/modules/$rel, /usr/lib/modules/$rel, /vmlinuz): this machine is booted from outside (e.g. a hypervisor's direct kernel boot); nothing to boot in a guest" >&2
        return 3
      fi
      moddir=""; [[ -d /lib/modules/$rel ]] && moddir=/lib/modules/$rel
      root=$(custom_root "$vmlinuz" "$moddir" "$rel") ;;
    *)
      vmlinuz=${spec%%:*}; moddir=""
      [[ $spec == *:* ]] && moddir=${spec#*:}
      [[ -f $vmlinuz ]] || { echo "no such kernel image: $vmlinuz" >&2; return 1; }
      file -bL "$vmlinuz" | grep -q 'Linux kernel x86 boot executable' ||
        { echo "$vmlinuz is not an x86 Linux kernel image (file says: $(file -bL "$vmlinuz" | cut -c1-80))" >&2; return 1; }
      if [[ -n $moddir ]]; then
        [[ -d $moddir ]] || { echo "no such modules directory: $moddir" >&2; return 1; }
        moddir=$(readlink -f "$moddir")
        rel=$(basename "$moddir")
      else
        rel=$(release_of_vmlinuz "$vmlinuz")
        [[ -n $rel ]] || { echo "cannot read the release of $vmlinuz" >&2; return 1; }
      fi
      root=$(custom_root "$(readlink -f "$vmlinuz")" "$moddir" "$rel") ;;
  esac
  vmlinuz=$(find "$root/boot" -maxdepth 1 -name 'vmlinuz-*' | head -n1)
  [[ -n $vmlinuz ]] || { echo "no vmlinuz in $root/boot" >&2; return 1; }
  rel=${vmlinuz##*/vmlinuz-}
  build_modules "$root" "$rel"
  {
    printf 'VMLINUZ=%q\n' "$vmlinuz"
    printf 'RELEASE=%q\n' "$rel"
    printf 'MODS_CPIO=%q\n' "$MODS_CPIO"
    printf 'PACKAGE=%q\n' "$(cat "$root/.package")"
  } >"$work/kernel.env"
}

LABELS=() WORKS=() REQUIRED=()
i=0
for spec in "${KERNELS[@]}"; do
  i=$((i + 1))
  name=$(basename -- "${spec%%:*}")
  name=${name//[^A-Za-z0-9.+_-]/_}; name=${name:0:60}
  [[ $spec == pkg:* ]] && name=${spec#pkg:}
  work=$RUN/$i-$name
  mkdir -p "$work"
  LABELS+=("$spec") WORKS+=("$work")
  # The host kernel is best effort when it is only a default.
  if [[ $spec == host ]] && ((DEFAULT_KERNELS)); then
    REQUIRED+=(0)
  else
    REQUIRED+=(1)
  fi
  t0=$(now)
  set +e
  (set -e; prepare_kernel "$spec" "$work") 2>"$work/prepare.log"
  rc=$?
  set -e
  if ((rc)); then
    msg=$(grep -v '^kernel-matrix: ' "$work/prepare.log" | tail -n1)
    [[ -n $msg ]] || msg="preparation failed (see $work/prepare.log)"
    echo "$msg" >"$work/notrun.txt"
    log "$spec: NOT RUN: $msg"
  else
    grep '^kernel-matrix: ' "$work/prepare.log" >&2 || true
    log "$spec: $(. "$work/kernel.env"; echo "$PACKAGE -> $RELEASE") (prepared in $(elapsed "$t0" "$(now)")s)"
  fi
done
flock -u 9

# ------------------------------------------------------------- accel -------
probe_kvm() {  # boot the first prepared kernel under KVM once; cache the answer
  local key cachef env work
  [[ -r /dev/kvm && -w /dev/kvm ]] || { echo tcg; return; }
  key="$(uname -r) $(qemu-system-x86_64 --version | head -n1)"
  cachef=$CACHE/accel-probe
  if [[ -f $cachef && $(head -n1 "$cachef") == "$key" ]]; then
    sed -n 2p "$cachef"; return
  fi
  env=""
  for work in "${WORKS[@]}"; do [[ -f $work/kernel.env ]] && { env=$work/kernel.env; break; }; done
  [[ -n $env ]] || { echo tcg; return; }
  local d; mkdir -p "$CACHE"; d=$(mktemp -d "$CACHE/.kvm-probe.XXXXXX")
  mkdir -p "$d/root"
  cp "$BUSYBOX" "$d/root/busybox"
  printf '#!/busybox sh\n/busybox mount -t devtmpfs d /dev\n/busybox echo TCPSEM-KVM-OK >/dev/ttyS1\n/busybox poweroff -f\n' >"$d/root/init"
  chmod +x "$d/root/init"
  (cd "$d/root" && find . | cpio -o -H newc -R 0:0 --quiet) >"$d/probe.cpio"
  local answer=tcg
  if timeout -k 5 30 qemu-system-x86_64 -accel kvm -cpu host -m 256 -nodefaults -nographic -no-reboot \
       -serial "file:$d/console" -serial "file:$d/out" -kernel "$(. "$env"; echo "$VMLINUZ")" \
       -initrd "$d/probe.cpio" -append "console=ttyS0 rdinit=/init panic=-1" </dev/null >"$d/qemu.log" 2>&1 &&
     grep -q TCPSEM-KVM-OK "$d/out"; then
    answer=kvm
  fi
  [[ $answer == kvm ]] || log "KVM is present but a probe guest did not boot under it ($(tail -n1 "$d/qemu.log" | cut -c1-120)); using TCG"
  printf '%s\n%s\n' "$key" "$answer" >"$cachef"
  rm -rf "$d"
  echo "$answer"
}
if [[ $ACCEL == auto ]]; then ACCEL=$(probe_kvm); fi
log "accelerator: $ACCEL"

# --------------------------------------------------------------- run -------
SUITE_ARGS=()
# Without the watchdog, gtest's JSON is the result (with it, results.json).
[[ -n $RUNNER ]] || SUITE_ARGS+=("--gtest_output=json:/run/tcpsem-guest/gtest.json")
((RECORD)) && SUITE_ARGS+=("--tcpsem_record=/run/tcpsem-guest/record.json")
[[ -n $FILTER ]] && SUITE_ARGS+=("--gtest_filter=$FILTER")
SUITE_ARGS+=("${SUITE_EXTRA[@]}")
# The suite gets 45 s less than the guest, so that a suite that hangs with the
# kernel still alive is killed in the guest and its partial output comes back.
SUITE_TIMEOUT=$((TIMEOUT - 45)); ((SUITE_TIMEOUT >= 15)) || SUITE_TIMEOUT=0

run_guest() {  # run_guest WORKDIR LABEL
  local work=$1 label=$2 VMLINUZ RELEASE MODS_CPIO PACKAGE
  # shellcheck disable=SC1091
  . "$work/kernel.env"
  local cfg; cfg=$(mktemp -d "$work/.cfg.XXXXXX")
  mkdir -p "$cfg/etc/tcpsem"
  : >"$cfg/etc/tcpsem/args"
  ((${#SUITE_ARGS[@]} == 0)) || printf '%s\n' "${SUITE_ARGS[@]}" >"$cfg/etc/tcpsem/args"
  echo "$SUITE_TIMEOUT" >"$cfg/etc/tcpsem/suite_timeout"
  echo "$TEST_TIMEOUT" >"$cfg/etc/tcpsem/test_timeout"
  echo "$SUITE_JOBS" >"$cfg/etc/tcpsem/suite_jobs"
  (cd "$cfg" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$work/config.cpio"
  rm -rf "$cfg"
  cat "$BASE_CPIO" "$MODS_CPIO" "$work/config.cpio" >"$work/initrd.cpio"
  rm -f "$work/config.cpio" "$work/console.log" "$work/results.raw"
  local cpu=max; [[ $ACCEL == kvm ]] && cpu=host
  local cmd=(qemu-system-x86_64 -accel "$ACCEL" -cpu "$cpu" -m "$MEM" -smp "$SMP"
             -nodefaults -nographic -no-reboot -nic none
             -serial "file:$work/console.log" -serial "file:$work/results.raw"
             -kernel "$VMLINUZ" -initrd "$work/initrd.cpio"
             -append "console=ttyS0 rdinit=/init panic=-1 mitigations=off loglevel=6")
  printf '%q ' "${cmd[@]}" >"$work/qemu.cmd"; echo >>"$work/qemu.cmd"
  local t0 t1 rc=0 timed_out=0
  t0=$(now)
  timeout -k 10 "$TIMEOUT" "${cmd[@]}" </dev/null >"$work/qemu.log" 2>&1 || rc=$?
  t1=$(now)
  [[ $rc == 124 || $rc == 137 ]] && timed_out=1
  rm -f "$work/initrd.cpio"
  python3 "$HERE/collect.py" --raw "$work/results.raw" --console "$work/console.log" \
    --outdir "$work" --label "$label" --package "$PACKAGE" --release "$RELEASE" --accel "$ACCEL" \
    --qemu-rc "$rc" --timed-out "$timed_out" --timeout "$TIMEOUT" \
    --wall "$(elapsed "$t0" "$t1")" >"$work/collect.log" 2>&1 ||
    echo '{"verdict": "crashed", "reason": "collect.py failed"}' >"$work/collect.log"
  log "$label: $(python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); f=lambda x: "-" if x is None else x; print(s["verdict"] + (" (" + s["reason"] + ")" if s["reason"] else "") + ", boot %ss suite %ss wall %ss" % (f(s["boot_s"]), f(s["suite_s"]), f(s["wall_s"])))' "$work/summary.json" 2>/dev/null || cat "$work/collect.log")"
}

running=0
for idx in "${!WORKS[@]}"; do
  work=${WORKS[$idx]}
  [[ -f $work/kernel.env ]] || continue
  log "${LABELS[$idx]}: booting $(. "$work/kernel.env"; echo "$RELEASE") ($ACCEL, -smp $SMP, timeout ${TIMEOUT}s)"
  run_guest "$work" "${LABELS[$idx]}" &
  running=$((running + 1))
  if ((running >= JOBS)); then wait -n || true; running=$((running - 1)); fi
done
wait || true

# ------------------------------------------------------------ report -------
REPORT=$RUN/report.md
status=0
{
  echo "# tcpsem kernel matrix ($RUN_ID)"
  echo
  echo "Suite: \`$BINARY\` ${FILTER:+(filter \`$FILTER\`)}; accelerator $ACCEL, -smp $SMP, -m $MEM."
  echo
  echo "| kernel (upstream, as the suite resolved it) | release | package | verdict | passed | failed | hung | crashed | not run | skipped | boot s | suite s | wall s | tracefs | tcp_send_reset reason | modules loaded | note |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
} >"$REPORT"
RECORDS=()
for idx in "${!WORKS[@]}"; do
  work=${WORKS[$idx]} label=${LABELS[$idx]}
  if [[ -f $work/notrun.txt ]]; then
    note=$(tr '|' '/' <"$work/notrun.txt")
    echo "| | $label | | not run | | | | | | | | | | | | | $note |" >>"$REPORT"
    echo "not-run" >"$work/verdict"
    ((REQUIRED[idx])) && ((status == 0)) && status=2
    continue
  fi
  python3 - "$work/summary.json" "$label" >>"$REPORT" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
c = s.get("counts") or {}
def v(x):
    return "" if x is None else str(x)
reason = {"yes": "yes", "no": "no"}.get(s.get("tcp_send_reset_reason"), "n/a")
note = (s.get("reason") or "").replace("|", "/")
if s.get("hung_tests"):
    note += "; hung: " + ", ".join(s["hung_tests"][:3]) + (" ..." if len(s["hung_tests"]) > 3 else "")
if s.get("failed_tests"):
    note += ": " + ", ".join(s["failed_tests"][:5]) + (" ..." if len(s["failed_tests"]) > 5 else "")
upstream = "%s (from %s)" % (s["kernel_upstream"], s.get("kernel_upstream_source")) \
    if s.get("kernel_upstream") else "unknown (no run header)"
print("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
    upstream.replace("|", "/"), s.get("kernel_release") or sys.argv[2], v(s.get("package")), s["verdict"],
    v(c.get("passed")), v(c.get("failed")), v(c.get("hung")), v(c.get("crashed")),
    v(c.get("not_run")), v(c.get("skipped")),
    v(s.get("boot_s")), v(s.get("suite_s")), v(s.get("wall_s")),
    v(s.get("tracefs")), reason, v(s.get("modules_loaded")) or "-", note))
EOF
  verdict=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["verdict"])' "$work/summary.json")
  echo "$verdict" >"$work/verdict"
  case $verdict in
    passed) ;;
    not-run) ((REQUIRED[idx])) && ((status == 0)) && status=2 ;;
    *) status=1 ;;
  esac
  [[ -s $work/record.json ]] && RECORDS+=("$work/record.json")
done
{
  echo
  if ((${#RECORDS[@]} >= 2)); then
    python3 "$HERE/compare.py" --title "Scenarios that differ between kernels" "${RECORDS[@]}" || true
    # tcpsem_diff of each record against the first: every changed cell by
    # pattern, a hung or never-run cell as a change of its own ("run").
    diff_tool=$(dirname "$BINARY")/../tools/tcpsem_diff
    if [[ -x $diff_tool ]]; then
      for rec in "${RECORDS[@]:1}"; do
        out=$(dirname "$rec")/diff-vs-first.txt
        "$diff_tool" "${RECORDS[0]}" "$rec" --html="${out%.txt}.html" >"$out" 2>&1 || true
        echo
        echo "tcpsem_diff $(basename "$(dirname "${RECORDS[0]}")") -> $(basename "$(dirname "$rec")"): $(grep -m1 -E 'common cells changed|witnesses identical' "$out" || tail -n1 "$out") ($out)"
      done
    fi
  elif ((RECORD)); then
    echo "Fewer than two kernels produced a record (${#RECORDS[@]}); no comparison."
  fi
  echo
  echo "Per-kernel files (console.log, suite.log, results.json, journal.jsonl, record.json, summary.json): $RUN/<n>-<kernel>/"
} >>"$REPORT"
cat "$REPORT"
exit "$status"

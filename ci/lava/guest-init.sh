#!/bin/sh
# PID 1 of the LAVA guest (ci/lava/build-rootfs.sh installs it as
# /sbin/tcpsem-lava-init; the job boots with rdinit=/sbin/tcpsem-lava-init).
# The rootfs is the initramfs, so there is no root to switch to: mount what
# the suite needs, load the modules it uses, and give LAVA a root shell on
# the serial console (prompt "root@tcpsem:"). When LAVA is done it stops QEMU;
# if the shell exits first, the guest powers off.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=vt100
umask 022
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null ||
  echo "tcpsem-lava-init: no tracefs (the reset-reason witness will skip)"
hostname tcpsem
# Packet sockets (the wire witness), IPv6, sock_diag for TCP, TUN (the
# scripted peer). Built in or modular depending on the kernel.
for module in af_packet ipv6 inet_diag tcp_diag tun; do
  modprobe -q "$module" 2>/dev/null ||
    [ -d "/sys/module/$module" ] ||
    echo "tcpsem-lava-init: module $module: not loaded"
done
ip link set lo up
echo "tcpsem-lava-init: kernel $(uname -r) ready"
setsid -c /bin/bash -l </dev/ttyS0 >/dev/ttyS0 2>&1
echo o >/proc/sysrq-trigger

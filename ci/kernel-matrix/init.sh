#!/bin/sh
# /init of the kernel-matrix guest (busybox ash, PID 1). Built into the
# initramfs by ci/kernel-matrix.sh; not meant to run on a host.
#
# Mounts proc/sys/devtmpfs/tracefs, loads the modules listed in
# /etc/tcpsem/modules (already in dependency order, uncompressed), brings lo up,
# checks the features the suite cannot work without, runs the suite, and sends
# every result over the second serial port (/dev/ttyS1). The kernel console is
# on ttyS0 only, so printk noise never lands in the result stream. Each file is
# gzip-compressed, base64-encoded and framed (size and SHA-256 are those of the
# original file):
#   TCPSEM-FRAME-BEGIN <name> <bytes> <sha256> gzip
#   <base64 lines>
#   TCPSEM-FRAME-END <name>
# and the stream ends with TCPSEM-DONE. Then poweroff -f.

export PATH=/bin:/sbin
umask 022

/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /tmp /run
mount -t tmpfs -o mode=1777 tmpfs /tmp
# The run's own files live where only root can write, never in /tmp.
WORK=/run/tcpsem-guest
mkdir -p -m 0700 "$WORK"

# Everything from here is also logged on the console (ttyS0).
exec </dev/null >/dev/ttyS0 2>&1

BOOT_UPTIME=$(cut -d' ' -f1 /proc/uptime)
echo "tcpsem-init: reached /init at uptime ${BOOT_UPTIME}s, kernel $(uname -r)"

RESULTS=/dev/ttyS1
META=$WORK/meta.txt
: > "$META"
meta() { echo "$1=$2" >> "$META"; }

send_file() {  # send_file NAME PATH
  [ -f "$2" ] || return 0
  size=$(wc -c < "$2")
  sum=$(sha256sum "$2" | cut -d' ' -f1)
  {
    echo "TCPSEM-FRAME-BEGIN $1 $size $sum gzip"
    gzip -c "$2" | base64
    echo "TCPSEM-FRAME-END $1"
  } > "$RESULTS"
}

finish() {  # send everything there is, then power off
  meta end_uptime "$(cut -d' ' -f1 /proc/uptime)"
  stty -F "$RESULTS" raw -echo 2>/dev/null
  send_file meta.txt "$META"
  send_file suite.log $WORK/suite.log
  send_file gtest.json $WORK/gtest.json
  send_file record.json $WORK/record.json
  # The watchdog's files (tools/tcpsem_run): every test's result, the
  # journal of what finished, and the list of what was to run.
  # A sharded run killed before it merged its shards' journals: merge here.
  if [ ! -f $WORK/run/journal.jsonl ] && [ -f $WORK/run/shard-0/journal.jsonl ]; then
    cat $WORK/run/shard-*/journal.jsonl > $WORK/run/journal.jsonl
  fi
  send_file results.json $WORK/run/results.json
  send_file journal.jsonl $WORK/run/journal.jsonl
  send_file tests.txt $WORK/run/tests.txt
  send_file modules.log $WORK/modules.log
  # Closing the tty waits until its output has drained.
  echo "TCPSEM-DONE" > "$RESULTS"
  sleep 0.3
  echo "tcpsem-init: powering off"
  poweroff -f
  sleep 30
}

meta kernel_release "$(uname -r)"
meta kernel_version "$(uname -v)"
meta boot_uptime "$BOOT_UPTIME"
meta nproc "$(nproc)"

# tracefs: optional for the suite (the reset-reason witness needs it).
mkdir -p /sys/kernel/tracing
if mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null ||
   [ -e /sys/kernel/tracing/events ]; then
  meta tracefs yes
  fmt=/sys/kernel/tracing/events/tcp/tcp_send_reset/format
  if [ -f "$fmt" ]; then
    meta tcp_send_reset yes
    if grep -q 'field:.* reason;' "$fmt"; then meta tcp_send_reset_reason yes
    else meta tcp_send_reset_reason no; fi
  else
    meta tcp_send_reset no
  fi
else
  meta tracefs no
fi

# Modules, in the order the host's modprobe --show-depends gave.
: > $WORK/modules.log
loaded=""
if [ -f /etc/tcpsem/modules ]; then
  while read -r kind arg; do
    case "$kind" in
      builtin) echo "builtin $arg" >> $WORK/modules.log ;;
      insmod)
        if insmod "/lib/modules/$arg" >> $WORK/modules.log 2>&1; then
          echo "insmod $arg ok" >> $WORK/modules.log
          loaded="$loaded $(basename "$arg" .ko)"
        else
          echo "insmod $arg FAILED" >> $WORK/modules.log
        fi ;;
    esac
  done < /etc/tcpsem/modules
fi
meta modules_loaded "${loaded# }"
cat $WORK/modules.log

ip link set lo up 2>/dev/null || ifconfig lo up 2>/dev/null

# Features the suite cannot run without: a kernel lacking one is "not run".
missing=""
unshare -n true 2>/dev/null || missing="$missing network-namespaces"
[ -e /proc/net/packet ] || missing="$missing packet-sockets"
[ -e /proc/net/tcp ] || missing="$missing ipv4-tcp"
[ -e /proc/net/if_inet6 ] || meta ipv6 no
if [ -n "$missing" ]; then
  meta status "missing-feature"
  meta missing "${missing# }"
  echo "tcpsem-init: kernel lacks:$missing; suite not run"
  finish
fi

# The suite's command line, one argument per line.
set --
while IFS= read -r a; do set -- "$@" "$a"; done < /etc/tcpsem/args
SUITE_TIMEOUT=$(cat /etc/tcpsem/suite_timeout 2>/dev/null || echo 0)
meta suite_timeout "$SUITE_TIMEOUT"

meta suite_start_uptime "$(cut -d' ' -f1 /proc/uptime)"
echo "tcpsem-init: running /opt/tcpsem/suite $*"
cd "$WORK" || exit 1
export TCPSEM_PROFILE_DIR=/opt/tcpsem/profiles
# The suite runs under its watchdog (tools/tcpsem_run): a test past its
# bound is killed and recorded as hung, and the run goes on with the next;
# the watchdog's own deadline ends the run in time to send what finished.
# The outer timeout is a last resort should the watchdog itself be stuck.
TEST_TIMEOUT=$(cat /etc/tcpsem/test_timeout 2>/dev/null || echo 60)
if [ -x /opt/tcpsem/run ]; then
  deadline=""
  # 10 s before the suite's bound: time to write results.json and the record.
  [ "$SUITE_TIMEOUT" -gt 20 ] && deadline="--tcpsem_run_deadline=$((SUITE_TIMEOUT - 10))"
  # Shards of the suite at once (fixtures/gtest/sharded_run.h).
  SUITE_JOBS=$(cat /etc/tcpsem/suite_jobs 2>/dev/null || echo 1)
  meta suite_jobs "$SUITE_JOBS"
  set -- /opt/tcpsem/run --tcpsem_run_dir=$WORK/run \
    "--tcpsem_run_test_timeout=$TEST_TIMEOUT" ${deadline:+"$deadline"} \
    "--tcpsem_run_jobs=$SUITE_JOBS" /opt/tcpsem/suite "$@"
else
  set -- /opt/tcpsem/suite "$@"
fi
if [ "$SUITE_TIMEOUT" -gt 0 ]; then
  set -- timeout -s KILL "$SUITE_TIMEOUT" "$@"
fi
: > $WORK/suite.log
( "$@" > $WORK/suite.log 2>&1; echo $? > $WORK/suite.rc ) &
spid=$!
# Mirror the suite's output on the console so a hang shows where it stopped.
tail -f $WORK/suite.log &
tpid=$!
wait $spid
sleep 0.2
kill $tpid 2>/dev/null
rc=$(cat $WORK/suite.rc 2>/dev/null || echo 255)
meta suite_end_uptime "$(cut -d' ' -f1 /proc/uptime)"
meta suite_rc "$rc"
# timeout -s KILL: 137 from the shell.
if [ "$SUITE_TIMEOUT" -gt 0 ] && [ "$rc" = 137 ]; then meta status suite-timeout
else meta status ran; fi
finish

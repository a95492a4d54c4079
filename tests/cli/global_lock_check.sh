#!/usr/bin/env bash
# The global-knob run refuses to start while another run holds the global
# lock (fixtures/config/sysctl/global_lock.h): with a stand-in run holding it
# shared (flock -s, released when this script says so), a run with the
# max-orphans-zero profile must print one line and exit 77 (skipped), and the
# host's net.ipv4.tcp_max_orphans must not change. Then, the lock free, the
# same run may take it. Uses a scratch lock directory (TCPSEM_RESTORE_DIR),
# so real runs on the host are not involved.
#
#   global_lock_check.sh SUITE SCRATCH
set -euo pipefail
suite=$1 scratch=$2
rm -rf "$scratch"
mkdir -p -m 0700 "$scratch/run"
export TCPSEM_RESTORE_DIR="$scratch/run"
lock="$scratch/run/global.lock"
install -m 0600 /dev/null "$lock"
mkfifo "$scratch/release" "$scratch/held"
before=$(cat /proc/sys/net/ipv4/tcp_max_orphans)
# The other run: holds the lock shared until we write to the FIFO.
flock -s "$lock" -c "echo held >'$scratch/held'; read -r _ <'$scratch/release'" &
holder=$!
trap 'echo >"$scratch/release" 2>/dev/null || true; wait $holder 2>/dev/null || true' EXIT
held=""
read -r -t 10 held <>"$scratch/held" || true
[ "$held" = held ] || { echo "FAIL: the stand-in run did not take the lock within 10 s"; exit 1; }
status=0
TCPSEM_ALLOW_GLOBAL_SYSCTLS=1 timeout 60 "$suite" --tcpsem_profile=max-orphans-zero \
  --gtest_filter='Rfc2525/*/V4_Unread0_LingerOff_NoShutdown_PeerOpen' \
  >"$scratch/out" 2>&1 || status=$?
after=$(cat /proc/sys/net/ipv4/tcp_max_orphans)
[ "$status" -eq 77 ] || { echo "FAIL: exit status $status, expected 77 (skipped)"; cat "$scratch/out"; exit 1; }
[ "$(wc -l <"$scratch/out")" -eq 1 ] || { echo "FAIL: expected one line:"; cat "$scratch/out"; exit 1; }
grep -q "^tcpsem: skipped: profile 'max-orphans-zero' changes global sysctls: another tcpsem run on this host holds the global lock" "$scratch/out" ||
  { echo "FAIL: unexpected message: $(cat "$scratch/out")"; exit 1; }
[ "$before" = "$after" ] || { echo "FAIL: tcp_max_orphans changed: $before -> $after"; exit 1; }
echo "ok: $(cat "$scratch/out")"
# Released: the lock can be taken alone (flock -x -n stands in for the run).
echo >"$scratch/release"; wait $holder; trap - EXIT
flock -x -n "$lock" true || { echo "FAIL: the lock is still held after the other run ended"; exit 1; }
echo "ok: free once the other run ended"

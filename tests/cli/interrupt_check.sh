#!/usr/bin/env bash
# SIGINT or SIGTERM to a run mid-way (tcpsem_run, as `tcpsem` runs the suite):
# the runner passes it on to the suite, which removes its trace instances
# and, with TCPSEM_ALLOW_GLOBAL_SYSCTLS=1 (the max-orphans-zero profile is
# then used), puts back the host's global sysctl and removes its restore
# record, and ends; the runner says so in one line and exits 128+signal.
# Checked: the exit status and the line, the host's net.ipv4.tcp_max_orphans
# as before, no restore record left in the record directory (a scratch one:
# TCPSEM_RESTORE_DIR), no trace instance of the suite process left in
# tracefs, no suite process left.
#
#   interrupt_check.sh RUNNER SUITE SCRATCH INT|TERM
set -euo pipefail
runner=$1 suite=$2 scratch=$3 sig=$4
rm -rf "$scratch"
mkdir -p -m 0700 "$scratch/records"
export TCPSEM_RESTORE_DIR="$scratch/records"
profile=default
[ "${TCPSEM_ALLOW_GLOBAL_SYSCTLS:-}" = 1 ] && profile=max-orphans-zero
before=$(cat /proc/sys/net/ipv4/tcp_max_orphans)
fail() { echo "FAIL: $*"; tail -n 20 "$scratch/out" 2>/dev/null; exit 1; }
mkfifo "$scratch/progress"
"$runner" "$suite" --tcpsem_run_dir="$scratch/run" --tcpsem_profile="$profile" \
  --tcpsem_artifacts="$scratch/artifacts" --gtest_filter='Rfc2525/*' \
  >"$scratch/progress" 2>&1 &
run=$!
# Until the second test starts: the profile is applied, a test is mid-run.
started=0
exec 3<"$scratch/progress"
while IFS= read -r -t 60 line <&3; do
  printf '%s\n' "$line" >>"$scratch/out"
  case "$line" in *"[ RUN      ]"*) started=$((started + 1)) ;; esac
  [ "$started" -ge 2 ] && break
done
[ "$started" -ge 2 ] || { kill -KILL "$run" 2>/dev/null; fail "no test started within 60 s"; }
suite_pid=$(pgrep -P "$run" | head -n 1)
[ -n "$suite_pid" ] || fail "no suite process under the runner"
if [ "$profile" = max-orphans-zero ]; then
  changed=$(cat /proc/sys/net/ipv4/tcp_max_orphans)
  [ "$changed" = 0 ] || fail "the profile did not change tcp_max_orphans ($changed)"
  ls "$scratch/records" | grep -q '^global-restore-' || fail "no restore record while the host was changed"
fi
kill -"$sig" "$run"
cat <&3 >>"$scratch/out" &   # the rest of the output, until the runner ends
drain=$!
status=0
# tail looks at the pid every -s seconds (1 s by default: most of the test).
timeout 60 tail -s 0.02 --pid="$run" -f /dev/null || fail "the runner did not end within 60 s of SIG$sig"
wait "$run" || status=$?
wait "$drain" || true
expected=$((128 + $(kill -l "$sig")))
[ "$status" -eq "$expected" ] || fail "exit status $status, expected $expected"
grep -q "^tcpsem_run: interrupted by SIG$sig: [0-9]* of [0-9]* tests not run" "$scratch/out" ||
  fail "no 'interrupted by SIG$sig' line"
[ "$(cat /proc/sys/net/ipv4/tcp_max_orphans)" = "$before" ] ||
  fail "tcp_max_orphans is $(cat /proc/sys/net/ipv4/tcp_max_orphans), was $before"
left=$(ls -A "$scratch/records" | grep -vx global.lock || true)  # the lock file stays
[ -z "$left" ] || fail "left in the record directory: $left"
! kill -0 "$suite_pid" 2>/dev/null || fail "the suite process $suite_pid is still running"
for tracing in /sys/kernel/tracing /sys/kernel/debug/tracing; do
  [ -d "$tracing/instances" ] || continue
  leaked=$(ls "$tracing/instances" | grep -E "^tcpsem-($suite_pid|session-[0-9]+-$suite_pid)-" || true)
  [ -z "$leaked" ] || fail "trace instances left: $leaked"
done
echo "ok ($profile profile): $(grep '^tcpsem_run: interrupted' "$scratch/out")"

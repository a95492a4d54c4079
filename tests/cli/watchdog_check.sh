#!/bin/sh
# Checks tools/tcpsem_run against a stand-in suite whose tests pass, fail,
# skip, hang and crash: the hung test is killed at its bound and recorded as
# hung with where its threads were, the crashed one as crashed, and the run
# goes on with the tests after each; the exit status says the run failed.
# The process re-executed past the hang starts slower than the per-test
# bound (TCPSEM_FAKE_SLOW_RESTART): its start-up is not the hung test's.
# The bound is short (the hang costs it, the slow restart twice it); the
# restart exceeds it by more than the watchdog's 250 ms poll, so a watchdog
# that timed start-up against the bound would kill it.
# With JOBS above 1, the run is sharded (--tcpsem_run_jobs): the same results.
#   watchdog_check.sh RUN SUITE SCRATCH [JOBS]
set -eu
run="$1"; suite="$2"; scratch="$3"; jobs="${4:-1}"
bound=0.5 restart_ms=1000
mkdir -p "$scratch"
dir=$(mktemp -d "$scratch/watchdog.XXXXXX"); trap 'rm -rf "$dir"' EXIT
rc=0
TCPSEM_FAKE_MISBEHAVE=1 TCPSEM_FAKE_SLOW_RESTART="$dir/hung-once" \
  TCPSEM_FAKE_SLOW_RESTART_MS=$restart_ms "$run" --tcpsem_run_dir="$dir/run" \
  --tcpsem_run_jobs="$jobs" \
  --tcpsem_run_test_timeout=$bound "$suite" --tcpsem_tap="$dir/t.tap" \
  >"$dir/out" 2>&1 || rc=$?
cat "$dir/out"
fail() { echo "watchdog_check: $*" >&2; exit 1; }
[ "$rc" -eq 1 ] || fail "exit status $rc, expected 1"
r="$dir/run/results.json"
# Every test's result, read once (Debian's python3 first: a pyenv shim takes
# a fifth of a second to start).
py=$(command -v /usr/bin/python3 || command -v python3)
results=$("$py" -c 'import json,sys
for t in json.load(open(sys.argv[1]))["tests"]: print(t["name"], t["result"])' "$r")
result() {  # result NAME -> its result in results.json
  printf '%s\n' "$results" | awk -v name="$1" '$1 == name { print $2 }'
}
[ "$(result Fake.Passes)" = passed ] || fail "Fake.Passes: $(result Fake.Passes)"
[ "$(result Fake.Fails)" = failed ] || fail "Fake.Fails: $(result Fake.Fails)"
[ "$(result Fake.Skips)" = skipped ] || fail "Fake.Skips: $(result Fake.Skips)"
[ "$(result Fake.Hangs)" = hung ] || fail "Fake.Hangs: $(result Fake.Hangs)"
[ "$(result Fake.PassesAfterTheHang)" = passed ] || fail "after the hang: $(result Fake.PassesAfterTheHang)"
[ "$(result Fake.Crashes)" = crashed ] || fail "Fake.Crashes: $(result Fake.Crashes)"
[ "$(result Fake.PassesAfterTheCrash)" = passed ] || fail "after the crash: $(result Fake.PassesAfterTheCrash)"
[ "$(grep -c 'HUNG Fake.Hangs' "$dir/out")" -eq 1 ] ||
  fail "not exactly one HUNG line for Fake.Hangs"
grep -q 'in pause' "$dir/run/results.json" || grep -q 'wchan' "$dir/run/results.json" ||
  fail "the hung test's reason does not say where its thread was"
grep -q '^not ok [0-9]* Fake.Hangs$' "$dir/t.tap" || fail "TAP lacks the hung test"
grep -q '^1\.\.7$' "$dir/t.tap" || fail "TAP plan is not 1..7"
if [ "$jobs" -gt 1 ]; then
  [ -f "$dir/run/shard-1/journal.jsonl" ] || fail "no second shard's journal"
  [ "$(grep -c '"event":"start"' "$dir/run/journal.jsonl")" -eq 7 ] ||
    fail "the run's journal does not hold every shard's 7 test starts"
fi
echo "watchdog_check: ok (jobs $jobs)"

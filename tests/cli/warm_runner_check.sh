#!/usr/bin/env bash
# The warm runner and ctest's launcher (fixtures/gtest/warm_server.h,
# tools/tcpsem_warm.cc), as a user meets them:
#   1. a test handed to a runner runs in a child of it, and passes;
#   2. the launcher exits as the test did (bad input: exit 2, the line);
#   3. a runner refuses a binary it was not started from (a rebuilt one), and
#      the launcher runs that binary itself;
#   4. with the runner stopped, the launcher runs the binary itself;
#   5. a runner refuses to serve from a directory others may enter.
#
#   warm_runner_check.sh SUITE LAUNCHER SCRATCH
set -euo pipefail
suite=$1 launcher=$2 scratch=$3
rm -rf "$scratch"
mkdir -p -m 0700 "$scratch"
socket="$scratch/check.sock"
fail() { echo "FAIL: $*"; [ -f "$scratch/out" ] && cat "$scratch/out"; exit 1; }
export TCPSEM_ARTIFACTS="$scratch/artifacts"
unset TCPSEM_WARM  # this checks the runner itself, whatever the caller's mode
cell='Rfc2525/CloseMatrixTest.AgreesWithRuleTable/V4_Unread1_LingerOff_NoShutdown_PeerOpen'

"$suite" --tcpsem_warm_serve="$socket" >"$scratch/out" 2>&1 || fail "the runner did not start"
grep -q "serving $socket" "$scratch/out" || fail "the runner did not say it serves"
trap '"$suite" --tcpsem_warm_stop="$socket" >/dev/null 2>&1 || true' EXIT
export TCPSEM_WARM_SOCKET="$socket"

# 1. Served: the runner's child says so in its environment.
"$launcher" "$suite" --gtest_filter="$cell:WarmRunner.*" >"$scratch/out" 2>&1 ||
  fail "the served test failed"
grep -q "\[  PASSED  \] 2 tests" "$scratch/out" || fail "expected 2 tests passed"
grep -q "tcpsem_warm:" "$scratch/out" && fail "the launcher fell back"
echo "ok 1: served by the runner"

# 2. The exit status and output of bad input come back through the runner.
status=0
"$launcher" "$suite" --no_such_flag >"$scratch/out" 2>&1 || status=$?
[ "$status" -eq 2 ] || fail "exit status $status, expected 2"
grep -q "unknown command line flag '--no_such_flag'" "$scratch/out" ||
  fail "the suite's one line did not come back"
echo "ok 2: exit status 2 and its line"

# 3. Another file (as a rebuilt binary would be): refused, run in place.
cp "$suite" "$scratch/rebuilt"
"$launcher" "$scratch/rebuilt" --gtest_filter="$cell" >"$scratch/out" 2>&1 ||
  fail "the rebuilt binary's test failed"
grep -q "is not the binary this runner was started from" "$scratch/out" ||
  fail "the runner did not refuse the other binary"
grep -q "\[  PASSED  \] 1 test" "$scratch/out" || fail "the fallback did not run the test"
echo "ok 3: a rebuilt binary is refused and runs in a process of its own"

# 4. Stopped: the launcher runs the binary itself.
"$suite" --tcpsem_warm_stop="$socket" >"$scratch/out" 2>&1 || fail "stop failed"
[ -e "$socket" ] && fail "the socket is still there after stop"
"$launcher" "$suite" --gtest_filter="$cell" >"$scratch/out" 2>&1 || fail "the test failed"
grep -q "no warm runner at $socket" "$scratch/out" || fail "the launcher did not say why"
grep -q "\[  PASSED  \] 1 test" "$scratch/out" || fail "the fallback did not run the test"
echo "ok 4: no runner, the test runs in a process of its own"

# 5. A directory others may enter is refused.
mkdir -m 0755 "$scratch/open"
"$suite" --tcpsem_warm_serve="$scratch/open/x.sock" >"$scratch/out" 2>&1 ||
  fail "a refused runner must not fail the run"
grep -q "not started (.*$scratch/open" "$scratch/out" || fail "expected 'not started' naming the directory"
[ -e "$scratch/open/x.sock" ] && fail "a socket was made in an open directory"
echo "ok 5: $(cat "$scratch/out")"

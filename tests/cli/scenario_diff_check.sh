#!/usr/bin/env bash
# tcpsem_diff on two records holding scenario-suite tests (cells of kind
# "scenario", tests/cli/data/scenario-{old,new}.json): a changed witness, a
# verdict pass -> fail, a test that hung, a test in one record only, and a
# family of witnesses ("reset reason") one kernel cannot observe. Checks the
# exit status, the grouped text, and the HTML report's section per suite
# with the changed test outlined; a record against itself is identical.
#
#   scenario_diff_check.sh TCPSEM_DIFF SCRATCH DATA_DIR
set -euo pipefail
diff_tool=$1 scratch=$2 data=$3
rm -rf "$scratch"
mkdir -p "$scratch"
old="$data/scenario-old.json" new="$data/scenario-new.json"
fail() { echo "FAIL: $*"; echo "--- output:"; cat "$scratch/out.txt"; exit 1; }

status=0
"$diff_tool" "$old" "$new" --html="$scratch/report.html" >"$scratch/out.txt" 2>&1 || status=$?
[ "$status" -eq 1 ] || fail "exit status $status, expected 1 (different)"
for want in \
    "2 of 3 common cells changed" \
    "1 cell: run pass → hung" \
    "1 cell: verdict pass → fail" \
    "1 cell: wire: the FIN's payload (a bare FIN) dropped → accepted" \
    "not observable on kernel 6.1.0-57-cloud-amd64: reset reason in 1 cell (not a change)" \
    "not observable on kernel 6.1.0-57-cloud-amd64: reset reason: from port in 1 cell (not a change)" \
    "1 cell only in new:" \
    "    LingerWait/LingerWaitTest.ReturnsOnAck/V4"; do
  grep -qF -- "$want" "$scratch/out.txt" || fail "missing: $want"
done
html="$scratch/report.html"
for want in \
    '<section class="suite" id="suite-PeerFinFullWindow"><h2>PeerFinFullWindow</h2><p>1 test, 1 changed' \
    '<details class="test changed" id="t-PeerFinFullWindow-PeerFinFullWindowTest-BareFinUnderPressure-V4">' \
    '<details class="test changed" id="t-Rfc2525Hang-ZeroWindowHangTest-RstWakesTheSender-V4">' \
    '<details class="test only" id="t-LingerWait-LingerWaitTest-ReturnsOnAck-V4">' \
    '<details class="test" id="t-PeerView-PeerViewTest-PollAfterReset-V4">' \
    '<h4>old: kernel 6.1.192' '<h4>new: kernel 6.12.117' '<pre class="ladder">'; do
  grep -qF -- "$want" "$html" || fail "report.html lacks: $want"
done

status=0
"$diff_tool" "$new" "$new" >"$scratch/out.txt" 2>&1 || status=$?
# The hung test is a change even against itself.
[ "$status" -eq 1 ] || fail "new vs new: exit status $status, expected 1 (a hung test)"
status=0
"$diff_tool" "$old" "$old" >"$scratch/out.txt" 2>&1 || status=$?
[ "$status" -eq 0 ] || fail "old vs old: exit status $status, expected 0"
grep -qF "witnesses identical in all 3 cells" "$scratch/out.txt" || fail "old vs old not identical"
echo "scenario diff: changed, verdict, hung, one-sided and unobservable all as expected"

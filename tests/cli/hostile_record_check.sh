#!/usr/bin/env bash
# Hostile records given to tcpsem_diff: one line on stderr, exit status 2 and
# nothing on stdout (no partial diff passed off as a result), never a crash or
# a hang (each run is bounded by `timeout`). The huge file is made here, in
# the build's scratch directory, and removed after.
#
#   hostile_record_check.sh TCPSEM_DIFF SCRATCH GOOD_RECORD CASE
set -euo pipefail
diff_tool=$1 scratch=$2 good=$3 case=$4
work="$scratch/$case"
rm -rf "$work"
mkdir -p "$work"
record="$work/record.json"
case "$case" in
  truncated)     # a real record cut in the middle
    head -c "$(($(wc -c <"$good") / 2))" "$good" >"$record"
    expect="record.json: not a tcpsem record: malformed JSON: .* at line" ;;
  huge)          # 100 MB: a valid record's opening, 1 MB of cells, then
                 # a sparse hole (the reader stops at its cap, whatever the
                 # bytes; writing 100 MB of cells cost most of the test)
    { sed -n 1p "$good"; yes "$(sed -n 2p "$good")" | head -c 1000000 || true; } >"$record"
    truncate -s 100000000 "$record"
    expect="record.json: larger than 67108864 bytes" ;;
  binary)        # random bytes
    head -c 65536 /dev/urandom >"$record"
    expect="record.json: not a tcpsem record: " ;;
  wrong_schema)  # valid JSON, another schema
    sed 's#"tcpsem-record/1"#"tcpsem-record/99"#' "$good" >"$record"
    expect="record.json: .*tcpsem-record/99" ;;
  fifo)          # would block a reader that opens it blocking
    mkfifo "$record"; expect="record.json: not a regular file" ;;
  device)        # endless
    record=/dev/zero; expect="/dev/zero: not a regular file" ;;
  *) echo "unknown case $case"; exit 2 ;;
esac
status=0
timeout 60 "$diff_tool" "$good" "$record" >"$work/stdout" 2>"$work/stderr" || status=$?
err=$(cat "$work/stderr")
if [ "$status" -ne 2 ]; then
  echo "FAIL: exit status $status, expected 2 (124: it hung); stderr: ${err:0:300}"; exit 1
fi
if [ "$(wc -l <"$work/stderr")" -ne 1 ] || ! grep -Eq -- "$expect" "$work/stderr"; then
  echo "FAIL: expected one line matching /$expect/, got $(wc -l <"$work/stderr") line(s): ${err:0:300}"; exit 1
fi
if [ -s "$work/stdout" ]; then
  echo "FAIL: $(wc -c <"$work/stdout") bytes on stdout besides the error"; exit 1
fi
echo "ok: ${err:0:200}"
rm -rf "$work"

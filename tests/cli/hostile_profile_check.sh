#!/usr/bin/env bash
# Hostile profile files given as --tcpsem_profile: the suite must answer with
# one line on stderr and exit status 2 before any test runs, never crash or
# hang (each run is bounded by `timeout`).
#
#   hostile_profile_check.sh SUITE SCRATCH CASE
set -euo pipefail
suite=$1 scratch=$2 case=$3
work="$scratch/$case"
rm -rf "$work"
mkdir -p "$work"
profile="$work/profile.conf"
case "$case" in
  huge_line)   # one 1 MB line with no '='
    head -c 1000000 /dev/zero | tr '\0' 'k' >"$profile"; expect="not an assignment.*\(1000000 bytes\)" ;;
  huge_value)  # a key whose value is 1 MB
    { printf 'net.ipv4.tcp_ecn = '; head -c 1000000 /dev/zero | tr '\0' '1'; echo; } >"$profile"
    expect="value of net.ipv4.tcp_ecn longer than 4096 bytes" ;;
  too_large)   # more than 1 MiB of comments
    for _ in $(seq 20); do head -c 60000 /dev/zero | tr '\0' '#'; echo; done >"$profile"
    expect="larger than 1048576 bytes" ;;
  nul_bytes)
    printf 'net.ipv4.tcp_ecn = 1\0evil\nnet.ipv4\0.tcp_ecn = 1\n' >"$profile"
    expect="profile.conf:1: control character in the value of net.ipv4.tcp_ecn: 1\\\\x00.*; .*profile.conf:2: malformed key" ;;
  many_errors)
    seq 100000 >"$profile"; expect="profile.conf:10: not an assignment.*; \.\.\. and 99990 more" ;;
  directory)
    profile="$work"; expect="$case: not a regular file" ;;
  fifo)
    mkfifo "$profile"; expect="profile.conf: not a regular file" ;;
  proc_file)
    profile=/proc/self/status; expect="/proc/self/status:1: not an assignment" ;;
  *) echo "unknown case $case"; exit 2 ;;
esac
status=0
timeout 30 "$suite" --tcpsem_profile="$profile" --gtest_filter=NoTest.None \
  >"$work/stdout" 2>"$work/stderr" || status=$?
err=$(cat "$work/stderr")
if [ "$status" -ne 2 ]; then
  echo "FAIL: exit status $status, expected 2 (124: it hung); stderr: ${err:0:300}"; exit 1
fi
if [ "$(wc -l <"$work/stderr")" -ne 1 ] || ! grep -Eq -- "$expect" "$work/stderr"; then
  echo "FAIL: expected one line matching /$expect/, got $(wc -l <"$work/stderr") line(s), $(wc -c <"$work/stderr") bytes: ${err:0:300}"; exit 1
fi
echo "ok: ${err:0:200}"
rm -rf "$work"

#!/usr/bin/env bash
# Two independent ctest runs of the whole suite at once on one host (two
# build trees) must give the same results as each run alone: they share
# tracefs (the reset-reason sessions), the orphan count, the global sysctls
# and /run/tcpsem. This script proves it:
#   1. baselines, each run alone: tree A (default profile), tree B (default
#      profile), tree B (profile $OTHER_PROFILE);
#   2. N repeats of A and B started together, alternating: B under the same
#      profile as A, then under $OTHER_PROFILE;
#   3. every test's result (ctest's JUnit: passed/failed/skipped) in every
#      concurrent run is compared with its baseline; any difference is
#      printed and counted.
#
#   ci/concurrent-check.sh [--repeats N] [--second-build DIR] [--profile NAME]
#
# Defaults: 10 repeats, DIR = build-twin (configured and built here if
# missing), NAME = ecn. Tree A is ${TCPSEM_BUILD_DIR:-build}. Heavy: runs
# under nice 10; ctest -j2 per run. Output: <A>/concurrent/. Exit 0 when
# there were no differences.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
a=$(readlink -f "${TCPSEM_BUILD_DIR:-build}")
b=$repo/build-twin
repeats=10
other=ecn
while (($#)); do
  case $1 in
    --repeats) repeats=${2:?}; shift 2 ;;
    --second-build) b=$(readlink -f "${2:?}"); shift 2 ;;
    --profile) other=${2:?}; shift 2 ;;
    *) echo "concurrent-check: unknown argument $1" >&2; exit 64 ;;
  esac
done
log() { printf 'concurrent-check: %s\n' "$*" >&2; }
[ -f "$a/CTestTestfile.cmake" ] || { log "no build in $a (ci/build.sh)"; exit 1; }
if [ ! -f "$b/CTestTestfile.cmake" ]; then
  log "configuring and building the second tree $b"
  cmake -S "$repo" -B "$b" -DCMAKE_BUILD_TYPE="$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$a/CMakeCache.txt")" >/dev/null
fi
nice -n 10 cmake --build "$b" -j2 >/dev/null
out=$a/concurrent
rm -rf "$out"
mkdir -p "$out"

# run NAME TREE PROFILE: one full ctest run; NAME.xml (JUnit), NAME.log.
run() {
  TCPSEM_PROFILE=$3 nice -n 10 ctest --test-dir "$2" -j2 --timeout 300 \
    --output-junit "$out/$1.xml" >"$out/$1.log" 2>&1 || true
}
# results NAME: "test<TAB>passed|failed|skipped", sorted.
results() {
  /usr/bin/python3 - "$out/$1.xml" <<'EOF'
import sys, xml.etree.ElementTree as ET
for case in ET.parse(sys.argv[1]).getroot().iter("testcase"):
    if case.find("failure") is not None or case.get("status") == "fail":
        result = "failed"
    elif case.find("skipped") is not None or case.get("status") in ("notrun", "disabled"):
        result = "skipped"
    else:
        result = "passed"
    print(f"{case.get('name')}\t{result}")
EOF
}
summary() { cut -f2 | sort | uniq -c | tr -s ' \n' ' '; }

start=$(date +%s)
run alone-a "$a" default
run alone-b "$b" default
run alone-b-other "$b" "$other"
for n in alone-a alone-b alone-b-other; do
  results "$n" | sort >"$out/$n.tsv"
  log "$n: $(wc -l <"$out/$n.tsv") tests: $(summary <"$out/$n.tsv")"
done
differences=0
for ((i = 1; i <= repeats; i++)); do
  if ((i % 2)); then profile_b=default base_b=alone-b; else profile_b=$other base_b=alone-b-other; fi
  t0=$(date +%s)
  run "pair$i-a" "$a" default &
  pa=$!
  run "pair$i-b" "$b" "$profile_b" &
  pb=$!
  wait "$pa" "$pb"
  d=0
  for side in a b; do
    base=alone-a
    [ "$side" = b ] && base=$base_b
    results "pair$i-$side" | sort >"$out/pair$i-$side.tsv"
    if ! diff "$out/$base.tsv" "$out/pair$i-$side.tsv" >"$out/pair$i-$side.diff"; then
      d=$((d + $(grep -c '^>' "$out/pair$i-$side.diff")))
      sed 's/^/    /' "$out/pair$i-$side.diff" >&2
    fi
  done
  differences=$((differences + d))
  log "repeat $i/$repeats (B: $profile_b): $(($(date +%s) - t0)) s, $d difference(s)"
done
log "$repeats repeats of two concurrent full runs: $differences difference(s) in $(($(date +%s) - start)) s"
[ "$differences" -eq 0 ]

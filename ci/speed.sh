#!/bin/bash
# Measures what README's "Speed" section reports, on an already built tree:
#   1. build/bench/tcpsem_bench (scenario and witness costs as ratios to the
#      floor cell of the same run);
#   2. one matrix cell in a process of its own, REPEATS times: median wall,
#      CPU (user+sys) and peak RSS;
#   3. the whole ctest run at each -j in JOBS: wall, and whether every run
#      passed the same set of tests.
# Usage: ci/speed.sh [build-dir]   (env: REPEATS=9 JOBS="1 2 4 8" CELL=...)
set -euo pipefail
build=${1:-build}
repeats=${REPEATS:-9}
jobs=${JOBS:-"1 2 4 8"}
cell=${CELL:-"Rfc2525/CloseMatrixTest.AgreesWithRuleTable/V4_Unread1_LingerOff_NoShutdown_PeerOpen"}
scratch=$(mktemp -d "$build/speed.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

median() { sort -g | awk '{v[NR]=$1} END {m=int((NR+1)/2); print (NR%2)? v[m] : (v[m]+v[m+1])/2}'; }

echo "== benchmark"
"$build/bench/tcpsem_bench" --benchmark_min_time=0.2 | sed -n '/^Medians/,$p'

echo "== one cell in its own process ($cell), $repeats runs"
for _ in $(seq "$repeats"); do
  /usr/bin/time -f "%e %U %S %M" -a -o "$scratch/time" \
    "$build/tests/tcpsem_matrix" --gtest_filter="$cell" >"$scratch/out" 2>&1 ||
    { cat "$scratch/out"; exit 1; }
done
grep -q "1 test" "$scratch/out" || { echo "filter matched no single test"; exit 1; }
echo "wall ms   $(awk '{print $1*1000}' "$scratch/time" | median)"
echo "CPU ms    $(awk '{print ($2+$3)*1000}' "$scratch/time" | median)"
echo "peak RSS  $(awk '{print $4}' "$scratch/time" | median) KiB"

echo "== full ctest"
for j in $jobs; do
  start=$(date +%s.%N)
  ctest --test-dir "$build" -j "$j" --output-junit "$scratch/j$j.xml" \
    >"$scratch/ctest-$j" 2>&1 || true
  end=$(date +%s.%N)
  summary=$(grep -E "tests passed|tests failed" "$scratch/ctest-$j" || true)
  grep -E "^ *[0-9]+/[0-9]+ Test +#[0-9]+: " "$scratch/ctest-$j" |
    sed -E 's/^ *[0-9]+\/[0-9]+ Test +#[0-9]+: ([^ ]+) .*(Passed|Failed|Not Run|Skipped|\*\*\*[A-Za-z]+).*/\1 \2/' |
    sort >"$scratch/result-$j"
  printf -- "-j%-3s %6.1f s  %s  results sha1 %s\n" "$j" \
    "$(echo "$end - $start" | bc)" "$summary" \
    "$(sha1sum <"$scratch/result-$j" | cut -c1-12)"
done

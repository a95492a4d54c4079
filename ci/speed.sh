#!/bin/bash
# Measures what README's "Speed" section reports, on an already built tree:
#   1. build/bench/tcpsem_bench (scenario and witness costs as ratios to the
#      floor cell of the same run);
#   2. one matrix cell in a process of its own, REPEATS times: median wall,
#      CPU (user+sys) and peak RSS; then the same cell handed to a warm runner
#      (fixtures/gtest/warm_server.h) by ctest's launcher: median wall, and
#      CPU per cell (the runner's reaped children, from /proc/PID/stat);
#   3. the whole ctest run at each -j in JOBS, each time with the warm runner
#      off (TCPSEM_WARM=off: every test a process of its own) and on, side by
#      side: wall, and whether every run passed the same set of tests.
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

# The cells below attach to a shared trace session, as under ctest (without
# one, each process would create and remove a trace instance of its own:
# about 60 ms of kernel time, more than the cell).
session="tcpsem-speed-$$"
"$build/tools/tcpsem_trace_session" open "$session" >/dev/null
trap '"$build/tools/tcpsem_trace_session" close "$session" >/dev/null; rm -rf "$scratch"' EXIT
export TCPSEM_TRACE_INSTANCE="$session"

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

echo "== the same cell through a warm runner, $repeats runs"
socket="$scratch/warm/speed.sock"
mkdir -m 0700 "$scratch/warm"
"$build/tests/tcpsem_matrix" --tcpsem_warm_serve="$socket" >/dev/null
runner=$(pgrep -n -f -- "--tcpsem_warm_serve=$socket")
# Children's CPU the runner has reaped: fields 16 and 17 of /proc/PID/stat.
reaped_cpu_ticks() { awk '{print $16 + $17}' "/proc/$runner/stat"; }
before=$(reaped_cpu_ticks)
for _ in $(seq "$repeats"); do
  /usr/bin/time -f "%e" -a -o "$scratch/warm-time" env TCPSEM_WARM_SOCKET="$socket" \
    "$build/tools/tcpsem_warm" "$build/tests/tcpsem_matrix" \
    --gtest_filter="$cell" >"$scratch/out" 2>&1 || { cat "$scratch/out"; exit 1; }
done
after=$(reaped_cpu_ticks)
"$build/tests/tcpsem_matrix" --tcpsem_warm_stop="$socket" >/dev/null
echo "wall ms   $(awk '{print $1*1000}' "$scratch/warm-time" | median)"
echo "CPU ms    $(echo "($after - $before) * 1000 / $(getconf CLK_TCK) / $repeats" | bc) (mean)"

unset TCPSEM_TRACE_INSTANCE  # ctest's tests get the run's own session

echo "== full ctest, the warm runner off and on"
for j in $jobs; do
  for warm in off on; do
    start=$(date +%s.%N)
    TCPSEM_WARM=$warm ctest --test-dir "$build" -j "$j" \
      --output-junit "$scratch/j$j-$warm.xml" >"$scratch/ctest-$j" 2>&1 || true
    end=$(date +%s.%N)
    summary=$(grep -E "tests passed|tests failed" "$scratch/ctest-$j" || true)
    grep -E "^ *[0-9]+/[0-9]+ Test +#[0-9]+: " "$scratch/ctest-$j" |
      sed -E 's/^ *[0-9]+\/[0-9]+ Test +#[0-9]+: ([^ ]+) .*(Passed|Failed|Not Run|Skipped|\*\*\*[A-Za-z]+).*/\1 \2/' |
      sort >"$scratch/result-$j-$warm"
    printf -- "-j%-3s warm %-3s %6.1f s  %s  results sha1 %s\n" "$j" "$warm" \
      "$(echo "$end - $start" | bc)" "$summary" \
      "$(sha1sum <"$scratch/result-$j-$warm" | cut -c1-12)"
  done
  # Off and on differ by design in one test: the check that ctest ran a test
  # in a runner's child skips when no runner serves.
  join -a1 -a2 -e - -o 0,1.2,2.2 "$scratch/result-$j-off" "$scratch/result-$j-on" |
    awk -v j="$j" '$2 != $3 {print "      -j" j " off/on differ: " $1 " " $2 " / " $3}'
done

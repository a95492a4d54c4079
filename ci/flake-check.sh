#!/usr/bin/env bash
# Runs the whole ctest suite N times in random order (--schedule-random),
# -j4, while stress-ng loads both CPUs, and reports runs and failures.
# Usage: ci/flake-check.sh [N] [BUILD_DIR] [CTEST_ARGS...]
#   N          iterations (default 50; env FLAKE_RUNS also works)
#   BUILD_DIR  an existing build tree (default ./build)
#   CTEST_ARGS more ctest arguments (e.g. -R CloserUnsentData)
# Env FLAKE_JOBS: ctest -j (default 4; e.g. 32 next to another ctest run).
# Env FLAKE_BESIDE: another build tree (its own, so that the two runs share no
# scratch paths) whose whole ctest runs in a loop, -j FLAKE_JOBS, beside every
# run: `FLAKE_JOBS=32 FLAKE_BESIDE=build-beside ci/flake-check.sh 20`. Its
# runs and failures are reported too, but do not decide the exit status.
# Exit status: 0 when every run passed, 1 otherwise. Per-run logs and the
# failing test names go to BUILD_DIR/flake-check/.
set -uo pipefail
runs="${1:-${FLAKE_RUNS:-50}}"
build="${2:-build}"
shift 2 2>/dev/null || shift $#
jobs="${FLAKE_JOBS:-4}"
if [ ! -f "${build}/CTestTestfile.cmake" ]; then
  echo "flake-check: ${build} is not a build tree (cmake --preset default)" >&2
  exit 2
fi
if ! command -v stress-ng >/dev/null; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "flake-check: stress-ng missing; install it (apt-get) as root" >&2
    exit 2
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq stress-ng >/dev/null
fi
logs="${build}/flake-check"
mkdir -p "${logs}"
: > "${logs}/failed-tests.txt"

stress-ng --cpu 2 --timeout 0 --quiet &
stress_pid=$!
beside="${FLAKE_BESIDE:-}"
beside_pid=""
if [ -n "${beside}" ]; then
  if [ ! -f "${beside}/CTestTestfile.cmake" ]; then
    echo "flake-check: FLAKE_BESIDE=${beside} is not a build tree" >&2
    kill "${stress_pid}"; exit 2
  fi
  if [ "$(cd "${beside}" && pwd)" = "$(cd "${build}" && pwd)" ]; then
    echo "flake-check: FLAKE_BESIDE must be another build tree" >&2
    kill "${stress_pid}"; exit 2
  fi
  ( n=0
    while :; do
      n=$((n + 1))
      if ctest --test-dir "${beside}" -j"${jobs}" --output-on-failure \
          > "${logs}/beside-${n}.log" 2>&1
      then echo "beside ${n}: pass"; else echo "beside ${n}: FAIL"; fi
    done > "${logs}/beside.txt" ) &
  beside_pid=$!
fi
stop_load() {
  kill "${stress_pid}" 2>/dev/null; wait "${stress_pid}" 2>/dev/null
  if [ -n "${beside_pid}" ]; then
    pkill -P "${beside_pid}" 2>/dev/null; kill "${beside_pid}" 2>/dev/null
    wait "${beside_pid}" 2>/dev/null
  fi
}
trap stop_load EXIT
trap 'exit 130' INT TERM  # so the EXIT trap stops stress-ng

failed_runs=0
start=$(date +%s)
for ((i = 1; i <= runs; i++)); do
  log="${logs}/run-${i}.log"
  t0=$(date +%s)
  if ctest --test-dir "${build}" --schedule-random -j"${jobs}" \
      --output-on-failure "$@" > "${log}" 2>&1; then
    result=pass
  else
    result=FAIL
    failed_runs=$((failed_runs + 1))
    # ctest's summary lists failures after "The following tests FAILED:"
    # as "  <n> - <name> (Failed)" (skipped tests come in another list).
    sed -n '/tests FAILED:/,$s/^[[:space:]]*[0-9]\+ - \(.*\) (.*)$/\1/p' \
      "${log}" | sed "s/^/run ${i}: /" >> "${logs}/failed-tests.txt"
  fi
  summary=$(grep -m1 'tests passed' "${log}" || echo '?')
  echo "run ${i}/${runs}: ${result} ($(( $(date +%s) - t0 ))s) ${summary}"
done
echo "flake-check: runs=${runs} failed_runs=${failed_runs}" \
  "elapsed=$(( $(date +%s) - start ))s"
if [ -n "${beside}" ]; then
  echo "beside (${beside}): $(grep -c ': pass' "${logs}/beside.txt" 2>/dev/null || echo 0) passed," \
    "$(grep -c ': FAIL' "${logs}/beside.txt" 2>/dev/null || echo 0) failed full runs"
fi
if [ -s "${logs}/failed-tests.txt" ]; then
  echo "flaky tests (count name):"
  sed 's/^run [0-9]*: //' "${logs}/failed-tests.txt" | sort | uniq -c | sort -rn
fi
[ "${failed_runs}" -eq 0 ]

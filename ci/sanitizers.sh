#!/usr/bin/env bash
# Builds the asan (ASan+UBSan) and tsan presets (CMakePresets.json) and runs
# ctest in each. Usage: ci/sanitizers.sh [asan] [tsan]   (default: both)
# Exit status: 0 when every preset's ctest passed, else 1.
set -uo pipefail
cd "$(dirname "$0")/.."
presets=("$@")
[ ${#presets[@]} -eq 0 ] && presets=(asan tsan)
# TSan needs a non-randomised-enough address space on new kernels (ASLR
# with 32+ mmap_rnd_bits breaks its shadow mapping): run it under
# `setarch -R` when available.
status=0
for p in "${presets[@]}"; do
  echo "=== ${p}: configure + build"
  if ! cmake --preset "${p}" >/dev/null || ! cmake --build --preset "${p}"; then
    echo "=== ${p}: BUILD FAILED"; status=1; continue
  fi
  wrap=()
  if [ "${p}" = tsan ] && command -v setarch >/dev/null; then
    wrap=(setarch "$(uname -m)" -R)
  fi
  echo "=== ${p}: ctest"
  start=$(date +%s)
  if "${wrap[@]}" ctest --preset "${p}" -j2; then
    echo "=== ${p}: PASSED in $(( $(date +%s) - start ))s"
  else
    echo "=== ${p}: FAILED in $(( $(date +%s) - start ))s"; status=1
  fi
done
exit ${status}

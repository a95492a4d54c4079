#!/usr/bin/env bash
# Builds the fuzz targets (tests/fuzz/) as libFuzzer binaries with clang-14
# under ASan+UBSan and runs each for a chosen time, growing its corpus.
#
#   ci/fuzz.sh [SECONDS] [TARGET...]      default: 600 s, every target
#
# Runs one target at a time (nice 10): the machine is shared. A crash stops that target; its input
# is saved as tests/fuzz/<target>/crash-* (keep it there once fixed: the
# ctest replay, label `fuzz`, then guards against its return). New inputs
# go to build-fuzz/corpus/<target>/, not into the tree. Logs:
# build-fuzz/logs/<target>.log; the last line of each is libFuzzer's count
# of executions.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-600}"
shift || true
build="${TCPSEM_FUZZ_BUILD_DIR:-build-fuzz}"
if ! command -v clang++-14 >/dev/null ||
   [ ! -e /usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.fuzzer-x86_64.a ]; then
  apt-get install -y --no-install-recommends clang-14 libclang-rt-14-dev >/dev/null
fi
ci/install-deps.sh >/dev/null
flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
  -DCMAKE_CXX_FLAGS="$flags -fsanitize=fuzzer-no-link" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
  -DTCPSEM_LIBFUZZER=ON >/dev/null
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(sysctl_d profile_spec tracefs_format trace_line record_reader
    segment_parser)
fi
cmake --build "$build" -j"$(nproc)" --target "${targets[@]/#/fuzz_}"
mkdir -p "$build/logs"
run() {  # run TARGET
  local t=$1 corpus="$build/corpus/$1"
  mkdir -p "$corpus"
  # profile_spec opens the files a spec names: run it where a.conf/b.conf are.
  (cd tests/fuzz/profile_spec_cwd &&
    UBSAN_OPTIONS=print_stacktrace=1 nice -n 10 "$OLDPWD/$build/tests/fuzz/fuzz_$t" \
      -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$OLDPWD/tests/fuzz/$t/crash-" -print_final_stats=1 \
      "$OLDPWD/$corpus" "$OLDPWD/tests/fuzz/$t") >"$build/logs/$t.log" 2>&1
}
status=0
for t in "${targets[@]}"; do
  run "$t" || { echo "fuzz: $t: FOUND A CRASH (see $build/logs/$t.log)"; status=1; }
done
for t in "${targets[@]}"; do
  printf '%-16s %s\n' "$t" "$(grep -E 'stat::number_of_executed_units|Done [0-9]+ runs' "$build/logs/$t.log" | tr '\n' ' ')"
done
exit $status

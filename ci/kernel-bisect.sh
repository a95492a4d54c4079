#!/usr/bin/env bash
# Kernel bisect: find the kernel commit that changed what a tcpsem test sees.
# Drives `git bisect run` over a kernel git tree; each step builds the lean
# kernel (ci/kernel-build.sh: tinyconfig + the repo's fragment, incremental)
# and boots it in the kernel matrix's guest (ci/kernel-matrix.sh) on the
# named tests only. See docs/kernel-matrix.md ("Bisecting a difference").
#
# Usage: ci/kernel-bisect.sh --tree DIR --good REV --bad REV --filter PATTERN
#                            [options]
#
#   --tree DIR        a Linux kernel git work tree, clean (bisect checks out
#                     revisions in it; it is left on its original branch)
#   --good REV        a revision on which the tests pass
#   --bad REV         a later revision on which they fail
#   --filter PATTERN  the tcpsem tests (gtest filter), e.g.
#                     'Rfc2525/*V4_Unread1_LingerOff_NoShutdown_PeerOpen*'
#   --binary PATH     the suite (default ${TCPSEM_BUILD_DIR:-<repo>/build}/tests/tcpsem_matrix)
#   --out DIR         builds, guests and the step log (default
#                     ${TCPSEM_BUILD_DIR:-<repo>/build}/kernel-bisect)
#   --build-dir DIR   where ci/kernel-build.sh keeps its work and object
#                     trees (default OUT/build); reusing an earlier build's
#                     --out of the same source makes the first step
#                     incremental too
#   --jobs N          make -j for the builds (default: CPUs)
#   --config FILE     config fragment (repeatable; default the kernel-build one)
#   --timeout SEC     bound on one guest (default 300)
#   --no-endpoints    do not test --good and --bad before bisecting
#
# Each step answers git bisect: 0 good (every test passed), 1 bad (a test
# failed), 125 skip (the kernel did not build, or the guest did not boot,
# panicked, hung or crashed: never "bad"). Before bisecting, the endpoints
# are tested (unless --no-endpoints): a good revision that fails, or a bad
# one that passes, stops the script.
#
# Exit status: 0 the first bad commit was found (printed, with what the tests
# saw on it and on the last good step); 1 bisect ended without one (every
# candidate skipped); 2 bad input (one line on stderr; nothing built or
# booted): a missing argument, a tree that is not a git work tree or has
# local changes, a revision that does not exist, good equal to or not an
# ancestor of bad, a missing suite binary; 3 an endpoint disagrees (good
# fails or bad passes).
#
# For tests, TCPSEM_BISECT_BUILD and TCPSEM_BISECT_BOOT replace the build and
# the boot: commands run in the tree (the build prints the --kernel spec on
# its last stdout line; the boot gets it as $1 and exits 0 pass, 1 fail,
# 3 did not boot).
set -euo pipefail
shopt -s inherit_errexit

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${TCPSEM_BUILD_DIR:-$REPO/build}
SELF=$REPO/ci/kernel-bisect.sh

die() { printf 'kernel-bisect: %s\n' "$1" >&2; exit "${2:-2}"; }
log() { printf 'kernel-bisect: %s\n' "$*" >&2; }
need_arg() { (($# >= 2)) && [[ -n $2 ]] || die "$1 needs an argument"; }

# ------------------------------------------------------------- one step ----
# `git bisect run` calls the script back with --step; the settings come in
# the environment (TCPSEM_BISECT_*), the revision is the tree's HEAD.
step() {
  local tree=$TCPSEM_BISECT_TREE out=$TCPSEM_BISECT_OUT rev short t0 t1 t2 spec rc verdict
  rev=$(git -C "$tree" rev-parse HEAD)
  short=$(git -C "$tree" log -1 --format='%h %s' "$rev")
  local dir=$out/steps/$rev
  rm -rf "$dir"; mkdir -p "$dir"
  t0=$(date +%s)
  rc=0
  if [[ -n ${TCPSEM_BISECT_BUILD:-} ]]; then
    (cd "$tree" && bash -c "$TCPSEM_BISECT_BUILD") >"$dir/build.out" 2>"$dir/build.log" || rc=$?
  else
    local configs=()
    local c
    for c in ${TCPSEM_BISECT_CONFIGS:-}; do configs+=(--config "$c"); done
    # --fresh: git replaced the files it checked out, and the build's work
    # tree links to the old ones; the object tree is kept (incremental).
    "$REPO/ci/kernel-build.sh" --source "$tree" --fresh --name bisect \
      --out "${TCPSEM_BISECT_BUILD_DIR:-$out/build}" --jobs "$TCPSEM_BISECT_JOBS" --no-install "${configs[@]}" \
      >"$dir/build.out" 2>"$dir/build.log" || rc=$?
  fi
  t1=$(date +%s)
  spec=$(tail -n1 "$dir/build.out" 2>/dev/null || true)
  if ((rc != 0)) || [[ -z $spec ]]; then
    printf '%s\tskip\tbuild-failed(exit-%s)\t%s\t-\t%s\n' "$rev" "$rc" "$((t1 - t0))" "$short" >>"$out/steps.tsv"
    log "step $short: build failed (exit $rc; $dir/build.log): skip"
    exit 125
  fi
  rc=0
  if [[ -n ${TCPSEM_BISECT_BOOT:-} ]]; then
    (cd "$tree" && bash -c "$TCPSEM_BISECT_BOOT" boot "$spec") >"$dir/boot.out" 2>&1 || rc=$?
    case $rc in 0) verdict=passed ;; 1) verdict=failed ;; *) verdict=crashed ;; esac
    cp "$dir/boot.out" "$dir/observed.txt"
  else
    "$REPO/ci/kernel-matrix.sh" --kernel "$spec" --binary "$TCPSEM_BISECT_BINARY" \
      --filter "$TCPSEM_BISECT_FILTER" --jobs 1 --timeout "$TCPSEM_BISECT_TIMEOUT" \
      --out "$dir/matrix" --no-install >"$dir/boot.out" 2>&1 || rc=$?
    local run
    run=$(readlink -f "$dir/matrix/latest" 2>/dev/null || true)
    verdict=$(cat "$run"/*/verdict 2>/dev/null | head -n1 || true)
    verdict=${verdict:-crashed}
    # What the tests saw: gtest's failure lines and the results, from the
    # guest's suite output.
    grep -hE '^\[  (PASSED|FAILED|SKIPPED) |^\[  FAILED  \]|Failure|Expected|Which is|  Actual|rule \[|^tcpsem: kernel' \
      "$run"/*/suite.log 2>/dev/null | head -n 40 >"$dir/observed.txt" || true
  fi
  t2=$(date +%s)
  local answer
  case $verdict in
    passed) answer=0 ;;
    failed) answer=1 ;;
    *) answer=125 ;;  # did not boot, panicked, hung, crashed, not run
  esac
  local word; word=$([[ $answer == 0 ]] && echo good || { [[ $answer == 1 ]] && echo bad || echo skip; })
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$rev" "$word" "$verdict" "$((t1 - t0))" "$((t2 - t1))" "$short" >>"$out/steps.tsv"
  log "step $short: build $((t1 - t0)) s, guest $((t2 - t1)) s: $verdict -> $word"
  exit "$answer"
}

if [[ ${1:-} == --step ]]; then step; fi

# ------------------------------------------------------------ arguments ----
TREE="" GOOD="" BAD="" FILTER="" ENDPOINTS=1 BUILD_OUT=""
BINARY=$BUILD_DIR/tests/tcpsem_matrix
OUT=$BUILD_DIR/kernel-bisect
JOBS=$(nproc)
TIMEOUT=300
CONFIGS=()
(($#)) || die "usage: ci/kernel-bisect.sh --tree DIR --good REV --bad REV --filter PATTERN (see --help)"
while (($#)); do
  case $1 in
    --tree) need_arg "$@"; TREE=$2; shift 2 ;;
    --good) need_arg "$@"; GOOD=$2; shift 2 ;;
    --bad) need_arg "$@"; BAD=$2; shift 2 ;;
    --filter) need_arg "$@"; FILTER=$2; shift 2 ;;
    --binary) need_arg "$@"; BINARY=$2; shift 2 ;;
    --out) need_arg "$@"; OUT=$2; shift 2 ;;
    --jobs) need_arg "$@"; JOBS=$2; shift 2 ;;
    --build-dir) need_arg "$@"; BUILD_OUT=$2; shift 2 ;;
    --config) need_arg "$@"; CONFIGS+=("$(readlink -f "$2")"); shift 2 ;;
    --timeout) need_arg "$@"; TIMEOUT=$2; shift 2 ;;
    --no-endpoints) ENDPOINTS=0; shift ;;
    -h|--help) sed -n '/^# Kernel bisect:/,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
[[ -n $TREE ]] || die "--tree is required"
[[ -n $GOOD ]] || die "--good is required"
[[ -n $BAD ]] || die "--bad is required"
[[ -n $FILTER ]] || die "--filter is required (the tests to run at each step)"
[[ $JOBS =~ ^[1-9][0-9]*$ ]] || die "--jobs must be a positive integer"
[[ $TIMEOUT =~ ^[0-9]+$ && $TIMEOUT -ge 30 ]] || die "--timeout must be >= 30 seconds"
[[ -d $TREE ]] || die "no such directory: $TREE"
TREE=$(cd "$TREE" && pwd)
[[ $(git -C "$TREE" rev-parse --is-inside-work-tree 2>/dev/null) == true &&
   $(git -C "$TREE" rev-parse --show-toplevel 2>/dev/null) == "$TREE" ]] ||
  die "not a git work tree: $TREE"
git -C "$TREE" rev-parse -q --verify "refs/bisect/bad" >/dev/null &&
  die "a bisect is already under way in $TREE (git -C $TREE bisect reset)"
good=$(git -C "$TREE" rev-parse -q --verify "$GOOD^{commit}" 2>/dev/null) ||
  die "no such revision in $TREE: $GOOD"
bad=$(git -C "$TREE" rev-parse -q --verify "$BAD^{commit}" 2>/dev/null) ||
  die "no such revision in $TREE: $BAD"
[[ $good != "$bad" ]] || die "--good and --bad are the same commit ($(git -C "$TREE" log -1 --format=%h "$good"))"
git -C "$TREE" merge-base --is-ancestor "$good" "$bad" ||
  die "--good ($GOOD) is not an ancestor of --bad ($BAD)"
[[ -z $(git -C "$TREE" status --porcelain --untracked-files=no) ]] ||
  die "the tree has local changes (bisect checks out revisions): $TREE"
if [[ -z ${TCPSEM_BISECT_BOOT:-} ]]; then
  [[ -x $BINARY ]] || die "no suite binary: $BINARY (build it: cmake --build build --target tcpsem_matrix)"
  BINARY=$(readlink -f "$BINARY")
fi
mkdir -p "$OUT" || die "cannot create $OUT"
OUT=$(cd "$OUT" && pwd)

export TCPSEM_BISECT_TREE=$TREE TCPSEM_BISECT_OUT=$OUT TCPSEM_BISECT_JOBS=$JOBS
export TCPSEM_BISECT_BINARY=$BINARY TCPSEM_BISECT_FILTER=$FILTER TCPSEM_BISECT_TIMEOUT=$TIMEOUT
export TCPSEM_BISECT_CONFIGS="${CONFIGS[*]}"
if [[ -n $BUILD_OUT ]]; then
  mkdir -p "$BUILD_OUT" || die "cannot create $BUILD_OUT"
  export TCPSEM_BISECT_BUILD_DIR; TCPSEM_BISECT_BUILD_DIR=$(cd "$BUILD_OUT" && pwd)
fi
: >"$OUT/steps.tsv"
start_ref=$(git -C "$TREE" symbolic-ref -q --short HEAD || git -C "$TREE" rev-parse HEAD)
t_start=$(date +%s)

# An endpoint is one step on a detached checkout of it.
endpoint() {  # endpoint REV EXPECTED(0|1)
  local rc=0
  git -C "$TREE" checkout -q --detach "$1"
  bash "$SELF" --step || rc=$?
  git -C "$TREE" checkout -q "$start_ref"
  if ((rc == 125)); then
    die "$(git -C "$TREE" log -1 --format='%h' "$1") did not build or boot (see $OUT/steps/$1); cannot bisect from it" 3
  fi
  if ((rc != $2)); then
    if (($2 == 0)); then
      die "the good revision $(git -C "$TREE" log -1 --format='%h' "$1") fails the tests: $(head -n3 "$OUT/steps/$1/observed.txt" | tr '\n' ' ')" 3
    fi
    die "the bad revision $(git -C "$TREE" log -1 --format='%h' "$1") passes the tests" 3
  fi
}
if ((ENDPOINTS)); then
  log "testing the endpoints: good $(git -C "$TREE" log -1 --format=%h "$good"), bad $(git -C "$TREE" log -1 --format=%h "$bad")"
  endpoint "$good" 0
  endpoint "$bad" 1
fi

log "bisecting $(git -C "$TREE" rev-list --count "$good..$bad") commits"
rc=0
git -C "$TREE" bisect start "$bad" "$good" >"$OUT/bisect.log" 2>&1
git -C "$TREE" bisect run bash "$SELF" --step >>"$OUT/bisect.log" 2>&1 || rc=$?
first=$(git -C "$TREE" rev-parse -q --verify refs/bisect/bad || true)
found=0
grep -q "is the first bad commit" "$OUT/bisect.log" && found=1
git -C "$TREE" bisect log >"$OUT/bisect-replay.log" 2>/dev/null || true
git -C "$TREE" bisect reset "$start_ref" >/dev/null 2>&1 || true
t_end=$(date +%s)

echo "kernel-bisect: $(wc -l <"$OUT/steps.tsv") steps in $((t_end - t_start)) s (log $OUT/bisect.log)"
printf '  %-8s %-5s %-8s %7s %7s  %s\n' commit answer verdict build_s guest_s subject
while IFS=$'\t' read -r rev word verdict tb tg subj; do
  printf '  %-8s %-5s %-8s %7s %7s  %s\n' "${rev:0:8}" "$word" "${verdict%% *}" "$tb" "$tg" "${subj#* }"
done <"$OUT/steps.tsv"
if ((found == 0)); then
  echo "kernel-bisect: no first bad commit (git bisect run exit $rc); see $OUT/bisect.log"
  exit 1
fi
echo
echo "first bad commit: $(git -C "$TREE" log -1 --format='%H %s' "$first")"
echo
echo "observed on it ($OUT/steps/$first):"
sed 's/^/  /' "$OUT/steps/$first/observed.txt"
last_good=$(awk -F'\t' '$2 == "good" {g = $1} END {print g}' "$OUT/steps.tsv")
if [[ -n $last_good ]]; then
  echo "observed on the last good step, $(git -C "$TREE" log -1 --format='%h %s' "$last_good"):"
  sed 's/^/  /' "$OUT/steps/$last_good/observed.txt"
fi
exit 0

#!/bin/sh
# ci/kernel-bisect.sh without a kernel: bad input gives one line on stderr
# and exit 2 with nothing built or booted; then, with stand-ins for the build
# and the boot (TCPSEM_BISECT_BUILD / _BOOT), the good/bad/skip mapping of a
# step and a whole bisect that must name the planted commit.
set -eu
repo="$1"; scratch="$2"
mkdir -p "$scratch"
dir=$(mktemp -d "$scratch/kbisect.XXXXXX"); [ -n "${KEEP:-}" ] || trap 'rm -rf "$dir"' EXIT
script="$repo/ci/kernel-bisect.sh"
fail() { echo "kernel_bisect_check: $*" >&2; exit 1; }
expect() {  # expect NAME CODE REGEX -- command...
  name=$1 code=$2 regex=$3; shift 4
  err="$dir/$name.err"
  rc=0; "$@" >"$dir/$name.out" 2>"$err" || rc=$?
  [ "$rc" -eq "$code" ] || fail "$name: exit $rc, expected $code ($(cat "$err"))"
  [ "$(wc -l <"$err")" -eq 1 ] || fail "$name: not one line: $(cat "$err")"
  grep -Eq -e "$regex" "$err" || fail "$name: '$(cat "$err")' lacks /$regex/"
  [ ! -e "$dir/out-tree/steps" ] || fail "$name: a step ran"
  echo "$name: $(cat "$err")"
}
# A stand-in "kernel tree": c0 good ... c3 does not build (BROKEN) ... c5
# plants the regression ... c7.
# One git fast-import for the eight commits (a commit per git process cost
# a third of the test).
git init -q "$dir/tree"
blob() { printf 'M 644 inline %s\ndata <<EOF\n%s\nEOF\n' "$1" "$2"; }
for i in 0 1 2 3 4 5 6 7; do
  printf 'commit refs/heads/main\ncommitter t <t@t> %s +0000\ndata <<EOF\nc%s\nEOF\n' \
    "$((1700000000 + i))" "$i"
  blob file "$i"
  [ "$i" = 3 ] && blob BROKEN ""
  [ "$i" = 4 ] && echo "D BROKEN"
  [ "$i" = 5 ] && blob REGRESSION ""
  echo
done | git -C "$dir/tree" fast-import --quiet
git -C "$dir/tree" symbolic-ref HEAD refs/heads/main
git -C "$dir/tree" checkout -q -f main
git -C "$dir/tree" rev-list --reverse HEAD >"$dir/revs"
branch=$(git -C "$dir/tree" symbolic-ref --short HEAD)
rev() { sed -n "$(($1 + 1))p" "$dir/revs"; }
mkdir -p "$dir/plain"
common="--out $dir/out-tree --binary /bin/true"
# The bad-input cases only read the tree: run at once.
pids=""
expect no_arguments 2 'usage' -- "$script" &
pids="$pids $!"
expect unknown_argument 2 'unknown argument: --bogus' -- "$script" --bogus &
pids="$pids $!"
expect missing_filter 2 '--filter is required' -- "$script" $common --tree "$dir/tree" --good HEAD~1 --bad HEAD &
pids="$pids $!"
expect not_a_git_tree 2 'not a git work tree' -- "$script" $common --tree "$dir/plain" --good a --bad b --filter x &
pids="$pids $!"
expect no_such_revision 2 'no such revision .*: v9.9' -- "$script" $common --tree "$dir/tree" --good v9.9 --bad HEAD --filter x &
pids="$pids $!"
expect good_equals_bad 2 'same commit' -- "$script" $common --tree "$dir/tree" --good HEAD --bad "$(rev 7)" --filter x &
pids="$pids $!"
expect good_after_bad 2 'not an ancestor' -- "$script" $common --tree "$dir/tree" --good HEAD --bad HEAD~3 --filter x &
pids="$pids $!"
expect no_binary 2 'no suite binary' -- "$script" --out "$dir/out-tree" --binary /nonexistent --tree "$dir/tree" --good HEAD~1 --bad HEAD --filter x &
pids="$pids $!"
failed=0
for pid in $pids; do wait "$pid" || failed=1; done
[ "$failed" -eq 0 ] || exit 1

export TCPSEM_BISECT_BUILD='test ! -e BROKEN && echo vmlinuz-standin'
export TCPSEM_BISECT_BOOT='test "$1" = vmlinuz-standin || exit 3; if test -e REGRESSION; then echo "wire.close: FIN, expected RST"; exit 1; fi; echo "wire.close: RST"'
# One step on each kind of revision: 0 good, 1 bad, 125 skip.
for case in "1 0" "3 125" "6 1"; do
  set -- $case
  git -C "$dir/tree" checkout -q --detach "$(rev "$1")"
  mkdir -p "$dir/steps-out"
  rc=0
  TCPSEM_BISECT_TREE="$dir/tree" TCPSEM_BISECT_OUT="$dir/steps-out" \
    bash "$script" --step 2>/dev/null || rc=$?
  [ "$rc" -eq "$2" ] || fail "step on c$1: exit $rc, expected $2"
  echo "step on c$1: exit $rc"
done
git -C "$dir/tree" checkout -q "$branch"
# A good revision that fails the tests stops before any bisect step.
rc=0
"$script" --out "$dir/out2" --tree "$dir/tree" --good "$(rev 5)" --bad HEAD --filter x >/dev/null 2>"$dir/err" || rc=$?
[ "$rc" -eq 3 ] || fail "good_fails: exit $rc, expected 3"
tail -n1 "$dir/err" | grep -q "good revision .* fails the tests: wire.close: FIN" || fail "good_fails: $(cat "$dir/err")"
[ "$(wc -l <"$dir/out2/steps.tsv")" -eq 1 ] || fail "good_fails: more than the good endpoint ran"
echo "good_fails: $(tail -n1 "$dir/err")"
# The whole bisect names c5.
rc=0
"$script" --out "$dir/out3" --tree "$dir/tree" --good "$(rev 0)" --bad HEAD --filter x >"$dir/bisect.out" 2>"$dir/bisect.err" || rc=$?
cat "$dir/bisect.out"
[ "$rc" -eq 0 ] || fail "bisect: exit $rc ($(cat "$dir/bisect.err"))"
grep -q "^first bad commit: $(rev 5) c5$" "$dir/bisect.out" || fail "bisect did not name c5"
grep -q "wire.close: FIN, expected RST" "$dir/bisect.out" || fail "no observation of the bad commit"
[ -z "$(git -C "$dir/tree" status --porcelain)" ] || fail "the tree was left dirty"
git -C "$dir/tree" rev-parse -q --verify refs/bisect/bad >/dev/null && fail "the bisect was not reset"
echo "kernel_bisect_check: all passed"

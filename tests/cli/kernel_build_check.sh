#!/bin/sh
# The cheap parts of ci/kernel-build.sh: bad arguments, a missing tool and a
# patch that does not apply each give one line on stderr and exit status 2,
# and nothing is built (no work tree, no object tree).
set -eu
repo="$1"; scratch="$2"
mkdir -p "$scratch"
dir=$(mktemp -d "$scratch/kbuild.XXXXXX"); trap 'rm -rf "$dir"' EXIT
script="$repo/ci/kernel-build.sh"
fail() { echo "kernel_build_check: $*" >&2; exit 1; }
expect() {  # expect NAME REGEX -- command...
  name=$1 regex=$2; shift 3
  rc=0; "$@" >"$dir/out" 2>"$dir/err" || rc=$?
  [ "$rc" -eq 2 ] || fail "$name: exit $rc, expected 2 ($(cat "$dir/err"))"
  [ "$(wc -l <"$dir/err")" -eq 1 ] || fail "$name: not one line: $(cat "$dir/err")"
  grep -Eq -e "$regex" "$dir/err" || fail "$name: '$(cat "$dir/err")' lacks /$regex/"
  [ -z "$(ls -A "$dir/out-tree" 2>/dev/null | grep -v "^\.lock$")" ] || fail "$name: something was left in the out dir: $(ls -A "$dir/out-tree")"
  echo "$name: $(cat "$dir/err")"
}
# A fake Linux tree: enough for the checks that come before any build.
mkdir -p "$dir/linux/arch/x86" "$dir/linux/net/ipv4"
echo 'all:' >"$dir/linux/Makefile"
printf 'int a;\nint b;\n' >"$dir/linux/net/ipv4/tcp.c"
cat >"$dir/bad.patch" <<'PATCH'
--- a/net/ipv4/tcp.c
+++ b/net/ipv4/tcp.c
@@ -1,2 +1,2 @@
 int x;
-int y;
+int z;
PATCH
common="--source $dir/linux --out $dir/out-tree --cache $dir/cache --no-install"
expect unknown_argument 'unknown argument: --bogus' -- "$script" --bogus
expect missing_argument '--patch needs an argument' -- "$script" --patch
expect bad_jobs '--jobs must be a positive integer' -- "$script" $common --jobs x
expect missing_patch 'no such patch: /nonexistent.patch' -- "$script" $common --patch /nonexistent.patch
expect missing_source 'no such source: /nonexistent-linux' -- "$script" --source /nonexistent-linux --out "$dir/out-tree" --no-install
expect patch_does_not_apply 'patch does not apply: .*bad.patch' -- "$script" $common --patch "$dir/bad.patch"
expect not_a_tree 'not a Linux source tree' -- "$script" --source "$dir/linux/net" --out "$dir/out-tree" --cache "$dir/cache" --no-install
# A PATH without flex and bison: the tools kernel-build.sh runs before its
# check, and every other tool it checks for, so that exactly those two are
# named (a link per tool: linking all of /usr/bin took seconds).
mkdir "$dir/bin"
for t in bash env dirname nproc basename readlink mkdir make gcc bc perl xz tar patch; do
  ln -s "$(command -v "$t")" "$dir/bin/$t"
done
expect missing_tool 'missing: flex bison (libelf-dev )?\(' -- env PATH="$dir/bin" "$script" $common
echo "kernel_build_check: ok"

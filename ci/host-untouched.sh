#!/usr/bin/env bash
# Runs a command and proves it left the host's network state as it found
# it: every readable /proc/sys/net value, the interfaces with their flags and
# addresses, and the network namespaces. Exit status: the command's, or 3
# when the host changed (the difference is printed).
#
#   ci/host-untouched.sh ctest --test-dir build -j2
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: ci/host-untouched.sh COMMAND [ARGS...]" >&2; exit 2; }

snapshot() {
  # Values that move on their own are not configuration: skip them.
  find /proc/sys/net -type f -readable 2>/dev/null | sort | while read -r f; do
    case "$f" in
      */nf_conntrack_count|*/stable_secret|*/neigh/*/base_reachable_time*) continue ;;
    esac
    printf '%s = %s\n' "$f" "$(tr '\t\n' '  ' < "$f" 2>/dev/null)"
  done
  ip -o link show | sed -E 's/^[0-9]+: //; s/ +link\/.*//'
  ip -o addr show | awk '{print $2, $3, $4}'
  ls /run/netns 2>/dev/null | sed 's/^/netns /' || true
  ls /sys/kernel/tracing/instances 2>/dev/null | sed 's/^/trace instance /' || true
}

# The snapshots stay out of /tmp (root never writes where others can): a
# private directory under the build tree, or $TMPDIR when set.
scratch_parent="${TMPDIR:-${TCPSEM_BUILD_DIR:-$(cd "$(dirname "$0")/.." && pwd)/build}}"
mkdir -p "$scratch_parent"
scratch="$(mktemp -d "$scratch_parent/.host-untouched.XXXXXX")"
before="$scratch/before"; after="$scratch/after"
trap 'rm -rf "$scratch"' EXIT
snapshot >"$before"
status=0
"$@" || status=$?
snapshot >"$after"
if ! diff -u "$before" "$after" >/dev/null; then
  echo "host-untouched: the host's network state changed:" >&2
  diff -u "$before" "$after" >&2 || true
  exit 3
fi
echo "host-untouched: $(wc -l <"$before") host values, interfaces and namespaces unchanged"
exit $status

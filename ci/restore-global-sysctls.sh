#!/usr/bin/env bash
# Puts back host-wide sysctls that a killed tcpsem run left changed, from the
# restore records in /run/tcpsem (or $TCPSEM_RESTORE_DIR). A run that ends
# normally restores by itself. The checks (records owned by root, not
# writable by others, not links, only keys on the global-keys list; nothing
# applied if any record is refused) are in `tcpsem_sysctl --restore`; this
# only finds it: installed next to this script, else in the build tree.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
for tool in "$here/tcpsem_sysctl" \
    "$here/../${TCPSEM_BUILD_DIR:-build}/tools/tcpsem_sysctl"; do
  if [ -x "$tool" ]; then exec "$tool" --restore "$@"; fi
done
echo "restore-global-sysctls: tcpsem_sysctl not found next to $0 or in the build tree (ci/build.sh)" >&2
exit 2

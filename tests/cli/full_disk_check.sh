#!/usr/bin/env bash
# The suite's outputs on a full filesystem: a 1 MB tmpfs, mounted in a
# private mount namespace (unshare -m: the host's mounts never see it), is
# filled up, then one test is forced to fail (--tcpsem_inject_drain_fault on
# an RST cell) with its capture going to <tmpfs>/artifacts and the record to
# <tmpfs>/record.json. Expected: exit status 1, one line naming each write
# that failed and ENOSPC, and nothing partial left behind (no .pcap, no
# record, no .tmp) that could pass for a complete output.
#
#   full_disk_check.sh SUITE SCRATCH
set -euo pipefail
suite=$1 scratch=$2
if [ "${TCPSEM_IN_PRIVATE_MOUNTS:-}" != 1 ]; then
  rm -rf "$scratch"
  mkdir -p "$scratch/mnt"
  if ! unshare -m true 2>/dev/null; then
    echo "SKIP: cannot create a mount namespace (unshare -m)"; exit 0
  fi
  exec env TCPSEM_IN_PRIVATE_MOUNTS=1 unshare -m --propagation private "$0" "$@"
fi
mnt="$scratch/mnt"
mount -t tmpfs -o size=1m,mode=0755 tcpsem-full "$mnt"
mkdir -m 0755 "$mnt/artifacts"
dd if=/dev/zero of="$mnt/filler" bs=64k 2>/dev/null || true  # until ENOSPC
[ "$(df --output=avail -B1 "$mnt" | tail -n 1)" -lt 4096 ] || { echo "FAIL: the tmpfs is not full"; exit 1; }
status=0
timeout 60 "$suite" \
  --gtest_filter='Rfc2525/*/V4_Unread1_LingerOff_NoShutdown_PeerOpen' \
  --tcpsem_inject_drain_fault --tcpsem_artifacts="$mnt/artifacts" \
  --tcpsem_record="$mnt/record.json" >"$scratch/out" 2>&1 || status=$?
fail() { echo "FAIL: $*"; sed -n '1,40p' "$scratch/out"; exit 1; }
[ "$status" -eq 1 ] || fail "exit status $status, expected 1 (124: it hung)"
capture=$(grep -c 'could not save the capture: .*No space left on device' "$scratch/out" || true)
record=$(grep -c '^tcpsem: .*record.json.*No space left on device' "$scratch/out" || true)
[ "$capture" -eq 1 ] || fail "expected one line saying the capture was not saved (ENOSPC), got $capture"
[ "$record" -eq 1 ] || fail "expected one line saying the record was not written (ENOSPC), got $record"
! grep -q 'capture saved:\|record written:' "$scratch/out" || fail "an output was reported as written"
left=$(cd "$mnt" && find . -mindepth 1 ! -name filler ! -name artifacts)
[ -z "$left" ] || fail "left behind on the full filesystem: $left"
echo "ok: $(grep 'could not save the capture' "$scratch/out" | head -c 200)"
echo "ok: $(grep '^tcpsem: .*record.json' "$scratch/out" | head -c 200)"

#!/bin/sh
# Runs the installed tcpsem suite and reports every test case to LAVA with
# lava-test-case, the way kernel CI labs report kselftests: the suite writes
# TAP 13 (kselftest conventions) and each "ok"/"not ok" line becomes one case.
# Arguments go to the suite (e.g. --tcpsem_profile=...).
#
# Then the run's TAP and record are printed into the job log, each framed as
#   TCPSEM-FILE-BEGIN <name> <bytes> <sha256>
#   <base64 of the gzip-compressed file>
#   TCPSEM-FILE-END <name>
# so whoever holds the log takes them back out (ci/lava/log-files.py) and
# compares records of two kernels or profiles with tcpsem_diff.
set -eu
# Root writes only where only root can: a fresh 0700 directory under /run.
work="${TCPSEM_LAVA_DIR:-/run/tcpsem-lava}"
rm -rf "$work"
mkdir -m 0700 "$work"
tap="${TCPSEM_TAP_FILE:-$work/tcpsem.tap}"
status=0
# tcpsem runs the suite under its watchdog: a hung test is killed, reported
# "not ok" with why, and the run goes on; every result is in the run dir.
tcpsem --tcpsem_tap="$tap" --tcpsem_run_dir="${TCPSEM_RUN_DIR:-$work/run}" \
  --tcpsem_record="$work/record.json" --tcpsem_artifacts="$work/artifacts" \
  --gtest_brief=1 "$@" >"$work/tcpsem.log" 2>&1 || status=$?
# "ok 12 Rfc2525/...V4_Unread1_..." / "not ok 3 name" / "... # SKIP reason"
sed -n -E 's/^(not ok|ok) [0-9]+ ([^#]*[^ #])( # SKIP.*)?$/\1|\2|\3/p' "$tap" |
while IFS='|' read -r verdict name skip; do
  case "$name" in *[!A-Za-z0-9_./-]*) name=$(printf '%s' "$name" | tr -c 'A-Za-z0-9_./-' '_') ;; esac
  if [ -n "$skip" ]; then result=skip
  elif [ "$verdict" = ok ]; then result=pass
  else result=fail
  fi
  lava-test-case "$name" --result "$result"
done
# kselftest exit codes: 0 all passed, 1 a failure, 4 everything skipped.
lava-test-case tcpsem-suite --result "$([ $status -eq 0 ] && echo pass || echo fail)"
if [ $status -ne 0 ]; then tail -n 40 "$work/tcpsem.log"; fi
for f in tcpsem.tap record.json; do
  [ -f "$work/$f" ] || continue
  echo "TCPSEM-FILE-BEGIN $f $(wc -c <"$work/$f") $(sha256sum "$work/$f" | cut -d' ' -f1)"
  gzip -c "$work/$f" | base64
  echo "TCPSEM-FILE-END $f"
done
exit 0

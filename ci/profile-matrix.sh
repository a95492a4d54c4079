#!/usr/bin/env bash
# Runs the teardown suite once per sysctl profile, each run with its own
# JUnit file (junit-<profile>.xml) and record (records/<release>-<profile>.json).
#
#   ci/profile-matrix.sh                      every shipped per-namespace profile
#   ci/profile-matrix.sh small-buffers host   just these
#   ci/profile-matrix.sh /etc/sysctl.d/99-fleet.conf   a fleet's own files
#   ci/profile-matrix.sh --allow-global max-orphans-zero
#
# Profiles with global (host-wide) keys run only with --allow-global, and then
# serially (-j1: the host value is one resource); the host values are restored
# by the suite at exit and, should it be killed, replayed here from the
# restore records it leaves in /run/tcpsem (ci/restore-global-sysctls.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
build="${TCPSEM_BUILD_DIR:-build}"
allow_global=0
profiles=()
for arg in "$@"; do
  case "$arg" in
    --allow-global) allow_global=1 ;;
    -*) echo "profile-matrix: unknown option $arg" >&2; exit 2 ;;
    *) profiles+=("$arg") ;;
  esac
done
if [ ${#profiles[@]} -eq 0 ]; then
  for f in fixtures/config/profiles/*.conf; do
    name="$(basename "$f" .conf)"
    # Shipped global-key profiles need the explicit opt-in. Which keys are
    # global is decided in one place, the C++ list: the tool says.
    global="$("$build/tools/tcpsem_sysctl" --global-keys="$f")"
    if [ -n "$global" ] && [ $allow_global -eq 0 ]; then
      echo "profile-matrix: skipping $name (global keys; pass --allow-global)"
      continue
    fi
    profiles+=("$name")
  done
  profiles+=("host")
fi

trap ci/restore-global-sysctls.sh EXIT

mkdir -p records
# Not in /tmp: a root run writes nothing where other users can plant links.
check="$build/profile-check.log"
status=0
printf '%-28s %8s %8s %8s %8s\n' profile passed failed skipped seconds
for profile in "${profiles[@]}"; do
  label="$(basename "${profile%%,*}" .conf)"
  # Files are given relative to here; the tests run in the build tree.
  if [[ "$profile" == *"/"* || "$profile" == *".conf"* ]]; then
    absolute=()
    IFS=, read -r -a parts <<<"$profile"
    for part in "${parts[@]}"; do absolute+=("$(realpath -m "$part")"); done
    profile="$(IFS=,; echo "${absolute[*]}")"
  fi
  jobs="$(nproc)"
  env_extra=()
  if [ $allow_global -eq 1 ]; then
    env_extra=(TCPSEM_ALLOW_GLOBAL_SYSCTLS=1)
    jobs=1
  fi
  start=$(date +%s)
  # The suite validates the profile before any test; a bad one stops here.
  if ! "$build/tests/tcpsem_matrix" --tcpsem_profile="$profile" \
      --gtest_filter=NoTest.None >/dev/null 2>"$check"; then
    echo "profile-matrix: $label: $(cat "$check")" >&2
    rm -f "$check"
    status=2
    continue
  fi
  rm -f "$check"
  log="$build/profile-$label.log"
  if env TCPSEM_PROFILE="$profile" "${env_extra[@]}" \
      ctest --test-dir "$build" -L teardown -j"$jobs" \
      --output-junit "$PWD/junit-$label.xml" >"$log" 2>&1; then :; else status=1; fi
  "$build/tests/tcpsem_matrix" --tcpsem_profile="$profile" \
    --gtest_filter='Rfc2525/*' --gtest_brief=1 \
    --tcpsem_record="records/$(uname -r)-$label.json" >/dev/null 2>&1 || true
  read -r tests failed skipped < <(python3 -c '
import sys, xml.etree.ElementTree as ET
r = ET.parse(sys.argv[1]).getroot()
s = r if r.tag == "testsuite" else r.find("testsuite")
print(s.get("tests"), int(s.get("failures", 0)) + int(s.get("errors", 0)), s.get("skipped", 0))
' "junit-$label.xml")
  printf '%-28s %8s %8s %8s %8s\n' "$label" "$((tests - failed - skipped))" \
    "$failed" "$skipped" "$(( $(date +%s) - start ))"
done
exit $status

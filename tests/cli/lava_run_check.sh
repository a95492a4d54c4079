#!/bin/sh
# Checks ci/lava/tcpsem-run.sh against the real suite with a stand-in for
# LAVA's lava-test-case that logs its arguments: one case per TAP line, with
# pass/skip/fail taken from the TAP verdict.
set -eu
matrix="$1"; repo="$2"; runner="$3"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
mkdir "$work/bin"
printf '#!/bin/sh\necho "$@" >> %s/cases\n' "$work" > "$work/bin/lava-test-case"
# As installed (packaging/tcpsem.in): the suite under its watchdog.
printf '#!/bin/sh\nexec %s %s "$@"\n' "$runner" "$matrix" > "$work/bin/tcpsem"
chmod +x "$work/bin/"*
PATH="$work/bin:$PATH" TCPSEM_LAVA_DIR="$work/lava" TCPSEM_TAP_FILE="$work/t.tap" TCPSEM_RUN_DIR="$work/run" \
  "$repo/ci/lava/tcpsem-run.sh" --gtest_filter='Rfc2525/*/V4_Unread1_LingerOff_*'
cases=$(grep -c -- '--result pass' "$work/cases" || true)
total=$(grep -c '' "$work/cases")
echo "lava cases: $total ($cases pass)"
# 10 cells + the suite verdict, all passing.
[ "$total" -eq 11 ] && [ "$cases" -eq 11 ]
grep -q '^Rfc2525/CloseMatrixTest.AgreesWithRuleTable/V4_Unread1_LingerOff_NoShutdown_PeerOpen --result pass$' "$work/cases"

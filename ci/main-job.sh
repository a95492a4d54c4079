#!/usr/bin/env bash
# The main job: install what is missing, build, and run the close matrix
# against the running kernel. Prints this kernel's behaviour table and writes
# the record to records/<kernel release>.json (schema: docs/record.md) and a
# self-contained HTML page of the matrix next to it.
# Extra arguments go to the suite (e.g. --tcpsem_record=/tmp/r.json).
set -euo pipefail
cd "$(dirname "$0")/.."
ci/install-deps.sh
ci/build.sh
mkdir -p records
# Under the watchdog (tools/tcpsem_run): a hung test is killed and recorded
# as hung, and the run goes on; every result in records/<release>.run/.
build="${TCPSEM_BUILD_DIR:-build}"
exec "$build/tools/tcpsem_run" --tcpsem_run_dir="records/$(uname -r).run" \
  "$build/tests/tcpsem_matrix" \
  --gtest_filter='Rfc2525/*' --gtest_brief=1 \
  --tcpsem_table --tcpsem_record="records/$(uname -r).json" \
  --tcpsem_html="records/$(uname -r).html" "$@"

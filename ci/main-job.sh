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
exec "${TCPSEM_BUILD_DIR:-build}/tests/tcpsem_matrix" \
  --gtest_filter='Rfc2525/*' --gtest_brief=1 \
  --tcpsem_table --tcpsem_record="records/$(uname -r).json" \
  --tcpsem_html="records/$(uname -r).html" "$@"

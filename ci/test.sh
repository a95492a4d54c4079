#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
ci/install-deps.sh
ci/build.sh
build="${TCPSEM_BUILD_DIR:-build}"
# The whole run must leave the host's network state as it found it.
ci/host-untouched.sh ctest --test-dir "$build" -j"$(nproc)" --output-on-failure \
  --output-junit junit.xml "$@"

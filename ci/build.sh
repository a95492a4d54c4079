#!/usr/bin/env bash
# Configures and builds tcpsem into ${TCPSEM_BUILD_DIR:-build}.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${TCPSEM_BUILD_DIR:-build}"
# The compiler's and linker's temporary files go under the build tree, not
# /tmp: root never writes where other users can.
mkdir -p "$build/tmp"
export TMPDIR="$(cd "$build/tmp" && pwd)"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)"

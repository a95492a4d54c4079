#!/usr/bin/env bash
# Configures and builds tcpsem into ${TCPSEM_BUILD_DIR:-build}.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${TCPSEM_BUILD_DIR:-build}"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)"

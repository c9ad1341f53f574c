#!/usr/bin/env bash
# Configures and builds rmsmp (Release by default) into ${BUILD_DIR:-build}. Extra args go to cmake configure.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-Release} "$@" >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)" 2>&1 | grep -E "error|warning|Error" || true
test "${PIPESTATUS[0]}" -eq 0 || { echo "build: FAILED (rerun: cmake --build $BUILD_DIR)" >&2; exit 1; }

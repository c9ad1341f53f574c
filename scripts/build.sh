#!/usr/bin/env bash
# Configures and builds rmsmp (Release by default) into ${BUILD_DIR:-build}. Extra args go to cmake configure.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-Release} "$@" >/dev/null
# The build's own status, not grep's: `a | grep || true` under pipefail would leave PIPESTATUS to `true`.
rc=0
cmake --build "$BUILD_DIR" -j "$(nproc)" > "$BUILD_DIR/build.log" 2>&1 || rc=$?
grep -E "error|warning|Error" "$BUILD_DIR/build.log" || true
test "$rc" -eq 0 || { echo "build: FAILED (log: $BUILD_DIR/build.log)" >&2; exit 1; }

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
# The Python package built into build/python (when pybind11 was found): registered with python3 through a .pth
# file, as `pip install -e` would, so `python3 -c "import rmsmp"` works after the README's first command. An
# installed wheel (pip install .) still takes precedence: .pth entries come after site-packages.
if [ "$BUILD_DIR" = build ] && ls build/python/rmsmp/_rmsmp*.so >/dev/null 2>&1; then
  site=$(python3 -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
  if [ -w "$site" ]; then
    echo "$PWD/build/python" > "$site/rmsmp-build.pth"
  else
    echo "build: $site is not writable; use PYTHONPATH=$PWD/build/python to import rmsmp" >&2
  fi
fi

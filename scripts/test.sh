#!/usr/bin/env bash
# Quick start 2: set up, build, and run the whole test suite through CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
export RMSMP_CHECKPOINT_DIR="$(bash scripts/checkpoint_dir.sh)"
cd build && ctest --output-on-failure -j "$(nproc)" "$@"

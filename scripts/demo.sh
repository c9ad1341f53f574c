#!/usr/bin/env bash
# Quick start 1: set up, build, and run the demo on the real all-MiniLM-L6-v2 checkpoint (SST-2 dev accuracy table).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
./build/apps/rmsmp-run demo --checkpoint "$(bash scripts/checkpoint_dir.sh)" --out out/demo "$@"

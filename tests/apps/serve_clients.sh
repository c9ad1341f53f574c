#!/usr/bin/env bash
# Runs tests/apps/serve_clients.py on the real MiniLM checkpoint converted to fp32 (one second).
# usage: serve_clients.sh BIN_DIR   (RMSMP_CHECKPOINT_DIR set, as scripts/test.sh does)
set -euo pipefail
BIN=$1
: "${RMSMP_CHECKPOINT_DIR:?run through scripts/test.sh, which sets it}"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
"$BIN/rmsmp-convert" --quiet --in "$RMSMP_CHECKPOINT_DIR" --out "$TMP/fp32.rmsmp" --scheme fp32 > /dev/null
python3 "$(dirname "$0")/serve_clients.py" "$BIN" "$TMP/fp32.rmsmp"

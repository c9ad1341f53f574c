#!/usr/bin/env bash
# CI's Ray step (issue 21): converts all-MiniLM-L6-v2 (uniform Fixed-8, nearest rounding: no calibration, ~10 s)
# and runs scripts/ray_cluster_check.sh on it: a head and a worker node started by `ray start`, every SST-2
# train sentence embedded through rmsmp.ray with 1 and 2 actors, each vector checked bit for bit against a
# single-process Model.encode. About 4.5 minutes on 2 vCPUs. The sentences come from ../shared/data (all 67,349)
# when that folder is there, else from the committed data/sst2/train_sample.tsv (4,210): the check is the same.
# Needs the build and scripts/setup.sh (ray[data]); .ci/run calls it after the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
CK=$(bash scripts/checkpoint_dir.sh)
TSV=../shared/data/glue/SST-2/train.tsv
[ -f "$TSV" ] || TSV=data/sst2/train_sample.tsv
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
./build/apps/rmsmp-convert --quiet --in "$CK" --out "$WORK/minilm-fixed8.rmsmp" --scheme fixed8 --rounding nearest \
  > /dev/null
echo "ray cluster check on $TSV"
if bash scripts/ray_cluster_check.sh "$WORK/minilm-fixed8.rmsmp" "$TSV" > "$WORK/ray.log" 2>&1; then
  tail -1 "$WORK/ray.log"  # the JSON line: texts, nodes, throughputs, mismatches
else
  rc=$?
  tail -40 "$WORK/ray.log"
  echo "ray cluster check failed (exit $rc)" >&2
  exit "$rc"
fi

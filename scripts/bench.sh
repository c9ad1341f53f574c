#!/usr/bin/env bash
# Side-by-side benchmark: our fp32 / fixed8 / RMSMP-mix engines, oneDNN fp32 / int8 GEMMs and ONNX Runtime
# fp32 / dynamic int8 / 4-bit on MiniLM-L6 (real weights) and BERT-base (random weights of the real shapes),
# batch {1, 8} x sequence {16, 128, 384}, 2 threads, 3 separate processes per engine (lowest median kept).
# Writes out/bench/full.{jsonl,md,json,png}. Extra arguments go to rmsmp-bench (e.g. --processes 1 --seq 128).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
pip install --quiet --disable-pip-version-check "onnx==1.23.2" "onnxruntime==1.32.0" "onnx_ir==1.1.0" numpy matplotlib
BUILD_TYPE=Release bash scripts/build.sh
export RMSMP_CHECKPOINT_DIR=${RMSMP_CHECKPOINT_DIR:-$(bash scripts/checkpoint_dir.sh)}
mkdir -p out/bench
./build/apps/rmsmp-bench --models minilm-l6,bert-base --batch 1,8 --seq 16,128,384 --threads 2 --processes 3 \
  --repeats 5 --engines rmsmp-fp32,rmsmp-fixed8,rmsmp-mix,onednn-fp32,onednn-int8,onnxruntime-fp32,onnxruntime-int8,onnxruntime-q4 \
  --out out/bench/full "$@"
python3 benchmarks/plot.py out/bench/full

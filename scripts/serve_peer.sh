#!/usr/bin/env bash
# A peer embedding server for benchmarks/serve_load.py (issue 19): infinity-emb 0.0.78 with its ONNX Runtime
# engine (optimum) on all-MiniLM-L6-v2 exported to ONNX and quantized as ONNX Runtime's dynamic int8
# (per-channel QInt8, as rmsmp-bench's onnxruntime-int8). Not part of the test suite: the venv is about 5.5 GB
# (optimum requires torch, and PyPI's torch pulls the CUDA libraries).
#   bash scripts/serve_peer.sh [THREADS]   # prints the peer's PID and URL once it answers
# then: python3 benchmarks/serve_load.py build/apps M.rmsmp --peer-url URL --peer-pid PID \
#         --peer-name infinity-emb-ort-int8 --peer-model /path/printed
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${1:-$(nproc)}
VENV=out/peer-venv MODEL=out/peer-model PORT=${PEER_PORT:-7997}
if [ ! -x "$VENV/bin/infinity_emb" ]; then
  python3 -m venv "$VENV"
  # optimum 1.24: infinity-emb 0.0.78 passes optimum 2's loader a full path it refuses.
  "$VENV/bin/pip" install -q "infinity-emb[server,optimum]==0.0.78" "optimum[onnxruntime]==1.24.0"
fi
if [ ! -f "$MODEL/model_quantized.onnx" ]; then
  CK=$(bash scripts/checkpoint_dir.sh)
  rm -rf "$MODEL" && mkdir -p "$MODEL" && cp -r "$CK"/. "$MODEL"/
  HF_HUB_OFFLINE=1 "$VENV/bin/python" - "$MODEL" <<'PY'
import sys
from optimum.onnxruntime import ORTModelForFeatureExtraction
from onnxruntime.quantization import QuantType, quantize_dynamic
d = sys.argv[1]
ORTModelForFeatureExtraction.from_pretrained(d, export=True).save_pretrained(d + "/onnx-fp32")
quantize_dynamic(d + "/onnx-fp32/model.onnx", d + "/model_quantized.onnx", per_channel=True, weight_type=QuantType.QInt8)
PY
  rm -rf "$MODEL/onnx-fp32"
fi
HF_HUB_OFFLINE=1 INFINITY_ANONYMOUS_USAGE_STATS=0 OMP_NUM_THREADS=$THREADS \
  "$VENV/bin/infinity_emb" v2 --model-id "$PWD/$MODEL" --engine optimum --device cpu --port "$PORT" \
  > out/peer.log 2>&1 &
PID=$!
for _ in $(seq 120); do
  if curl -sf -m 5 "http://127.0.0.1:$PORT/embeddings" -H 'Content-Type: application/json' \
       -d "{\"input\": \"ok\", \"model\": \"$PWD/$MODEL\"}" > /dev/null; then
    echo "peer pid $PID url http://127.0.0.1:$PORT/embeddings model $PWD/$MODEL"
    exit 0
  fi
  sleep 2
done
echo "serve_peer.sh: infinity-emb did not answer within 4 minutes (out/peer.log)" >&2
kill "$PID" 2>/dev/null
exit 1

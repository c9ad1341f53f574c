#!/usr/bin/env bash
# Run a command as if this AVX-512 VNNI + AMX host had no AMX, for every engine in it (ONNX Runtime, oneDNN,
# rmsmp): builds no_amx.so beside the build tree and LD_PRELOADs it. See no_amx.c for why and how.
#   benchmarks/no_amx/run.sh ./build/apps/rmsmp-bench --suite e2e --engines rmsmp-mix,onnxruntime-int8 ...
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${RMSMP_NO_AMX_SO:-${here}/../../out/no_amx.so}"
mkdir -p "$(dirname "$out")"
if [[ ! -f "$out" || "$here/no_amx.c" -nt "$out" ]]; then
  cc -O2 -shared -fPIC -o "$out" "$here/no_amx.c" -ldl
fi
export LD_PRELOAD="$out${LD_PRELOAD:+:$LD_PRELOAD}"
exec "$@"

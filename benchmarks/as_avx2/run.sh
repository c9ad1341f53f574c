#!/usr/bin/env bash
# Run a command as if this AVX-512 host were AVX2-only, for every engine in it (ONNX Runtime's MLAS, oneDNN,
# numpy, rmsmp): builds as_avx2.so beside the build tree, LD_PRELOADs it (CPUID faulting; see as_avx2.c) and
# pins rmsmp and oneDNN to AVX2 as well.
#   benchmarks/as_avx2/run.sh ./build/apps/rmsmp-bench --suite e2e --engines rmsmp-mix,onnxruntime-int8 ...
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${RMSMP_AS_AVX2_SO:-${here}/../../out/as_avx2.so}"
mkdir -p "$(dirname "$out")"
if [[ ! -f "$out" || "$here/as_avx2.c" -nt "$out" ]]; then
  cc -O2 -shared -fPIC -o "$out" "$here/as_avx2.c"
fi
export LD_PRELOAD="$out${LD_PRELOAD:+:$LD_PRELOAD}" LD_AUDIT="$out${LD_AUDIT:+:$LD_AUDIT}"
export RMSMP_CPU_ISA=avx2 ONEDNN_MAX_CPU_ISA=AVX2 DNNL_MAX_CPU_ISA=AVX2
exec "$@"

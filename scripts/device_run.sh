#!/usr/bin/env bash
# Runs on the lent device machine as devcheck/run.sh (made by scripts/device_check.sh prepare; read that first).
# Results: $OUT/machine.txt, $OUT/tests.txt (every shard's log, then a summary) and $OUT/bench.tar.gz (the
# rmsmp-bench records and tables): the tool brings back at most 8 files.
cd "$(dirname "$0")"
OUT=${OUT:-$PWD/out}; mkdir -p "$OUT"
REPO=$(cd .. && pwd)
mkdir -p pkg && tar -C pkg -xJf pkg.tar.xz 2>/dev/null ||
  python3 -c "import lzma, tarfile; tarfile.open(fileobj=lzma.open('pkg.tar.xz')).extractall('pkg')"
# The tests look for their goldens where they were built (/work/main/tests/data) and for the tools in
# RMSMP_TOOLS_DIR.
[ -e /work/main ] || { mkdir -p /work && ln -s "$REPO" /work/main; }
export LD_LIBRARY_PATH=$PWD/pkg/lib RMSMP_SOURCE_DIR=$REPO RMSMP_GIT_SHA=$(cat GIT_SHA) RMSMP_TOOLS_DIR=$PWD/pkg
export RMSMP_EFFNET_PTH=$PWD/vision/effnet.pth RMSMP_CALIB_IMAGES=$PWD/vision/calib RMSMP_FMNIST_DIR=$PWD/vision/fmnist
export RMSMP_CACHE=/tmp/rmsmp-cache
# Passive OpenMP waiting for the test shards only (8 processes share the cores): benchmarks keep libgomp's
# default spin-then-sleep, as users run it (passive makes every layer's barrier a futex wake; the first device
# run, 2026-11-30, had it set for its benchmarks too).
if [ -f /tmp/devstash/ckpt/model.safetensors ]; then export RMSMP_CHECKPOINT_DIR=/tmp/devstash/ckpt; fi
# A GPU driver that ships its OpenCL library without an ICD file: register it for this run.
if [ -z "$(ls /etc/OpenCL/vendors 2>/dev/null | grep -v pocl)" ]; then
  for lib in /usr/local/nvidia/lib64/libnvidia-opencl.so.1 /usr/lib/x86_64-linux-gnu/libnvidia-opencl.so.1; do
    [ -f "$lib" ] && mkdir -p /tmp/icd && echo "$lib" > /tmp/icd/nvidia.icd && export OCL_ICD_VENDORS=/tmp/icd && break
  done
fi
N=$(nproc)
{ echo "git $(cat GIT_SHA); checkpoint: ${RMSMP_CHECKPOINT_DIR:-none (MiniLM tests fail)}"
  lscpu | grep -E "Model name|^CPU\(s\)|Flags" | cut -c1-600; nvidia-smi -L 2>/dev/null
  python3 -c "import onnxruntime, numpy; print('onnxruntime', onnxruntime.__version__, 'numpy', numpy.__version__)"
  pkg/rmsmp-run devices; } > "$OUT/machine.txt" 2>&1
cat "$OUT/machine.txt"

if [ "${RUN_ONLY:-all}" != bench ]; then
  T0=$(date +%s)
  # 8 shards of 2 threads: the same partitions as the 2-core CI host, every core busy.
  for i in 0 1 2 3 4 5 6 7; do
    GTEST_TOTAL_SHARDS=8 GTEST_SHARD_INDEX=$i OMP_NUM_THREADS=2 OMP_WAIT_POLICY=passive timeout "${TEST_LIMIT:-240}" \
      pkg/rmsmp_tests --gtest_filter="${TESTS:-*}" > "/tmp/shard$i.txt" 2>&1 &
  done
  wait
  # Again at every core: the tests whose work partitions depend on the thread count.
  OMP_NUM_THREADS=$N timeout 120 pkg/rmsmp_tests \
    --gtest_filter="Backends*:Cpu*:EncoderOps*:CnnEffNet.EveryCpuIsa*:CnnFmnist.EveryCpuIsa*:MiniLM.RmsmpReferenceAndCpu*:Concurrency*" \
    > /tmp/shard-all-cores.txt 2>&1
  { for f in /tmp/shard*.txt; do echo "=== $f"; cat "$f"; done
    echo "=== summary ($(( $(date +%s) - T0 )) s)"
    for f in /tmp/shard*.txt; do echo "$f: $(grep -E '^\[  PASSED  \]|^\[  FAILED  \] [0-9]+|^\[  SKIPPED \] [0-9]+' "$f" | tr '\n' ' ')"; done
    grep -h "^\[  FAILED  \] [A-Z]" /tmp/shard*.txt | sort -u; } > "$OUT/tests.txt"
  sed -n '/=== summary/,$p' "$OUT/tests.txt"
fi
[ "${RUN_ONLY:-all}" = tests ] && exit 0

# Benchmarks beside ONNX Runtime int8 (side by side in one run), at 2 threads and at every core.
# Packed after each step: a run stopped at the call's limit still brings back what was measured.
R=/tmp/bench; mkdir -p $R
pack() { tar -C $R -czf "$OUT/bench.tar.gz" .; }
common="--processes 1 --repeats 7 --work /tmp/rb"
for t in 2 "$N"; do  # the first pass converts and quantizes (cached in /tmp/rb), the second only times
  timeout "${E2E_LIMIT:-120}" pkg/rmsmp-bench --suite e2e --models minilm-l6 \
    --engines rmsmp-fixed8,rmsmp-mix,onnxruntime-int8 --batch 1,8 --seq 16,128 --threads "$t" $common \
    --out "$R/e2e-$t-threads" 2>&1 | grep -v WARNING | tail -8; pack
  timeout "${VISION_LIMIT:-150}" pkg/rmsmp-bench --suite vision --engines rmsmp-mix,onnxruntime-int8 \
    --vision-models resnet18,resnet50,efficientnet-lite0 --threads "$t" $common --out "$R/vision-$t-threads" 2>&1 |
    grep -v WARNING | tail -6; pack
done
# Our VNNI kernels alone (no AMX tiles) at 2 threads, beside the AMX run above (ORT picks AMX by itself); then
# AMX with the 4-bit rows kept as nibbles (decoded per call) instead of bytes decoded at load.
RMSMP_CPU_AMX=0 timeout "${E2E_LIMIT:-120}" pkg/rmsmp-bench --suite e2e --models minilm-l6 --engines rmsmp-mix \
  --batch 1,8 --seq 16,128 --threads 2 $common --out "$R/e2e-2-threads-no-amx" 2>&1 | grep -v WARNING | tail -6; pack
RMSMP_CPU_EXPAND=0 timeout "${E2E_LIMIT:-120}" pkg/rmsmp-bench --suite e2e --models minilm-l6 --engines rmsmp-mix \
  --batch 1,8 --seq 16,128 --threads 2 $common --out "$R/e2e-2-threads-nibbles" 2>&1 | grep -v WARNING | tail -6; pack
timeout 40 pkg/rmsmp-bench --suite peak --threads 2 --processes 1 --repeats 5 --work /tmp/rb --out "$R/peak" 2>&1 | tail -4
pack; ls -la "$OUT"

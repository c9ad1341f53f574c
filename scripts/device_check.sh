#!/usr/bin/env bash
# Prepared check for a lent GPU/AVX-512 machine (the `device` tool; it cannot install packages, so the
# binaries travel with their libraries). Two steps:
#   bash scripts/device_check.sh prepare     # here: bundles build/ binaries + libs into devcheck/ (git-ignored)
#   bash devcheck/run.sh                     # there (carry devcheck): results under $OUT (or devcheck/out)
# There: the CPU kernels of every ISA it has (AVX-512 VNNI included) and the OpenCL backend on every OpenCL
# device (a GPU's ICD under /etc/OpenCL/vendors) against the reference backend; then rmsmp-bench (peaks, GEMMs,
# MiniLM-L6-shaped end to end on the CPU and on each OpenCL device). No model is carried: rmsmp-bench writes
# a random-weight checkpoint of MiniLM-L6's shapes and converts it there (timing only, no accuracy).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${1:-}" = prepare ] || { echo "usage: bash scripts/device_check.sh prepare" >&2; exit 2; }
rm -rf devcheck && mkdir -p devcheck/lib
for b in tests/rmsmp_tests apps/rmsmp-bench apps/rmsmp-run apps/rmsmp-convert; do
  cp "build/$b" devcheck/ && strip "devcheck/$(basename "$b")"
done
for lib in libutf8proc.so.2 libdnnl.so.2 libgomp.so.1 libstdc++.so.6 libOpenCL.so.1 libgcc_s.so.1 \
           libsentencepiece.so.0 libprotobuf-lite.so.32 libcpp-httplib.so.0.11 libjpeg.so.62 libpng16.so.16; do
  f=$(ldconfig -p | awk -v l="$lib" '$1 == l && !f {f = $NF} END {print f}')  # no early exit: SIGPIPE + pipefail
  [ -n "$f" ] && cp -L "$f" devcheck/lib/
done
# Vision inputs: the EfficientNet-Lite0 .pth, the calibration photos, and Fashion-MNIST's test files (the ISA
# bit-identity test calibrates on "train" images: the test images stand in for them there; only the
# comparison between backends is checked on this data, not accuracy).
mkdir -p devcheck/vision/calib devcheck/vision/fmnist
cp "$(bash scripts/checkpoint_dir.sh --effnet)" devcheck/vision/effnet.pth
cp "$(bash scripts/calib_images.sh)"/*.{png,jpg} devcheck/vision/calib/
FM=/usr/share/datasets/fashion-mnist
cp $FM/t10k-images-idx3-ubyte.gz $FM/t10k-labels-idx1-ubyte.gz devcheck/vision/fmnist/
cp $FM/t10k-images-idx3-ubyte.gz devcheck/vision/fmnist/train-images-idx3-ubyte.gz
git rev-parse --short=12 HEAD > devcheck/GIT_SHA  # the commit these binaries were built from (a clean tree)
xz -T2 -6 devcheck/lib/libdnnl.so.2  # 40 MB -> 7 MB: the carried tree is limited to 64 MiB
cat > devcheck/run.sh <<'RUN'
#!/usr/bin/env bash
cd "$(dirname "$0")"
OUT=${OUT:-$PWD/out}; mkdir -p "$OUT"
[ -f lib/libdnnl.so.2 ] || xz -dk lib/libdnnl.so.2.xz 2>/dev/null ||
  python3 -c "import lzma, shutil; shutil.copyfileobj(lzma.open('lib/libdnnl.so.2.xz'), open('lib/libdnnl.so.2', 'wb'))"
export LD_LIBRARY_PATH=$PWD/lib RMSMP_SOURCE_DIR=$(cd .. && pwd) RMSMP_GIT_SHA=$(cat GIT_SHA)
export RMSMP_TOOLS_DIR=$PWD RMSMP_EFFNET_PTH=$PWD/vision/effnet.pth RMSMP_CALIB_IMAGES=$PWD/vision/calib RMSMP_FMNIST_DIR=$PWD/vision/fmnist
# A GPU driver that ships its OpenCL library without an ICD file: register it for this run.
if [ -z "$(ls /etc/OpenCL/vendors 2>/dev/null | grep -v pocl)" ]; then
  for lib in /usr/local/nvidia/lib64/libnvidia-opencl.so.1 /usr/lib/x86_64-linux-gnu/libnvidia-opencl.so.1; do
    [ -f "$lib" ] && mkdir -p /tmp/icd && echo "$lib" > /tmp/icd/nvidia.icd && export OCL_ICD_VENDORS=/tmp/icd && break
  done
fi
{ lscpu | grep -E "Model name|^CPU\(s\)|Flags" | cut -c1-400; nvidia-smi -L 2>/dev/null; ls /etc/OpenCL/vendors 2>/dev/null; } | tee "$OUT/machine.txt"
./rmsmp-run devices | tee "$OUT/devices.txt"
./rmsmp_tests --gtest_filter="${TESTS:-Backends*:Cpu/*:EncoderOps*:OpenCl*:ActQuant*:PortableMath*:TinyBert*:CpuIsa*:Vision*:PthReader.Both*:Cnn*}" > "$OUT/tests.txt" 2>&1
grep -E "^\[  (PASSED|FAILED|SKIPPED) |tests ran" "$OUT/tests.txt" | tail -30
[ "${RUN_ONLY:-all}" = tests ] && exit 0
if [ "${RUN_ONLY:-all}" = vision ]; then  # the vision checks alone (short device budgets)
  timeout 100 ./rmsmp-bench --suite peak,gemm --engines rmsmp-fixed8,rmsmp-mix,onednn-int8 --threads 2 --processes 1 \
    --repeats 10 --work /tmp/rb --gemm-shapes 3136x576x64,784x1152x128,196x2304x256,49x4608x512 --out "$OUT/gemm-conv" 2>&1 | tail -12
  timeout "${VISION_LIMIT:-150}" ./rmsmp-bench --suite vision --engines rmsmp-fp32,rmsmp-fixed8,rmsmp-mix \
    --vision-models resnet18,resnet50,efficientnet-lite0 --threads 2 --processes 1 --repeats 5 --work /tmp/rb \
    --out "$OUT/vision-cpu" 2>&1 | tail -8
  exit 0
fi
timeout 150 ./rmsmp-bench --suite peak,gemm --threads 2 --processes 2 --repeats 10 --work /tmp/rb \
  --gemm-shapes 128x384x1536,128x1536x384,128x768x3072,128x3072x768,16x384x1536,3136x576x64,784x1152x128 --out "$OUT/gemm" 2>&1 | tail -30
# One run per device, each with its own time limit, so a slow device cannot cost the others' results.
for d in cpu $(awk '/^opencl:/ {print $1}' "$OUT/devices.txt"); do
  timeout "${E2E_LIMIT:-120}" ./rmsmp-bench --suite e2e --models minilm-l6 --engines rmsmp-fp32,rmsmp-fixed8,rmsmp-mix \
    --device "$d" --batch 1,8 --seq 16,128 --threads 2 --processes 1 --repeats 5 --work /tmp/rb \
    --out "$OUT/e2e-${d//:/_}" 2>&1 | tail -8
done
timeout "${VISION_LIMIT:-150}" ./rmsmp-bench --suite vision --engines rmsmp-fp32,rmsmp-fixed8,rmsmp-mix \
  --vision-models resnet18,resnet50,efficientnet-lite0 --threads 2 --processes 1 --repeats 5 --work /tmp/rb \
  --out "$OUT/vision-cpu" 2>&1 | tail -8
n=$(nproc)
timeout 90 ./rmsmp-bench --suite e2e --models minilm-l6 --engines rmsmp-fixed8,rmsmp-mix --device cpu --batch 1,8 \
  --seq 16,128 --threads "$n" --processes 1 --repeats 5 --work /tmp/rb --out "$OUT/e2e-cpu-$n-threads" 2>&1 | tail -6
ls "$OUT"
RUN
chmod +x devcheck/run.sh
du -sh devcheck

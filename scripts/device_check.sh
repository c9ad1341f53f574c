#!/usr/bin/env bash
# Prepared check for a lent device machine (the `device` tool: 16 cores, AVX-512 VNNI + AMX, a GPU; it cannot
# install packages, so the binaries travel with their libraries, and each call carries at most 64 MiB).
#   bash scripts/device_check.sh prepare   # here, after a Release build: devcheck/, devcheck-a/, devcheck-b/
# Then three calls there, back to back (a machine stays warm 30 s after each):
#   carry devcheck-a:  bash devcheck-a/stash.sh      # the MiniLM checkpoint, first part, into /tmp/devstash
#   carry devcheck-b:  bash devcheck-b/stash.sh      # second part; the checkpoint is reassembled there
#   carry devcheck:    bash devcheck/run.sh          # tests + benchmarks; results under $OUT
# run.sh: the whole rmsmp_tests suite (all of it when the checkpoint was stashed; otherwise the tests that need
# it fail and say so), as 8 shards of 2 OpenMP threads, then the thread-partition-sensitive tests again at
# every core; then rmsmp-bench beside ONNX Runtime (the machine's own python3 with onnx + onnxruntime) at 2
# threads and at every core. RUN_ONLY=tests|bench runs one half; TESTS=FILTER narrows the tests.
# The CTest-only checks (install consumer, RTL simulation, Python package, real OpenAI/HF clients) need tools
# that machine lacks (iverilog, the clients, a matching Python ABI); they run in CI here.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${1:-}" = prepare ] || { echo "usage: bash scripts/device_check.sh prepare" >&2; exit 2; }
rm -rf devcheck devcheck-a devcheck-b && mkdir -p devcheck/pkg/lib devcheck-a devcheck-b
for b in tests/rmsmp_tests apps/rmsmp-bench apps/rmsmp-run apps/rmsmp-convert apps/rmsmp-serve apps/rmsmp-fpga; do
  cp "build/$b" devcheck/pkg/ && strip "devcheck/pkg/$(basename "$b")"
done
for lib in libutf8proc.so.2 libdnnl.so.2 libgomp.so.1 libstdc++.so.6 libOpenCL.so.1 libgcc_s.so.1 libz.so.1 \
           libsentencepiece.so.0 libprotobuf-lite.so.32 libcpp-httplib.so.0.11 libjpeg.so.62 libpng16.so.16; do
  f=$(ldconfig -p | awk -v l="$lib" '$1 == l && !f {f = $NF} END {print f}')  # no early exit: SIGPIPE + pipefail
  [ -n "$f" ] && cp -L "$f" devcheck/pkg/lib/
done
tar -C devcheck/pkg -cf - . | xz -T2 -6 > devcheck/pkg.tar.xz && rm -rf devcheck/pkg  # 40 MB -> 12 MB
# Vision inputs: the EfficientNet-Lite0 .pth, the calibration photos, and Fashion-MNIST's test files (the ISA
# bit-identity test calibrates on "train" images: the test images stand in for them there).
mkdir -p devcheck/vision/calib devcheck/vision/fmnist
cp "$(bash scripts/checkpoint_dir.sh --effnet)" devcheck/vision/effnet.pth
cp "$(bash scripts/calib_images.sh)"/*.{png,jpg} devcheck/vision/calib/
FM=/usr/share/datasets/fashion-mnist
cp $FM/t10k-images-idx3-ubyte.gz $FM/t10k-labels-idx1-ubyte.gz devcheck/vision/fmnist/
cp $FM/t10k-images-idx3-ubyte.gz devcheck/vision/fmnist/train-images-idx3-ubyte.gz
git rev-parse --short=12 HEAD > devcheck/GIT_SHA  # the commit these binaries were built from (a clean tree)
# all-MiniLM-L6-v2 (91 MB; 82 MB as xz) in two parts, one per call, with the small files in the first.
CK=$(bash scripts/checkpoint_dir.sh)
mkdir -p devcheck-a/ckpt && (cd "$CK" && find . -type f ! -name model.safetensors ! -name '.*' -exec cp --parents {} "$OLDPWD/devcheck-a/ckpt/" \;)
xz -T2 -6 -c "$CK/model.safetensors" | split -b 46M - devcheck-a/model.xz.
mv devcheck-a/model.xz.ab devcheck-b/
sha256sum "$CK/model.safetensors" | cut -d' ' -f1 > devcheck-a/model.sha256
for d in devcheck-a devcheck-b; do
  cat > $d/stash.sh <<'STASH'
#!/usr/bin/env bash
# Keeps this part on the warm machine for the next call; reassembles the checkpoint once both parts are there.
set -e
mkdir -p /tmp/devstash && cp -r "$(dirname "$0")"/. /tmp/devstash/ && cd /tmp/devstash
if [ -f model.xz.aa ] && [ -f model.xz.ab ] && [ ! -f ckpt/model.safetensors ]; then
  cat model.xz.aa model.xz.ab | python3 -c "import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.stdin.buffer), sys.stdout.buffer)" > ckpt/model.safetensors
  echo "$(cat model.sha256)  ckpt/model.safetensors" | sha256sum -c && rm model.xz.a?
fi
ls -la /tmp/devstash /tmp/devstash/ckpt; nproc; lscpu | grep "Model name"
STASH
done
cp scripts/device_run.sh devcheck/run.sh
du -sh devcheck devcheck-a devcheck-b

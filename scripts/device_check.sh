#!/usr/bin/env bash
# Prepared check for a lent GPU/AVX-512 machine (the `device` tool; it cannot install packages, so the
# binaries travel with their libraries). Two steps:
#   bash scripts/device_check.sh prepare     # here: bundles build/ binaries + libs into devcheck/ (git-ignored)
#   bash devcheck/run.sh                     # there (carry devcheck): AVX-512 kernels, OpenCL on its GPU, benchmarks
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${1:-}" = prepare ] || { echo "usage: bash scripts/device_check.sh prepare" >&2; exit 2; }
rm -rf devcheck && mkdir -p devcheck/lib devcheck/data
cp build/tests/rmsmp_tests build/benchmarks/bench_ops build/apps/rmsmp-run build/apps/rmsmp-convert devcheck/
strip devcheck/rmsmp_tests devcheck/bench_ops devcheck/rmsmp-run devcheck/rmsmp-convert
for lib in libutf8proc.so.2 libdnnl.so.2 libgomp.so.1 libstdc++.so.6 libOpenCL.so.1 libbenchmark.so.1 libgcc_s.so.1 \
           libsentencepiece.so.0 libprotobuf-lite.so.32 libcpp-httplib.so.0.11; do
  f=$(ldconfig -p | awk -v l="$lib" '$1 == l {print $NF; exit}')
  [ -n "$f" ] && cp -L "$f" devcheck/lib/
done
cp -r tests/data/tiny_classifier devcheck/data/
cat > devcheck/run.sh <<'RUN'
#!/usr/bin/env bash
# Runs on the lent machine: CPU ISA kernels, the OpenCL backend on every OpenCL device there (a GPU's ICD under
# /etc/OpenCL/vendors), and the linear-layer micro-benchmarks for cpu and opencl.
cd "$(dirname "$0")"
export LD_LIBRARY_PATH=$PWD/lib  # the selected tests need no data files
lscpu | grep -E "Model name|^CPU\(s\)"; nvidia-smi -L 2>/dev/null; ls /etc/OpenCL/vendors 2>/dev/null
./rmsmp-run devices
./rmsmp_tests --gtest_filter='Backends*:OpenCl.Encoder*:ActQuant*:PortableMath*' 2>&1 | grep -E "OK|SKIP|FAIL|Failure" | tail -40
./rmsmp-convert --quiet --scheme fixed8 --in data/tiny_classifier --out /tmp/tc.rmsmp
for d in $(./rmsmp-run devices | awk '/^opencl:/ {print $1}'); do
  echo "== $d"; ./rmsmp-run embed --model /tmp/tc.rmsmp --text "the movie was good !" --device "$d" | head -c 120; echo
done
OMP_NUM_THREADS=2 ./bench_ops --benchmark_filter='linear/(cpu|opencl)/(fixed8|pot4)' --benchmark_min_time=0.2 2>&1 | grep -E "linear|Error"
RUN
chmod +x devcheck/run.sh
du -sh devcheck

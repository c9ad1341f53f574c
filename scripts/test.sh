#!/usr/bin/env bash
# Quick start 2: set up, build, and run the whole test suite through CTest; then the same suite under
# AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/), except the MiniLM.* real-checkpoint tests
# (under ASan their full conversions take about 4.5 minutes each; the normal build runs them in full), the two
# tests that calibrate EfficientNet-Lite0 (the same calibration code runs under ASan on the ResNet-20), and the
# install test (its out-of-tree consumer is built without sanitizers, so it cannot load the ASan library).
# Between the two, a CPU-only build (-DRMSMP_WITH_OPENCL=OFF) and the tests that switch touches.
# RMSMP_TEST_SANITIZE=0 / RMSMP_TEST_CPU_ONLY=0 skip those passes (faster local iterations); CI runs all three.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
export RMSMP_CHECKPOINT_DIR="$(bash scripts/checkpoint_dir.sh)"
export RMSMP_EFFNET_PTH="$(bash scripts/checkpoint_dir.sh --effnet)"
export RMSMP_CALIB_IMAGES="$(bash scripts/calib_images.sh)"
(cd build && ctest --output-on-failure -j "$(nproc)" "$@")
if [ "${RMSMP_TEST_CPU_ONLY:-1}" != 0 ]; then
  # The CPU-only build (no OpenCL headers or loader needed): only backends/registry.cc and the OpenCL sources
  # differ from build/, so ccache makes it a relink (about 15 s here). Its tests are the ones the switch
  # touches: the backend table and sweep, the CLI (which names the missing backend), every model family's
  # goldens on the remaining backends, the CNN graph, the C ABI and the installed package (whose CMake config
  # and pkg-config file then ask for no OpenCL). About 40 s on 2 vCPUs.
  echo "== CPU-only build (build-cpu/: -DRMSMP_WITH_OPENCL=OFF) and the tests it touches"
  BUILD_DIR=build-cpu bash scripts/build.sh -DRMSMP_WITH_OPENCL=OFF -DRMSMP_BUILD_BENCHMARKS=OFF -DRMSMP_BUILD_PYTHON=OFF
  (cd build-cpu && ctest --output-on-failure -j "$(nproc)" -E 'OpenCl' \
     -R '^(Backends|BackendRegistry|BackendChecks|Cli|TinyBert|MpNet|Roberta|XlmRoberta|DistilBert|Context|CnnFmnist|CnnOps|CApi|Install|EncoderOps|Cpu[A-Za-z]*)[./]')
fi
if [ "${RMSMP_TEST_SANITIZE:-1}" != 0 ]; then
  echo "== ASan + UBSan suite (build-asan/)"
  # -O1 -g1: half the compile time of -O2 -g (measured: 23 s vs 40 s for tests/vision/cnn_test.cc), with line
  # numbers still in every report; the suite runs a little slower, the whole pass about 3 minutes faster.
  # No Python module there: an ASan-instrumented extension cannot load into an uninstrumented interpreter.
  BUILD_DIR=build-asan BUILD_TYPE=RelWithDebInfo bash scripts/build.sh -DRMSMP_SANITIZE=ON -DRMSMP_BUILD_BENCHMARKS=OFF \
    -DRMSMP_BUILD_PYTHON=OFF \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG"
  # tests/lsan.supp: a one-off leak inside PoCL's program compiler (third-party; see the file).
  # intercept_tls_get_addr=0: on the 2-vCPU Intel Emerald Rapids, LeakSanitizer's tracer crashed ("Tracer caught
  # signal 11", exit 134) at the exit of `rmsmp-run embed --device opencl` while walking the dynamic TLS of PoCL's
  # threads (PoCL is dlopen'ed by the ICD loader); the known libsanitizer fault of google/sanitizers#1267 / LLVM
  # D147459. Without the interception LSan does not scan dynamic TLS, which can only add leak reports, not hide
  # them.
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:intercept_tls_get_addr=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
     LSAN_OPTIONS=suppressions="$PWD/../tests/lsan.supp" \
     ctest --output-on-failure -j "$(nproc)" -E '^(MiniLM|Install)\.|^CnnEffNet\.(Rmsmp|EveryCpuIsa)' "$@")
fi

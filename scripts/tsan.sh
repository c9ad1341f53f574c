#!/usr/bin/env bash
# The documented ThreadSanitizer run: builds build-tsan/ and runs the concurrency tests (8 threads serving
# 10,000 mixed-length requests from one shared model). OMP_NUM_THREADS=1 because Debian's libgomp is not
# TSan-instrumented (its internal synchronisation would be reported as races); our own threads still race
# freely on the shared Model, which is what this run checks. Takes about 3 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
BUILD_DIR=build-tsan BUILD_TYPE=RelWithDebInfo bash scripts/build.sh -DRMSMP_TSAN=ON -DRMSMP_BUILD_BENCHMARKS=OFF
OMP_NUM_THREADS=1 TSAN_OPTIONS=halt_on_error=1 ./build-tsan/tests/rmsmp_tests --gtest_filter='Concurrency.*'

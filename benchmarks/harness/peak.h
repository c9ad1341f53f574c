// Register-only peak loops: the most multiply-accumulates per second this CPU's cores can retire for int8
// (the instruction sequence our kernels use for that ISA) and for fp32 FMA, with no memory traffic. GEMM
// results are reported as a fraction of these.
#pragma once
#include <cstdint>

#include "backends/cpu/isa.h"

namespace rmsmp::bench {

// MACs executed by `iters` iterations of each loop (per thread); the loops return a value to keep them live.
int64_t peak_int8_avx2(int64_t iters, int32_t* sink);      // vpmaddubsw + vpmaddwd + vpaddd, 12 chains x 32 MACs
int64_t peak_int8_avx512vnni(int64_t iters, int32_t* sink); // vpdpbusd zmm, 12 chains x 64 MACs
int64_t peak_fp32_avx2(int64_t iters, float* sink);         // vfmadd231ps ymm, 12 chains x 8
int64_t peak_fp32_avx512(int64_t iters, float* sink);       // vfmadd231ps zmm, 12 chains x 16

struct Peak {
  double gmacs = 0;       // 1e9 multiply-accumulates per second, all threads
  const char* loop = "";  // which loop measured it
};
// Median of `repeats` runs of ~0.1 s each on `threads` OpenMP threads; int8 uses the ISA given (generic: 0).
Peak measure_int8_peak(Isa isa, int threads, int repeats = 5);
Peak measure_fp32_peak(Isa isa, int threads, int repeats = 5);

}  // namespace rmsmp::bench

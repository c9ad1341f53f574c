// AVX-512 register-only loops (compiled with -mavx512f -mavx512bw -mavx512vnni; called after detection).
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "backends/cpu/isa/dpbusd.h"  // the kernels' vpdpbusd, without GCC 12's register copies
#include "harness/peak.h"

namespace rmsmp::bench {

int64_t peak_int8_avx512vnni(int64_t iters, int32_t* sink) {
  const __m512i a = _mm512_set1_epi8(3);
  __m512i b = _mm512_set1_epi8(-2);
  __m512i c[12];
  for (auto& v : c) v = _mm512_setzero_si512();
  for (int64_t i = 0; i < iters; ++i) {
#pragma GCC unroll 12
    for (int j = 0; j < 12; ++j) c[j] = dpbusd(c[j], a, b);
    __asm__ volatile("" : "+v"(b));
  }
  __m512i s = c[0];
  for (int j = 1; j < 12; ++j) s = _mm512_add_epi32(s, c[j]);
  // The sums wrap by design (billions of MACs); GCC's _mm512_reduce_add_epi32 adds as signed int, which UBSan
  // reports as overflow, so reduce in uint32 (wrapping is defined) and keep the bits.
  alignas(64) uint32_t lanes[16];
  _mm512_store_si512(lanes, s);
  uint32_t total = 0;
  for (uint32_t v : lanes) total += v;
  std::memcpy(sink, &total, sizeof total);
  return iters * 12 * 64;
}

int64_t peak_fp32_avx512(int64_t iters, float* sink) {
  const __m512 a = _mm512_set1_ps(1.0001f), b = _mm512_set1_ps(0.9999f);
  __m512 c[12];
  for (int j = 0; j < 12; ++j) c[j] = _mm512_set1_ps(float(j));
  for (int64_t i = 0; i < iters; ++i)
#pragma GCC unroll 12
    for (int j = 0; j < 12; ++j) c[j] = _mm512_fmadd_ps(a, c[j], b);
  __m512 s = c[0];
  for (int j = 1; j < 12; ++j) s = _mm512_add_ps(s, c[j]);
  *sink = _mm512_reduce_add_ps(s);
  return iters * 12 * 16;
}

}  // namespace rmsmp::bench

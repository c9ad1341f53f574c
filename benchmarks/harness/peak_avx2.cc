// AVX2 register-only loops (compiled with -mavx2 -mfma only; called after run-time detection).
#include <immintrin.h>

#include "harness/peak.h"

namespace rmsmp::bench {

int64_t peak_int8_avx2(int64_t iters, int32_t* sink) {
  // 12 independent chains; each product pairs one of 3 a's with one of 4 b's, and the b's are made opaque every
  // iteration, so the compiler can neither share nor hoist the vpmaddubsw of any chain.
  const __m256i a[3] = {_mm256_set1_epi8(3), _mm256_set1_epi8(5), _mm256_set1_epi8(7)}, one = _mm256_set1_epi16(1);
  __m256i b[4] = {_mm256_set1_epi8(-2), _mm256_set1_epi8(2), _mm256_set1_epi8(-3), _mm256_set1_epi8(4)};
  __m256i c[12];
  for (auto& v : c) v = _mm256_setzero_si256();
  for (int64_t i = 0; i < iters; ++i) {
    __asm__ volatile("" : "+x"(b[0]), "+x"(b[1]), "+x"(b[2]), "+x"(b[3]));
#pragma GCC unroll 12
    for (int j = 0; j < 12; ++j)
      c[j] = _mm256_add_epi32(c[j], _mm256_madd_epi16(_mm256_maddubs_epi16(a[j / 4], b[j % 4]), one));
  }
  __m256i s = c[0];
  for (int j = 1; j < 12; ++j) s = _mm256_add_epi32(s, c[j]);
  *sink = _mm256_extract_epi32(s, 0);
  return iters * 12 * 32;
}

int64_t peak_fp32_avx2(int64_t iters, float* sink) {
  const __m256 a = _mm256_set1_ps(1.0001f), b = _mm256_set1_ps(0.9999f);
  __m256 c[12];
  for (int j = 0; j < 12; ++j) c[j] = _mm256_set1_ps(float(j));
  for (int64_t i = 0; i < iters; ++i)
#pragma GCC unroll 12
    for (int j = 0; j < 12; ++j) c[j] = _mm256_fmadd_ps(a, c[j], b);
  __m256 s = c[0];
  for (int j = 1; j < 12; ++j) s = _mm256_add_ps(s, c[j]);
  *sink = _mm256_cvtss_f32(s);
  return iters * 12 * 8;
}

}  // namespace rmsmp::bench

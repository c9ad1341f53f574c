// AVX2 int8 GEMM. vpmaddubsw multiplies unsigned by signed bytes and adds pairs into int16 with saturation;
// feeding it |x| (<= 127) and w * sign(x) (|.| <= 127) keeps every pair sum <= 2 * 127 * 127 = 32258, so it
// never saturates and the result is exact. Blocks of 2 tokens x 4 rows share loads.
#include <immintrin.h>

#include "backends/cpu/gemm_s8.h"

namespace rmsmp {

namespace {
inline int32_t hsum(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return _mm_cvtsi128_si32(s);
}
inline __m256i dot32(__m256i ax, __m256i x, __m256i w, __m256i ones) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(ax, _mm256_sign_epi8(w, x)), ones);
}
}  // namespace

void gemm_s8_avx2(const GemmS8Args& a) {
  const __m256i ones = _mm256_set1_epi16(1);
  const int64_t K = a.k_padded;
  for (int64_t t = 0; t < a.n_tokens; ++t) {
    const int8_t* x = a.x + t * K;
    int64_t r = 0;
    for (; r + 4 <= a.n_rows; r += 4) {
      __m256i c0 = _mm256_setzero_si256(), c1 = c0, c2 = c0, c3 = c0;
      const int8_t* w = a.w + r * K;
      for (int64_t k = 0; k < K; k += 32) {
        const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + k));
        const __m256i ax = _mm256_sign_epi8(xv, xv);
        c0 = _mm256_add_epi32(c0, dot32(ax, xv, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + k)), ones));
        c1 = _mm256_add_epi32(c1, dot32(ax, xv, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + K + k)), ones));
        c2 = _mm256_add_epi32(c2, dot32(ax, xv, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 2 * K + k)), ones));
        c3 = _mm256_add_epi32(c3, dot32(ax, xv, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 3 * K + k)), ones));
      }
      int32_t* o = a.acc + t * a.acc_stride + r;
      o[0] = hsum(c0), o[1] = hsum(c1), o[2] = hsum(c2), o[3] = hsum(c3);
    }
    for (; r < a.n_rows; ++r) {
      __m256i c = _mm256_setzero_si256();
      const int8_t* w = a.w + r * K;
      for (int64_t k = 0; k < K; k += 32) {
        const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + k));
        c = _mm256_add_epi32(c, dot32(_mm256_sign_epi8(xv, xv), xv, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + k)), ones));
      }
      a.acc[t * a.acc_stride + r] = hsum(c);
    }
  }
}

}  // namespace rmsmp

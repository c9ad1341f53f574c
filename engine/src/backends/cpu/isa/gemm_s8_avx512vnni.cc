// AVX-512 VNNI int8 GEMM. vpdpbusd multiplies unsigned by signed bytes and accumulates groups of four into
// int32 without saturation; x is shifted to unsigned (x + 128 == x ^ 0x80) and the shift is removed with the
// precomputed row sums: sum (x + 128) w = sum x w + 128 sum w. Exact in int32 for |x|, |w| <= 127, K < 2^16.
#include <immintrin.h>

#include "backends/cpu/gemm_s8.h"

namespace rmsmp {

void gemm_s8_avx512vnni(const GemmS8Args& a) {
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  const int64_t K = a.k_padded;
  for (int64_t t = 0; t < a.n_tokens; ++t) {
    const int8_t* x = a.x + t * K;
    int64_t r = 0;
    for (; r + 4 <= a.n_rows; r += 4) {
      __m512i c0 = _mm512_setzero_si512(), c1 = c0, c2 = c0, c3 = c0;
      const int8_t* w = a.w + r * K;
      for (int64_t k = 0; k < K; k += 64) {
        const __m512i xu = _mm512_xor_si512(_mm512_loadu_si512(x + k), flip);
        c0 = _mm512_dpbusd_epi32(c0, xu, _mm512_loadu_si512(w + k));
        c1 = _mm512_dpbusd_epi32(c1, xu, _mm512_loadu_si512(w + K + k));
        c2 = _mm512_dpbusd_epi32(c2, xu, _mm512_loadu_si512(w + 2 * K + k));
        c3 = _mm512_dpbusd_epi32(c3, xu, _mm512_loadu_si512(w + 3 * K + k));
      }
      int32_t* o = a.acc + t * a.acc_stride + r;
      o[0] = _mm512_reduce_add_epi32(c0) - 128 * a.w_sum[r];
      o[1] = _mm512_reduce_add_epi32(c1) - 128 * a.w_sum[r + 1];
      o[2] = _mm512_reduce_add_epi32(c2) - 128 * a.w_sum[r + 2];
      o[3] = _mm512_reduce_add_epi32(c3) - 128 * a.w_sum[r + 3];
    }
    for (; r < a.n_rows; ++r) {
      __m512i c = _mm512_setzero_si512();
      const int8_t* w = a.w + r * K;
      for (int64_t k = 0; k < K; k += 64)
        c = _mm512_dpbusd_epi32(c, _mm512_xor_si512(_mm512_loadu_si512(x + k), flip), _mm512_loadu_si512(w + k));
      a.acc[t * a.acc_stride + r] = _mm512_reduce_add_epi32(c) - 128 * a.w_sum[r];
    }
  }
}

}  // namespace rmsmp

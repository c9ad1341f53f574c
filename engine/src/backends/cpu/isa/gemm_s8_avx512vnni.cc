// AVX-512 VNNI int8 panel GEMM. vpdpbusd multiplies unsigned by signed bytes and accumulates groups of four
// into int32 without saturation, so every scheme takes one path: xu = x + 128 against w, and the shift is
// removed with the row sums (sum (x + 128) w = sum x w + 128 sum w). Register tile: 4 rows x 2 tokens.
#include <immintrin.h>

#include <algorithm>

#include "backends/cpu/gemm_s8.h"

namespace rmsmp {

void gemm_s8_avx512vnni(const GemmS8Args& a) {
  const int64_t K = a.k_padded, T = a.n_tokens;
  for (int64_t r = 0; r < a.n_rows; r += 4) {
    const int64_t nr = std::min<int64_t>(4, a.n_rows - r);
    const int8_t* w[4];
    for (int i = 0; i < 4; ++i) w[i] = a.w + (r + std::min<int64_t>(i, nr - 1)) * K;  // tail rows repeat the last
    for (int64_t t = 0; t < T; t += 2) {
      const uint8_t* xa = a.xu + t * K;
      const uint8_t* xb = a.xu + std::min(t + 1, T - 1) * K;
      __m512i c[8];
      for (auto& v : c) v = _mm512_setzero_si512();
      for (int64_t k = 0; k < K; k += 64) {
        const __m512i va = _mm512_loadu_si512(xa + k), vb = _mm512_loadu_si512(xb + k);
        for (int i = 0; i < 4; ++i) {
          const __m512i q = _mm512_loadu_si512(w[i] + k);
          c[i] = _mm512_dpbusd_epi32(c[i], va, q);
          c[4 + i] = _mm512_dpbusd_epi32(c[4 + i], vb, q);
        }
      }
      for (int i = 0; i < nr; ++i) {
        const int32_t comp = 128 * a.w_sum[r + i];
        a.acc[t * a.acc_stride + r + i] = _mm512_reduce_add_epi32(c[i]) - comp;
        if (t + 1 < T) a.acc[(t + 1) * a.acc_stride + r + i] = _mm512_reduce_add_epi32(c[4 + i]) - comp;
      }
    }
  }
}

}  // namespace rmsmp

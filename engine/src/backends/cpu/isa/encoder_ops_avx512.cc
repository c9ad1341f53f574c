// AVX-512 GELU and attention: encoder_ops_simd.h at 16 lanes (see encoder_ops.h for the bit-identity argument),
// and per-token activation quantization. Compiled with -mavx512f only and -ffp-contract=off (global): the only
// fused operations are the explicit V::fma of the shared contract (simd_f32.h).
#include <immintrin.h>

#include <cmath>

#include "backends/cpu/isa/encoder_ops.h"
#include "backends/cpu/isa/encoder_ops_simd.h"
#include "backends/cpu/isa/simd_f32.h"

namespace rmsmp {

void gelu_avx512(float* x, int64_t n) { simd::gelu<simd::Avx512>(x, n); }

void linear_f32_exact_avx512(const float* x, int64_t T, int64_t K, const float* w, int64_t N, float* y,
                           int64_t y_stride, float* xt) {
  simd::linear_f32_exact<simd::Avx512>(x, T, K, w, N, y, y_stride, xt);
}

void quantize_scaled_avx512(const float* x, int64_t n, float inv, int max_q, int8_t* q) {
  // act_round_sat (quant/row_mixed.h) per lane, in 9 operations per 16 values instead of 15:
  //  - clamp to +-max_q first (NaN -> -max_q: max_ps returns its second operand for a NaN first). act_round_sat
  //    clamps to +-(max_q + 1), rounds, then clamps to +-max_q; every v beyond +-(max_q - 0.5) ends at +-max_q
  //    either way, and no v within is changed, so no integer clamp is needed after the rounding;
  //  - round half away from zero as trunc(v + copysign(c, v)), c = 0.5 - 2^-25 (the float below 0.5). Exact
  //    for every float: when v's fraction is >= 0.5 the exact sum is at least the next integer minus 2^-25,
  //    which rounds up to it (2^-25 is under half an ulp there, and a tie goes to the integer's even
  //    mantissa), and when it is below 0.5 the sum stays at least an ulp of v minus 2^-25 below (for
  //    0.25 <= v < 0.5 it is at most 1 - 2^-24, representable). Test CpuQuantize.* checks every half-way
  //    neighbourhood against act_round_sat.
  const __m512 lim = _mm512_set1_ps(float(max_q)), nlim = _mm512_set1_ps(-float(max_q)), vinv = _mm512_set1_ps(inv);
  const __m512i sign = _mm512_set1_epi32(int32_t(0x80000000u)), c = _mm512_set1_epi32(0x3effffff);  // 0.5 - 2^-25
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512 v = _mm512_mul_ps(_mm512_loadu_ps(x + i), vinv);
    v = _mm512_min_ps(_mm512_max_ps(v, nlim), lim);
    const __m512 half = _mm512_castsi512_ps(_mm512_ternarylogic_epi32(_mm512_castps_si512(v), sign, c, 0xEA));  // (v & sign) | c
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + i), _mm512_cvtepi32_epi8(_mm512_cvttps_epi32(_mm512_add_ps(v, half))));
  }
  for (; i < n; ++i) q[i] = act_round_sat(x[i] * inv, max_q);
}

float act_quantize_row_avx512(const float* x, int64_t n, const ActQuant& aq, int8_t* q) {
  const int max_q = act_max_q(aq);
  float range = aq.clip;
  int64_t i = 0;
  if (aq.dynamic) {  // max |x|; max_ps(a, r) keeps r where a is NaN, as the reference's `a > r ? a : r`
    __m512 r = _mm512_setzero_ps();
    for (; i + 16 <= n; i += 16) r = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(x + i)), r);
    alignas(64) float lanes[16];
    _mm512_store_ps(lanes, r);
    range = 0.f;
    for (float l : lanes) range = l > range ? l : range;
    for (; i < n; ++i) {
      const float a = std::fabs(x[i]);
      range = a > range ? a : range;
    }
  }
  if (!(range > 0.f)) {
    for (i = 0; i < n; ++i) q[i] = 0;
    return 0.f;
  }
  const float step = range / float(max_q);
  const float inv = 1.f / step;
  quantize_scaled_avx512(x, n, inv, max_q, q);
  return step;
}

void attention_head_avx512(const float* q, const float* k, const float* v, int64_t len, int64_t stride,
                           int64_t head_dim, float* out, float* scratch, const float* rel_bias) {
  simd::attention_head<simd::Avx512>(q, k, v, len, stride, head_dim, out, scratch, rel_bias);
}

}  // namespace rmsmp

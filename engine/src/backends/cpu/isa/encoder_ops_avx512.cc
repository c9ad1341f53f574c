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
  // act_round_sat (quant/row_mixed.h) per lane: clamp to +-(max_q + 1) (NaN -> -lim: max_ps returns its second
  // operand for a NaN first), truncate, round half away from zero on the exact fraction, clamp to +-max_q.
  const __m512 lim = _mm512_set1_ps(float(max_q) + 1.f), nlim = _mm512_set1_ps(-(float(max_q) + 1.f));
  const __m512 vinv = _mm512_set1_ps(inv), half = _mm512_set1_ps(0.5f), nhalf = _mm512_set1_ps(-0.5f);
  const __m512i qmax = _mm512_set1_epi32(max_q), qmin = _mm512_set1_epi32(-max_q), one = _mm512_set1_epi32(1);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512 v = _mm512_mul_ps(_mm512_loadu_ps(x + i), vinv);
    v = _mm512_min_ps(_mm512_max_ps(v, nlim), lim);
    __m512i iv = _mm512_cvttps_epi32(v);
    const __m512 frac = _mm512_sub_ps(v, _mm512_cvtepi32_ps(iv));
    iv = _mm512_mask_add_epi32(iv, _mm512_cmp_ps_mask(frac, half, _CMP_GE_OQ), iv, one);
    iv = _mm512_mask_sub_epi32(iv, _mm512_cmp_ps_mask(frac, nhalf, _CMP_LE_OQ), iv, one);
    iv = _mm512_max_epi32(_mm512_min_epi32(iv, qmax), qmin);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + i), _mm512_cvtepi32_epi8(iv));
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

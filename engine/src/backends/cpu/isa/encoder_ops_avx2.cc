// AVX2 encoder ops (see encoder_ops.h for the bit-identity argument): GELU and attention are encoder_ops_simd.h
// at 8 lanes; LayerNorm, activation quantization and the GEMM epilogue are written here. Compiled with -mavx2
// and -ffp-contract=off (global), and the intrinsics below are separate multiplies and adds by construction.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "backends/cpu/isa/encoder_ops.h"
#include "backends/cpu/isa/encoder_ops_simd.h"
#include "backends/cpu/isa/simd_f32.h"
#include "core/portable_math.h"

namespace rmsmp {

namespace {
inline __m256 mul(__m256 a, __m256 b) { return _mm256_mul_ps(a, b); }
inline __m256 add(__m256 a, __m256 b) { return _mm256_add_ps(a, b); }
inline __m256 set(float v) { return _mm256_set1_ps(v); }
}  // namespace

void gelu_avx2(float* x, int64_t n) { simd::gelu<simd::Avx2>(x, n); }

void linear_f32_exact_avx2(const float* x, int64_t T, int64_t K, const float* w, int64_t N, float* y,
                           int64_t y_stride, float* xt) {
  simd::linear_f32_exact<simd::Avx2>(x, T, K, w, N, y, y_stride, xt);
}

void attention_head_avx2(const float* q, const float* k, const float* v, int64_t len, int64_t stride,
                         int64_t head_dim, float* out, float* scratch, const float* rel_bias) {
  simd::attention_head<simd::Avx2>(q, k, v, len, stride, head_dim, out, scratch, rel_bias);
}

namespace {

// 8 rows of 8 floats (src + i * src_stride) -> dst[c * 8 + i]: the classic unpack/shuffle/permute transpose.
inline void transpose8x8(const float* src, int64_t src_stride, float* dst) {
  __m256 r[8], t[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * src_stride);
  for (int i = 0; i < 8; i += 2) t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]), t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  for (int i = 0; i < 8; i += 4) {
    r[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44), r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
    r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44), r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  for (int i = 0; i < 4; ++i) {
    _mm256_storeu_ps(dst + i * 8, _mm256_permute2f128_ps(r[i], r[i + 4], 0x20));
    _mm256_storeu_ps(dst + (i + 4) * 8, _mm256_permute2f128_ps(r[i], r[i + 4], 0x31));
  }
}

}  // namespace

// 8 tokens at a time, one per lane (two __m256d of 4 for the double sums), so each token's serial chains of
// double adds (mean, then variance, i in order as the reference) run 8 at once. v = x + residual (or + 0.f) is
// formed per token first, so y may alias x or residual (each token's y is written after its v is complete).
void layer_norm_avx2(const float* x, const float* residual, const float* gamma, const float* beta, float eps,
                     int64_t n_tokens, int64_t dim, float* y, float* scratch) {
  float* v = scratch;             // 8 x dim: the block's v rows
  float* vt = scratch + 8 * dim;  // dim8 x 8: v transposed (dims past dim are never read)
  const int64_t d8 = dim / 8 * 8;
  for (int64_t t0 = 0; t0 < n_tokens; t0 += 8) {
    const int64_t nt = std::min<int64_t>(8, n_tokens - t0);
    for (int64_t i = 0; i < 8; ++i) {  // lanes past the last token repeat it, and are never stored
      const int64_t t = t0 + std::min(i, nt - 1);
      const float* xr = x + t * dim;
      const float* rr = residual ? residual + t * dim : nullptr;
      float* vr = v + i * dim;
      int64_t d = 0;
      for (; d + 8 <= dim; d += 8)
        _mm256_storeu_ps(vr + d, add(_mm256_loadu_ps(xr + d), rr ? _mm256_loadu_ps(rr + d) : _mm256_setzero_ps()));
      for (; d < dim; ++d) vr[d] = xr[d] + (rr ? rr[d] : 0.f);
    }
    for (int64_t d = 0; d < d8; d += 8) transpose8x8(v + d, dim, vt + d * 8);
    for (int64_t d = d8; d < dim; ++d)
      for (int i = 0; i < 8; ++i) vt[d * 8 + i] = v[i * dim + d];
    auto lo = [&](int64_t d) { return _mm256_cvtps_pd(_mm_loadu_ps(vt + d * 8)); };
    auto hi = [&](int64_t d) { return _mm256_cvtps_pd(_mm_loadu_ps(vt + d * 8 + 4)); };
    __m256d m0 = _mm256_setzero_pd(), m1 = m0;
    for (int64_t d = 0; d < dim; ++d) m0 = _mm256_add_pd(m0, lo(d)), m1 = _mm256_add_pd(m1, hi(d));
    const __m256d n = _mm256_set1_pd(double(dim));
    m0 = _mm256_div_pd(m0, n), m1 = _mm256_div_pd(m1, n);
    __m256d s0 = _mm256_setzero_pd(), s1 = s0;
    for (int64_t d = 0; d < dim; ++d) {
      const __m256d a = _mm256_sub_pd(lo(d), m0), b = _mm256_sub_pd(hi(d), m1);
      s0 = _mm256_add_pd(s0, _mm256_mul_pd(a, a)), s1 = _mm256_add_pd(s1, _mm256_mul_pd(b, b));
    }
    s0 = _mm256_div_pd(s0, n), s1 = _mm256_div_pd(s1, n);
    alignas(32) double mean[8], var[8];
    _mm256_store_pd(mean, m0), _mm256_store_pd(mean + 4, m1), _mm256_store_pd(var, s0), _mm256_store_pd(var + 4, s1);
    for (int64_t i = 0; i < nt; ++i) {
      const float fm = float(mean[i]), inv = float(1.0 / std::sqrt(var[i] + double(eps)));
      const __m256 vfm = set(fm), vinv = set(inv);
      const float* vr = v + i * dim;
      float* yr = y + (t0 + i) * dim;
      int64_t d = 0;
      for (; d + 8 <= dim; d += 8)
        _mm256_storeu_ps(yr + d, add(mul(mul(_mm256_sub_ps(_mm256_loadu_ps(vr + d), vfm), vinv), _mm256_loadu_ps(gamma + d)),
                                     _mm256_loadu_ps(beta + d)));
      for (; d < dim; ++d) yr[d] = (vr[d] - fm) * inv * gamma[d] + beta[d];
    }
  }
}

float act_quantize_row_avx2(const float* x, int64_t n, const ActQuant& aq, int8_t* q, uint8_t* qu) {
  const int max_q = act_max_q(aq);
  float range = aq.clip;
  int64_t i = 0;
  if (aq.dynamic) {  // max |x|; max_ps(a, r) keeps r where a is NaN, as the reference's `a > r ? a : r`
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 r = _mm256_setzero_ps();
    for (; i + 8 <= n; i += 8) r = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(x + i), absmask), r);
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, r);
    range = 0.f;
    for (float l : lanes) range = l > range ? l : range;
    for (; i < n; ++i) {
      const float a = std::fabs(x[i]);
      range = a > range ? a : range;
    }
  }
  if (!(range > 0.f)) {
    for (i = 0; i < n; ++i) q[i] = 0, qu[i] = 128;
    return 0.f;
  }
  const float step = range / float(max_q);
  const float inv = 1.f / step;
  // act_round_sat (quant/row_mixed.h) per lane: clamp to +-(max_q + 1) (NaN -> -lim), truncate, round half away from
  // zero on the exact fraction, clamp to +-max_q.
  const __m256 lim = set(float(max_q) + 1.f), nlim = set(-(float(max_q) + 1.f)), vinv = set(inv);
  const __m256i qmax = _mm256_set1_epi32(max_q), qmin = _mm256_set1_epi32(-max_q);
  auto quant8 = [&](const float* p) {
    __m256 v = mul(_mm256_loadu_ps(p), vinv);
    v = _mm256_blendv_ps(nlim, v, _mm256_cmp_ps(v, nlim, _CMP_GE_OQ));
    v = _mm256_min_ps(v, lim);
    __m256i iv = _mm256_cvttps_epi32(v);
    const __m256 frac = _mm256_sub_ps(v, _mm256_cvtepi32_ps(iv));
    iv = _mm256_sub_epi32(iv, _mm256_castps_si256(_mm256_cmp_ps(frac, set(0.5f), _CMP_GE_OQ)));
    iv = _mm256_add_epi32(iv, _mm256_castps_si256(_mm256_cmp_ps(frac, set(-0.5f), _CMP_LE_OQ)));
    return _mm256_max_epi32(_mm256_min_epi32(iv, qmax), qmin);
  };
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7), flip = _mm256_set1_epi8(static_cast<char>(0x80));
  for (i = 0; i + 32 <= n; i += 32) {  // 32 values -> int8 (packs keep them: already within +-127)
    const __m256i p01 = _mm256_packs_epi32(quant8(x + i), quant8(x + i + 8));
    const __m256i p23 = _mm256_packs_epi32(quant8(x + i + 16), quant8(x + i + 24));
    const __m256i b = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(p01, p23), order);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + i), b);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(qu + i), _mm256_xor_si256(b, flip));
  }
  for (; i < n; ++i) {
    float v = x[i] * inv;
    const float lm = float(max_q) + 1.f;
    if (!(v >= -lm)) v = -lm;
    if (v > lm) v = lm;
    int iv = static_cast<int>(v);
    const float frac = v - static_cast<float>(iv);
    iv += (frac >= 0.5f) - (frac <= -0.5f);
    iv = iv > max_q ? max_q : (iv < -max_q ? -max_q : iv);
    q[i] = int8_t(iv), qu[i] = uint8_t(iv + 128);
  }
  return step;
}

void quantize_scaled_avx2(const float* x, int64_t n, float inv, int max_q, int8_t* q) {
  // quantize_scaled_avx512's operations (clamp first, NaN -> -max_q; trunc(v + copysign(0.5 - 2^-25, v))),
  // 32 values per step, packed to bytes with two saturating packs (exact: |q| <= 127) and one dword permute
  // that undoes their lane interleaving. The target_clones version's AVX2 clone converted int32 lanes to bytes
  // one by one: 31% of EfficientNet-Lite0 on AVX2 (perf, 1 thread), where CNNs quantize every conv input.
  const __m256 lim = _mm256_set1_ps(float(max_q)), nlim = _mm256_set1_ps(-float(max_q)), vinv = _mm256_set1_ps(inv);
  const __m256 sign = _mm256_castsi256_ps(_mm256_set1_epi32(int32_t(0x80000000u)));
  const __m256 c = _mm256_castsi256_ps(_mm256_set1_epi32(0x3effffff));  // 0.5 - 2^-25
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  auto round8 = [&](const float* p) __attribute__((always_inline)) {
    __m256 v = _mm256_mul_ps(_mm256_loadu_ps(p), vinv);
    v = _mm256_min_ps(_mm256_max_ps(v, nlim), lim);  // max_ps returns nlim for a NaN v
    return _mm256_cvttps_epi32(_mm256_add_ps(v, _mm256_or_ps(_mm256_and_ps(v, sign), c)));
  };
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256i a = _mm256_packs_epi32(round8(x + i), round8(x + i + 8));
    const __m256i b = _mm256_packs_epi32(round8(x + i + 16), round8(x + i + 24));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + i),
                        _mm256_permutevar8x32_epi32(_mm256_packs_epi16(a, b), order));
  }
  for (; i < n; ++i) q[i] = act_round_sat(x[i] * inv, max_q);
}

void epilogue_avx2(const int32_t* acc, int64_t T, int64_t nj, const float* xs, const float* wstep, const float* bias,
                   float* out, int64_t out_stride) {
  for (int64_t t = 0; t < T; ++t) {
    const __m256 xt = set(xs[t]);
    const int32_t* a = acc + t * nj;
    float* o = out + t * out_stride;
    int64_t j = 0;
    for (; j + 8 <= nj; j += 8) {  // float(acc) * (x_step * w_step) + bias, as rowq_epilogue
      const __m256 s = mul(xt, _mm256_loadu_ps(wstep + j));
      const __m256 f = _mm256_cvtepi32_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + j)));
      _mm256_storeu_ps(o + j, add(mul(f, s), _mm256_loadu_ps(bias + j)));
    }
    for (; j < nj; ++j) o[j] = rowq_epilogue(a[j], xs[t], wstep[j], bias[j]);
  }
}

}  // namespace rmsmp

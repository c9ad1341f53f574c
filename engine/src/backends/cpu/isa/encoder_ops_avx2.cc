// AVX2 GELU and attention (see encoder_ops.h for the bit-identity argument). Compiled with -mavx2 and
// -ffp-contract=off (global), and the intrinsics below are separate multiplies and adds by construction.
#include <immintrin.h>

#include <cmath>

#include "backends/cpu/isa/encoder_ops.h"
#include "backends/cpu/isa/vmath_avx2.h"
#include "core/portable_math.h"

namespace rmsmp {

using namespace avx2;

void gelu_avx2(float* x, int64_t n) {
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {  // 4 vectors in lockstep (see vmath_avx2.h)
    __m256 v[4], a[4], e[4];
    for (int j = 0; j < 4; ++j) v[j] = _mm256_loadu_ps(x + i + 8 * j), a[j] = mul(v[j], set(0.70710678118654752f));
    erff8n<4>(a, e);
    for (int j = 0; j < 4; ++j) _mm256_storeu_ps(x + i + 8 * j, mul(mul(set(0.5f), v[j]), add(set(1.f), e[j])));
  }
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    const __m256 e = erff8(mul(v, set(0.70710678118654752f)));
    _mm256_storeu_ps(x + i, mul(mul(set(0.5f), v), add(set(1.f), e)));  // (0.5 x) (1 + erf), as the reference
  }
  for (; i < n; ++i) x[i] = 0.5f * x[i] * (1.f + pm_erff(x[i] * 0.70710678118654752f));
}

void attention_head_avx2(const float* q, const float* k, const float* v, int64_t len, int64_t stride,
                         int64_t head_dim, float* out, float* scratch) {
  const float scale = 1.f / std::sqrt(float(head_dim));
  const int64_t lp = (len + 7) / 8 * 8;  // keys padded to whole vectors (padding lanes are never read back)
  float* kt = scratch;                   // head_dim x lp: K transposed, so 8 keys' d-th elements are one load
  float* p = scratch + head_dim * lp;    // lp scores of the current query
  for (int64_t j = 0; j < lp; ++j)
    for (int64_t d = 0; d < head_dim; ++d) kt[d * lp + j] = j < len ? k[j * stride + d] : 0.f;
  for (int64_t i = 0; i < len; ++i) {
    const float* qi = q + i * stride;
    // s_j = sum_d q[d] k_j[d], d in order, one key per lane. Each sum is one serial chain of adds (that order
    // is the reference's), so 4 blocks of 8 keys run side by side to hide the add latency.
    int64_t jb = 0;
    for (; jb + 32 <= lp; jb += 32) {
      __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
      for (int64_t d = 0; d < head_dim; ++d) {
        const __m256 qd = set(qi[d]);
        const float* kd = kt + d * lp + jb;
        s0 = add(s0, mul(qd, _mm256_loadu_ps(kd)));
        s1 = add(s1, mul(qd, _mm256_loadu_ps(kd + 8)));
        s2 = add(s2, mul(qd, _mm256_loadu_ps(kd + 16)));
        s3 = add(s3, mul(qd, _mm256_loadu_ps(kd + 24)));
      }
      _mm256_storeu_ps(p + jb, mul(s0, set(scale)));
      _mm256_storeu_ps(p + jb + 8, mul(s1, set(scale)));
      _mm256_storeu_ps(p + jb + 16, mul(s2, set(scale)));
      _mm256_storeu_ps(p + jb + 24, mul(s3, set(scale)));
    }
    for (; jb < lp; jb += 8) {
      __m256 s0 = _mm256_setzero_ps();
      for (int64_t d = 0; d < head_dim; ++d) s0 = add(s0, mul(set(qi[d]), _mm256_loadu_ps(kt + d * lp + jb)));
      _mm256_storeu_ps(p + jb, mul(s0, set(scale)));
    }
    // max_ps(p, m) keeps m where p is NaN, as fmax does; max is exact and order-free otherwise.
    __m256 vm = set(-INFINITY);
    int64_t j = 0;
    for (; j + 8 <= len; j += 8) vm = _mm256_max_ps(_mm256_loadu_ps(p + j), vm);
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, vm);
    float mx = -INFINITY;
    for (float l : lanes) mx = std::fmax(mx, l);
    for (; j < len; ++j) mx = std::fmax(mx, p[j]);
    j = 0;
    for (; j + 32 <= len; j += 32) {
      __m256 a[4], e[4];
      for (int u = 0; u < 4; ++u) a[u] = _mm256_sub_ps(_mm256_loadu_ps(p + j + 8 * u), set(mx));
      expf8n<4>(a, e);
      for (int u = 0; u < 4; ++u) _mm256_storeu_ps(p + j + 8 * u, e[u]);
    }
    for (; j + 8 <= len; j += 8) _mm256_storeu_ps(p + j, expf8(_mm256_sub_ps(_mm256_loadu_ps(p + j), set(mx))));
    for (; j < len; ++j) p[j] = pm_expf(p[j] - mx);
    float sum = 0.f;
    for (j = 0; j < len; ++j) sum += p[j];
    for (j = 0; j < len; ++j) p[j] = p[j] / sum;  // the reference's p_j / sum, once per key
    float* oi = out + i * stride;
    // o[d] = sum_j (p_j / sum) v_j[d], j in order, one d per lane; 4 blocks of 8 dims side by side.
    int64_t d0 = 0;
    for (; d0 + 32 <= head_dim; d0 += 32) {
      __m256 o0 = _mm256_setzero_ps(), o1 = o0, o2 = o0, o3 = o0;
      for (j = 0; j < len; ++j) {
        const __m256 pj = set(p[j]);
        const float* vj = v + j * stride + d0;
        o0 = add(o0, mul(pj, _mm256_loadu_ps(vj)));
        o1 = add(o1, mul(pj, _mm256_loadu_ps(vj + 8)));
        o2 = add(o2, mul(pj, _mm256_loadu_ps(vj + 16)));
        o3 = add(o3, mul(pj, _mm256_loadu_ps(vj + 24)));
      }
      _mm256_storeu_ps(oi + d0, o0);
      _mm256_storeu_ps(oi + d0 + 8, o1);
      _mm256_storeu_ps(oi + d0 + 16, o2);
      _mm256_storeu_ps(oi + d0 + 24, o3);
    }
    for (; d0 + 8 <= head_dim; d0 += 8) {
      __m256 o = _mm256_setzero_ps();
      for (j = 0; j < len; ++j) o = add(o, mul(set(p[j]), _mm256_loadu_ps(v + j * stride + d0)));
      _mm256_storeu_ps(oi + d0, o);
    }
    for (; d0 < head_dim; ++d0) {
      float o = 0.f;
      for (j = 0; j < len; ++j) o += p[j] * v[j * stride + d0];
      oi[d0] = o;
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
  // round_sat (act_quant.cc) per lane: clamp to +-(max_q + 1) (NaN -> -lim), truncate, round half away from
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

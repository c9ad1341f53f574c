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

}  // namespace rmsmp

// 8-lane AVX2 versions of core/portable_math.h's pm_expf and pm_erff: the same operations in the same order
// (separate multiply and add, never FMA; correctly rounded division), branches turned into blends, so every
// lane is bit-identical to the scalar function. Include only from TUs compiled with -mavx2.
#pragma once
#include <immintrin.h>

namespace rmsmp::avx2 {

inline __m256 mul(__m256 a, __m256 b) { return _mm256_mul_ps(a, b); }
inline __m256 add(__m256 a, __m256 b) { return _mm256_add_ps(a, b); }
inline __m256 set(float v) { return _mm256_set1_ps(v); }
inline __m256 neg(__m256 a) { return _mm256_xor_ps(a, _mm256_set1_ps(-0.f)); }  // exact, as unary minus

// N independent vectors in lockstep (N = 4 fills the out-of-order window: each vector is a ~25-deep chain of
// dependent multiplies and adds). Every lane still does exactly the scalar function's operations.
template <int N>
inline void expf8n(const __m256* x, __m256* out) {
  __m256 isnan[N], big[N], small[N], p[N];
  __m256i k[N];
#pragma GCC unroll 4
  for (int i = 0; i < N; ++i) {
    isnan[i] = _mm256_cmp_ps(x[i], x[i], _CMP_UNORD_Q);
    big[i] = _mm256_cmp_ps(x[i], set(88.7228394f), _CMP_GT_OQ);
    small[i] = _mm256_cmp_ps(x[i], set(-103.972084f), _CMP_LT_OQ);
    const __m256 fk = mul(x[i], set(1.44269504f));
    const __m256 half = _mm256_blendv_ps(set(-0.5f), set(0.5f), _mm256_cmp_ps(fk, _mm256_setzero_ps(), _CMP_GE_OQ));
    k[i] = _mm256_cvttps_epi32(add(fk, half));  // (int) truncates, as in C
  }
  __m256 r[N];
#pragma GCC unroll 4
  for (int i = 0; i < N; ++i) {
    const __m256 kf = _mm256_cvtepi32_ps(k[i]);
    r[i] = _mm256_sub_ps(_mm256_sub_ps(x[i], mul(kf, set(0.693145752f))), mul(kf, set(1.42860677e-6f)));
    p[i] = set(1.98412698e-4f);
  }
  for (float c : {1.38888889e-3f, 8.33333333e-3f, 4.16666667e-2f, 1.66666667e-1f, 0.5f, 1.f, 1.f})
#pragma GCC unroll 4
    for (int i = 0; i < N; ++i) p[i] = add(mul(p[i], r[i]), set(c));
  // The two rescaling steps run only when some lane needs them: computed for every lane, p * 2^-126 would
  // make subnormals (a slow microcode assist per instruction) for lanes whose result the blend then drops.
  // Lanes the final blends replace (NaN, overflow, underflow to 0: the scalar returns early) get k = 0 so
  // they never ask for a rescale: softmax's far-below-max scores would otherwise take the slow path.
  __m256i any = _mm256_setzero_si256();
#pragma GCC unroll 4
  for (int i = 0; i < N; ++i) {
    k[i] = _mm256_andnot_si256(_mm256_castps_si256(_mm256_or_ps(_mm256_or_ps(isnan[i], big[i]), small[i])), k[i]);
    any = _mm256_or_si256(any, _mm256_or_si256(_mm256_cmpgt_epi32(k[i], _mm256_set1_epi32(127)),
                                               _mm256_cmpgt_epi32(_mm256_set1_epi32(-126), k[i])));
  }
  if (!_mm256_testz_si256(any, any)) {  // rare: per vector, each step only where its lanes need it
    for (int i = 0; i < N; ++i) {
      const __m256i hi = _mm256_cmpgt_epi32(k[i], _mm256_set1_epi32(127));
      if (!_mm256_testz_si256(hi, hi)) {
        p[i] = _mm256_blendv_ps(p[i], mul(p[i], _mm256_castsi256_ps(_mm256_set1_epi32(0x7f000000))), _mm256_castsi256_ps(hi));
        k[i] = _mm256_sub_epi32(k[i], _mm256_and_si256(hi, _mm256_set1_epi32(127)));
      }
      const __m256i lo = _mm256_cmpgt_epi32(_mm256_set1_epi32(-126), k[i]);
      if (!_mm256_testz_si256(lo, lo)) {
        p[i] = _mm256_blendv_ps(p[i], mul(p[i], _mm256_castsi256_ps(_mm256_set1_epi32(0x00800000))), _mm256_castsi256_ps(lo));
        k[i] = _mm256_add_epi32(k[i], _mm256_and_si256(lo, _mm256_set1_epi32(126)));
      }
    }
  }
#pragma GCC unroll 4
  for (int i = 0; i < N; ++i) {
    __m256 res = mul(p[i], _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k[i], _mm256_set1_epi32(127)), 23)));
    res = _mm256_blendv_ps(res, _mm256_setzero_ps(), small[i]);
    res = _mm256_blendv_ps(res, _mm256_castsi256_ps(_mm256_set1_epi32(0x7f800000)), big[i]);
    out[i] = _mm256_blendv_ps(res, x[i], isnan[i]);
  }
}

inline __m256 expf8(__m256 x) {
  __m256 r;
  expf8n<1>(&x, &r);
  return r;
}

template <int N>
inline void erff8n(const __m256* x, __m256* out) {
  __m256 isneg[N], t[N], p[N], arg[N];
#pragma GCC unroll 4
  for (int i = 0; i < N; ++i) {
    isneg[i] = _mm256_cmp_ps(x[i], _mm256_setzero_ps(), _CMP_LT_OQ);
    const __m256 z = _mm256_blendv_ps(x[i], neg(x[i]), isneg[i]);
    t[i] = _mm256_div_ps(set(1.f), add(set(1.f), mul(set(0.5f), z)));
    p[i] = set(0.17087277f);
    arg[i] = mul(neg(z), z);  // -z * z
  }
  for (float c : {-0.82215223f, 1.48851587f, -1.13520398f, 0.27886807f, -0.18628806f, 0.09678418f, 0.37409196f,
                  1.00002368f, -1.26551223f})
#pragma GCC unroll 4
    for (int i = 0; i < N; ++i) p[i] = add(mul(p[i], t[i]), set(c));
#pragma GCC unroll 4
  for (int i = 0; i < N; ++i) arg[i] = add(arg[i], p[i]);
  __m256 ex[N];
  expf8n<N>(arg, ex);
#pragma GCC unroll 4
  for (int i = 0; i < N; ++i) {
    const __m256 e = _mm256_sub_ps(set(1.f), mul(t[i], ex[i]));
    const __m256 res = _mm256_blendv_ps(e, neg(e), isneg[i]);
    out[i] = _mm256_blendv_ps(res, x[i], _mm256_cmp_ps(x[i], x[i], _CMP_UNORD_Q));
  }
}

inline __m256 erff8(__m256 x) {
  __m256 r;
  erff8n<1>(&x, &r);
  return r;
}

}  // namespace rmsmp::avx2

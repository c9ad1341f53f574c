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

inline __m256 expf8(__m256 x) {
  const __m256 isnan = _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
  const __m256 big = _mm256_cmp_ps(x, set(88.7228394f), _CMP_GT_OQ);
  const __m256 small = _mm256_cmp_ps(x, set(-103.972084f), _CMP_LT_OQ);
  const __m256 fk = mul(x, set(1.44269504f));
  const __m256 half = _mm256_blendv_ps(set(-0.5f), set(0.5f), _mm256_cmp_ps(fk, _mm256_setzero_ps(), _CMP_GE_OQ));
  __m256i k = _mm256_cvttps_epi32(add(fk, half));  // (int) truncates, as in C
  const __m256 kf = _mm256_cvtepi32_ps(k);
  const __m256 r = _mm256_sub_ps(_mm256_sub_ps(x, mul(kf, set(0.693145752f))), mul(kf, set(1.42860677e-6f)));
  __m256 p = set(1.98412698e-4f);
  p = add(mul(p, r), set(1.38888889e-3f));
  p = add(mul(p, r), set(8.33333333e-3f));
  p = add(mul(p, r), set(4.16666667e-2f));
  p = add(mul(p, r), set(1.66666667e-1f));
  p = add(mul(p, r), set(0.5f));
  p = add(mul(p, r), set(1.f));
  p = add(mul(p, r), set(1.f));
  // The two rescaling steps run only when some lane needs them: computed for every lane, p * 2^-126 would
  // make subnormals (a slow microcode assist per instruction) for lanes whose result the blend then drops.
  // Lanes the final blends replace (NaN, overflow, underflow to 0: the scalar returns early) get k = 0 so
  // they never ask for a rescale: softmax's far-below-max scores would otherwise take the slow path.
  k = _mm256_andnot_si256(_mm256_castps_si256(_mm256_or_ps(_mm256_or_ps(isnan, big), small)), k);
  const __m256i hi = _mm256_cmpgt_epi32(k, _mm256_set1_epi32(127));
  if (!_mm256_testz_si256(hi, hi)) {
    p = _mm256_blendv_ps(p, mul(p, _mm256_castsi256_ps(_mm256_set1_epi32(0x7f000000))), _mm256_castsi256_ps(hi));
    k = _mm256_sub_epi32(k, _mm256_and_si256(hi, _mm256_set1_epi32(127)));
  }
  const __m256i lo = _mm256_cmpgt_epi32(_mm256_set1_epi32(-126), k);
  if (!_mm256_testz_si256(lo, lo)) {
    p = _mm256_blendv_ps(p, mul(p, _mm256_castsi256_ps(_mm256_set1_epi32(0x00800000))), _mm256_castsi256_ps(lo));
    k = _mm256_add_epi32(k, _mm256_and_si256(lo, _mm256_set1_epi32(126)));
  }
  __m256 res = mul(p, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k, _mm256_set1_epi32(127)), 23)));
  res = _mm256_blendv_ps(res, _mm256_setzero_ps(), small);
  res = _mm256_blendv_ps(res, _mm256_castsi256_ps(_mm256_set1_epi32(0x7f800000)), big);
  return _mm256_blendv_ps(res, x, isnan);
}

inline __m256 erff8(__m256 x) {
  const __m256 isnan = _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
  const __m256 isneg = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ);
  const __m256 z = _mm256_blendv_ps(x, neg(x), isneg);
  const __m256 t = _mm256_div_ps(set(1.f), add(set(1.f), mul(set(0.5f), z)));
  __m256 p = set(0.17087277f);
  p = add(mul(p, t), set(-0.82215223f));
  p = add(mul(p, t), set(1.48851587f));
  p = add(mul(p, t), set(-1.13520398f));
  p = add(mul(p, t), set(0.27886807f));
  p = add(mul(p, t), set(-0.18628806f));
  p = add(mul(p, t), set(0.09678418f));
  p = add(mul(p, t), set(0.37409196f));
  p = add(mul(p, t), set(1.00002368f));
  p = add(mul(p, t), set(-1.26551223f));
  const __m256 nz2 = mul(neg(z), z);
  const __m256 e = _mm256_sub_ps(set(1.f), mul(t, expf8(add(nz2, p))));
  const __m256 res = _mm256_blendv_ps(e, neg(e), isneg);
  return _mm256_blendv_ps(res, x, isnan);
}

}  // namespace rmsmp::avx2

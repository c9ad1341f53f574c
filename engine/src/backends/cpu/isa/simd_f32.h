// Lane-width traits for the fp32 encoder ops (encoder_ops_simd.h): the few operations those templates use, for
// AVX2 (8 lanes, masks as all-ones float lanes) and AVX-512 (16 lanes, masks in k registers). Every operation
// is the single IEEE instruction of its name (correctly rounded division; fma is one fused multiply-add with a
// single rounding, as std::fma, and the only fused operation: a plain mul and add are never contracted), so a
// template instantiated with either computes each lane exactly as the scalar reference. Include only from a TU
// compiled with the matching ISA flags (AVX2 with -mfma).
#pragma once
#include <immintrin.h>

#include <cstdint>

namespace rmsmp::simd {

#ifdef __AVX2__
struct Avx2 {
  static constexpr int W = 8;
  using F = __m256;
  using I = __m256i;
  using M = __m256;   // float-lane mask
  using IM = __m256i; // int-lane mask
  static F load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, F v) { _mm256_storeu_ps(p, v); }
  static F set(float v) { return _mm256_set1_ps(v); }
  static F bits(int32_t v) { return _mm256_castsi256_ps(_mm256_set1_epi32(v)); }
  static F zero() { return _mm256_setzero_ps(); }
  static F add(F a, F b) { return _mm256_add_ps(a, b); }
  static F sub(F a, F b) { return _mm256_sub_ps(a, b); }
  static F mul(F a, F b) { return _mm256_mul_ps(a, b); }
  static F fma(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }  // a * b + c, one rounding
  static F div(F a, F b) { return _mm256_div_ps(a, b); }
  static F max(F a, F b) { return _mm256_max_ps(a, b); }  // b where either is NaN, as `a > b ? a : b`
  static F neg(F a) { return _mm256_xor_ps(a, _mm256_set1_ps(-0.f)); }
  static M unord(F a) { return _mm256_cmp_ps(a, a, _CMP_UNORD_Q); }
  static M gt(F a, F b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
  static M lt(F a, F b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
  static M ge(F a, F b) { return _mm256_cmp_ps(a, b, _CMP_GE_OQ); }
  static M mor(M a, M b) { return _mm256_or_ps(a, b); }
  static F blend(F a, F b, M m) { return _mm256_blendv_ps(a, b, m); }  // m ? b : a
  static F blend_i(F a, F b, IM m) { return _mm256_blendv_ps(a, b, _mm256_castsi256_ps(m)); }
  static I cvtt(F a) { return _mm256_cvttps_epi32(a); }
  static F cvt(I a) { return _mm256_cvtepi32_ps(a); }
  static I iset(int32_t v) { return _mm256_set1_epi32(v); }
  static I iadd(I a, I b) { return _mm256_add_epi32(a, b); }
  static I zero_where(I a, M m) { return _mm256_andnot_si256(_mm256_castps_si256(m), a); }
  static IM igt(I a, I b) { return _mm256_cmpgt_epi32(a, b); }
  static IM imor(IM a, IM b) { return _mm256_or_si256(a, b); }
  static IM inone() { return _mm256_setzero_si256(); }
  static bool any(IM m) { return !_mm256_testz_si256(m, m); }
  static I isub_where(I a, IM m, int32_t v) { return _mm256_sub_epi32(a, _mm256_and_si256(m, _mm256_set1_epi32(v))); }
  static I iadd_where(I a, IM m, int32_t v) { return _mm256_add_epi32(a, _mm256_and_si256(m, _mm256_set1_epi32(v))); }
  static F pow2(I k) { return _mm256_castsi256_ps(_mm256_slli_epi32(k, 23)); }  // bits of 2^(k - 127)
};
#endif

#ifdef __AVX512F__
struct Avx512 {
  static constexpr int W = 16;
  using F = __m512;
  using I = __m512i;
  using M = __mmask16;
  using IM = __mmask16;
  static F load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, F v) { _mm512_storeu_ps(p, v); }
  static F set(float v) { return _mm512_set1_ps(v); }
  static F bits(int32_t v) { return _mm512_castsi512_ps(_mm512_set1_epi32(v)); }
  static F zero() { return _mm512_setzero_ps(); }
  static F add(F a, F b) { return _mm512_add_ps(a, b); }
  static F sub(F a, F b) { return _mm512_sub_ps(a, b); }
  static F mul(F a, F b) { return _mm512_mul_ps(a, b); }
  static F fma(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }  // a * b + c, one rounding
  static F div(F a, F b) { return _mm512_div_ps(a, b); }
  static F max(F a, F b) { return _mm512_max_ps(a, b); }  // b where either is NaN, as vmaxps ymm
  static F neg(F a) {
    return _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(a), _mm512_set1_epi32(int32_t(0x80000000u))));
  }
  static M unord(F a) { return _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q); }
  static M gt(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
  static M lt(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
  static M ge(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_GE_OQ); }
  static M mor(M a, M b) { return M(a | b); }
  static F blend(F a, F b, M m) { return _mm512_mask_blend_ps(m, a, b); }  // m ? b : a
  static F blend_i(F a, F b, IM m) { return _mm512_mask_blend_ps(m, a, b); }
  static I cvtt(F a) { return _mm512_cvttps_epi32(a); }
  static F cvt(I a) { return _mm512_cvtepi32_ps(a); }
  static I iset(int32_t v) { return _mm512_set1_epi32(v); }
  static I iadd(I a, I b) { return _mm512_add_epi32(a, b); }
  static I zero_where(I a, M m) { return _mm512_maskz_mov_epi32(__mmask16(~m), a); }
  static IM igt(I a, I b) { return _mm512_cmpgt_epi32_mask(a, b); }
  static IM imor(IM a, IM b) { return IM(a | b); }
  static IM inone() { return 0; }
  static bool any(IM m) { return m != 0; }
  static I isub_where(I a, IM m, int32_t v) { return _mm512_mask_sub_epi32(a, m, a, _mm512_set1_epi32(v)); }
  static I iadd_where(I a, IM m, int32_t v) { return _mm512_mask_add_epi32(a, m, a, _mm512_set1_epi32(v)); }
  static F pow2(I k) { return _mm512_castsi512_ps(_mm512_slli_epi32(k, 23)); }
};
#endif

}  // namespace rmsmp::simd

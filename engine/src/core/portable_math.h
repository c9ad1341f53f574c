// expf and erff written once, in the subset of C shared by C++ and OpenCL C, so that every backend (reference,
// cpu, opencl) computes GELU and softmax with the same operations in the same order and integer models give
// bit-identical results everywhere. The OpenCL build embeds this file verbatim (cmake/embed_opencl.cmake);
// both builds keep contraction off, so each line rounds the same way on every device. The Horner steps are
// explicit fused multiply-adds (PM_FMA: one rounding, std::fma / OpenCL fma), which SIMD code does with one
// FMA instruction per step; every other multiply and add rounds separately.
// Accuracy (tests/core/portable_math_test.cc): pm_expf within 2 ulp of exp on normal results; pm_erff within
// 4e-7 absolute of erf (Numerical Recipes' Chebyshev fit of erfc, fractional error < 1.2e-7, in float).
#ifndef RMSMP_PORTABLE_MATH_H_
#define RMSMP_PORTABLE_MATH_H_

#ifdef __OPENCL_VERSION__
#define PM_FN inline
#define PM_AS_FLOAT(i) as_float(i)
#define PM_FMA(a, b, c) fma(a, b, c)
#else
#include <cmath>
#include <cstdint>
#include <cstring>
#define PM_FMA(a, b, c) std::fma(a, b, c)
#define PM_FN inline
inline float pm_as_float_(int32_t i) {
  float f;
  std::memcpy(&f, &i, sizeof f);
  return f;
}
#define PM_AS_FLOAT(i) pm_as_float_(i)
#endif

// exp(x): Cody-Waite reduction x = k ln2 + r (|r| <= ln2/2), degree-7 Taylor polynomial, scaling by 2^k.
PM_FN float pm_expf(float x) {
  if (x != x) return x;
  if (x > 88.7228394f) return PM_AS_FLOAT(0x7f800000);  // +inf
  if (x < -103.972084f) return 0.f;
  const float fk = x * 1.44269504f;
  int k = (int)(fk + (fk >= 0.f ? 0.5f : -0.5f));
  const float kf = (float)k;
  // ln2_hi has 8 trailing zero bits, so kf * ln2_hi is exact for |k| < 256.
  const float r = (x - kf * 0.693145752f) - kf * 1.42860677e-6f;
  float p = 1.98412698e-4f;
  p = PM_FMA(p, r, 1.38888889e-3f);
  p = PM_FMA(p, r, 8.33333333e-3f);
  p = PM_FMA(p, r, 4.16666667e-2f);
  p = PM_FMA(p, r, 1.66666667e-1f);
  p = PM_FMA(p, r, 0.5f);
  p = PM_FMA(p, r, 1.f);
  p = PM_FMA(p, r, 1.f);
  if (k > 127) {  // 2^k in two steps outside the normal exponent range
    p = p * PM_AS_FLOAT(0x7f000000);  // 2^127
    k -= 127;
  }
  if (k < -126) {
    p = p * PM_AS_FLOAT(0x00800000);  // 2^-126
    k += 126;
  }
  return p * PM_AS_FLOAT((k + 127) << 23);
}

// erf(x) = 1 - erfc(|x|) with sign; erfc(z) = t exp(-z^2 + P(t)), t = 1 / (1 + z/2).
PM_FN float pm_erff(float x) {
  if (x != x) return x;
  const float z = x < 0.f ? -x : x;
  const float t = 1.f / (1.f + 0.5f * z);
  float p = 0.17087277f;
  p = PM_FMA(p, t, -0.82215223f);
  p = PM_FMA(p, t, 1.48851587f);
  p = PM_FMA(p, t, -1.13520398f);
  p = PM_FMA(p, t, 0.27886807f);
  p = PM_FMA(p, t, -0.18628806f);
  p = PM_FMA(p, t, 0.09678418f);
  p = PM_FMA(p, t, 0.37409196f);
  p = PM_FMA(p, t, 1.00002368f);
  p = PM_FMA(p, t, -1.26551223f);
  const float e = 1.f - t * pm_expf(-z * z + p);
  return x < 0.f ? -e : e;
}

#endif  // RMSMP_PORTABLE_MATH_H_

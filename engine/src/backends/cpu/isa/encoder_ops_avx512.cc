// AVX-512 GELU and attention: encoder_ops_simd.h at 16 lanes (see encoder_ops.h for the bit-identity argument).
// Compiled with -mavx512f only and -ffp-contract=off (global): no FMA can appear.
#include "backends/cpu/isa/encoder_ops.h"
#include "backends/cpu/isa/encoder_ops_simd.h"
#include "backends/cpu/isa/simd_f32.h"

namespace rmsmp {

void gelu_avx512(float* x, int64_t n) { simd::gelu<simd::Avx512>(x, n); }

void linear_f32_exact_avx512(const float* x, int64_t T, int64_t K, const float* w, int64_t N, float* y,
                           int64_t y_stride, float* xt) {
  simd::linear_f32_exact<simd::Avx512>(x, T, K, w, N, y, y_stride, xt);
}

void attention_head_avx512(const float* q, const float* k, const float* v, int64_t len, int64_t stride,
                           int64_t head_dim, float* out, float* scratch) {
  simd::attention_head<simd::Avx512>(q, k, v, len, stride, head_dim, out, scratch);
}

}  // namespace rmsmp

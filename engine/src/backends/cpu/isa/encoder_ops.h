// Per-ISA fp32 encoder ops of the cpu backend (GELU, one attention head, LayerNorm). Each is bit-identical to the
// reference backend's: vectorised only across independent outputs (keys for the scores, head dimensions for
// the weighted sum, elements for GELU/exp), each lane doing the reference's operations in the reference's order.
#pragma once
#include <cstdint>

#include "quant/row_mixed.h"

namespace rmsmp {

// x[i] = 0.5 x (1 + erf(x / sqrt 2)) with pm_erff, in place.
void gelu_avx2(float* x, int64_t n);
void gelu_avx512(float* x, int64_t n);
// One head (ReferenceBackend::attention_head's contract). scratch: at least attention_scratch_floats(len, head_dim)
// floats (any alignment; enough for either width).
inline int64_t attention_scratch_floats(int64_t len, int64_t head_dim) { return 32 * (2 * head_dim + len) + 16; }
void attention_head_avx2(const float* q, const float* k, const float* v, int64_t len, int64_t stride,
                         int64_t head_dim, float* out, float* scratch, const float* rel_bias);
void attention_head_avx512(const float* q, const float* k, const float* v, int64_t len, int64_t stride,
                           int64_t head_dim, float* out, float* scratch, const float* rel_bias);

// fp32 rows with the reference's summation (encoder_ops_simd.h: linear_f32_exact); xt: K * 16 + 16 floats.
void linear_f32_exact_avx2(const float* x, int64_t T, int64_t K, const float* w, int64_t N, float* y,
                           int64_t y_stride, float* xt);
void linear_f32_exact_avx512(const float* x, int64_t T, int64_t K, const float* w, int64_t N, float* y,
                             int64_t y_stride, float* xt);

// ReferenceBackend::layer_norm's contract (y may alias x or residual). scratch: at least 16 * dim floats.
void layer_norm_avx2(const float* x, const float* residual, const float* gamma, const float* beta, float eps,
                     int64_t n_tokens, int64_t dim, float* y, float* scratch);

// act_quantize_row (quant/row_mixed.h), bit for bit, also writing q + 128 as uint8 (qu) for the unsigned kernels.
float act_quantize_row_avx2(const float* x, int64_t n, const ActQuant& aq, int8_t* q, uint8_t* qu);
// The same q and step at 16 lanes, without the uint8 copy (the VNNI kernel reads q only).
float act_quantize_row_avx512(const float* x, int64_t n, const ActQuant& aq, int8_t* q);
// Its quantizing loop alone: q[i] = act_round_sat(x[i] * inv, max_q).
void quantize_scaled_avx512(const float* x, int64_t n, float inv, int max_q, int8_t* q);
void quantize_scaled_avx2(const float* x, int64_t n, float inv, int max_q, int8_t* q);
// out[t * out_stride + j] = rowq_epilogue(acc[t * nj + j], xs[t], wstep[j], bias[j]) for t < T, j < nj.
void epilogue_avx2(const int32_t* acc, int64_t T, int64_t nj, const float* xs, const float* wstep, const float* bias,
                   float* out, int64_t out_stride);

}  // namespace rmsmp

// ReferenceBackend: plain loops for every op and scheme; never tuned; the test oracle.
#pragma once
#include "backends/backend.h"

namespace rmsmp {

class ReferenceBackend : public Backend {
 public:
  const char* name() const override { return "reference"; }
  void linear(const RowMixedLinear& w, const float* x, int64_t n_tokens, float* y) const override;
  void layer_norm(const float* x, const float* residual, const float* gamma, const float* beta, float eps,
                  int64_t n_tokens, int64_t dim, float* y) const override;
  void gelu(float* x, int64_t n) const override;
  void attention(const float* q, const float* k, const float* v, int64_t len, int64_t n_heads, int64_t head_dim,
                 float* out, const float* rel_bias = nullptr) const override;

  // One head of one sequence (rows `stride` floats apart); attention() is this over every head. Faster backends
  // call it per head from several threads, which gives results identical to the reference. The dot products
  // q.k and the sums p.v accumulate with fused multiply-adds (std::fma, one rounding each, in index order): the
  // contract every backend keeps (SIMD FMA lanes, OpenCL fma()), so vector code runs at FMA speed and stays
  // bit-identical. Everything else rounds each multiply and add separately.
  // rel_bias: this head's rel_bias_stride(len) floats, or null.
  static void attention_head(const float* q, const float* k, const float* v, int64_t len, int64_t stride,
                             int64_t head_dim, float* out, const float* rel_bias = nullptr);
};

}  // namespace rmsmp

// Reference kernels: straightforward loops in the order the maths is written. exp and erf are the portable
// ones (core/portable_math.h) that the OpenCL kernels share, so integer models agree bit for bit everywhere.
#include "backends/reference/reference_backend.h"

#include <cmath>
#include <vector>

#include "core/portable_math.h"

namespace rmsmp {

void ReferenceBackend::linear(const RowMixedLinear& w, const float* x, int64_t n_tokens, float* y) const {
  const int64_t K = w.cols, N = w.rows;
  std::vector<int8_t> xq;
  std::vector<float> xstep;
  act_quantize_layer_input(w, x, n_tokens, xq, xstep);
  int64_t off = 0;
  for (const RowGroup& g : w.groups) {
    const QuantScheme& s = quant_scheme(g.kind);
    const size_t rb = quant_row_bytes(g.kind, K);
    for (int64_t j = 0; j < g.rows; ++j) {
      const int32_t r = w.perm[off + j];
      const float b = w.bias ? w.bias[r] : 0.f;
      const uint8_t* row = g.codes + size_t(j) * rb;
      for (int64_t t = 0; t < n_tokens; ++t) {
        if (g.kind == QuantKind::F32) {
          const float* wr = reinterpret_cast<const float*>(row);
          float acc = 0.f;
          for (int64_t k = 0; k < K; ++k) acc += x[t * K + k] * wr[k];
          y[t * N + r] = acc + b;
        } else {
          int32_t acc = s.dot_row(row, xq.data() + t * K, K);
          y[t * N + r] = rowq_epilogue(acc, xstep[t], g.steps[j], b);
        }
      }
    }
    off += g.rows;
  }
}

void ReferenceBackend::layer_norm(const float* x, const float* residual, const float* gamma, const float* beta,
                                  float eps, int64_t n_tokens, int64_t dim, float* y) const {
  std::vector<float> v(static_cast<size_t>(dim));
  for (int64_t t = 0; t < n_tokens; ++t) {
    double mean = 0;
    for (int64_t i = 0; i < dim; ++i) {
      v[i] = x[t * dim + i] + (residual ? residual[t * dim + i] : 0.f);
      mean += v[i];
    }
    mean /= double(dim);
    double var = 0;
    for (int64_t i = 0; i < dim; ++i) var += (v[i] - mean) * (v[i] - mean);
    var /= double(dim);
    const float inv = float(1.0 / std::sqrt(var + double(eps)));
    for (int64_t i = 0; i < dim; ++i) y[t * dim + i] = (v[i] - float(mean)) * inv * gamma[i] + beta[i];
  }
}

void ReferenceBackend::gelu(float* x, int64_t n) const {
  for (int64_t i = 0; i < n; ++i) x[i] = 0.5f * x[i] * (1.f + pm_erff(x[i] * 0.70710678118654752f));
}

void ReferenceBackend::attention(const float* q, const float* k, const float* v, int64_t len, int64_t n_heads,
                                 int64_t head_dim, float* out, const float* rel_bias) const {
  for (int64_t h = 0; h < n_heads; ++h)
    attention_head(q + h * head_dim, k + h * head_dim, v + h * head_dim, len, n_heads * head_dim, head_dim,
                   out + h * head_dim, rel_bias ? rel_bias + h * rel_bias_stride(len) : nullptr);
}

void ReferenceBackend::attention_head(const float* q, const float* k, const float* v, int64_t len, int64_t stride,
                                      int64_t head_dim, float* out, const float* rel_bias) {
  const float scale = 1.f / std::sqrt(float(head_dim));
  std::vector<float> p(static_cast<size_t>(len));
  for (int64_t i = 0; i < len; ++i) {
    const float* qi = q + i * stride;
    float mx = -INFINITY;
    for (int64_t j = 0; j < len; ++j) {
      const float* kj = k + j * stride;
      float s = 0.f;
      for (int64_t d = 0; d < head_dim; ++d) s = std::fma(qi[d], kj[d], s);  // fused: see the header
      p[j] = s * scale;
      if (rel_bias) p[j] += rel_bias[i - j + len - 1];
      mx = std::fmax(mx, p[j]);
    }
    float sum = 0.f;
    for (int64_t j = 0; j < len; ++j) sum += (p[j] = pm_expf(p[j] - mx));
    float* oi = out + i * stride;
    for (int64_t d = 0; d < head_dim; ++d) oi[d] = 0.f;
    for (int64_t j = 0; j < len; ++j) {
      const float pj = p[j] / sum;
      const float* vj = v + j * stride;
      for (int64_t d = 0; d < head_dim; ++d) oi[d] = std::fma(pj, vj[d], oi[d]);
    }
  }
}

}  // namespace rmsmp

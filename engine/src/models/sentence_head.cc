// What sentence-transformers runs after pooling: its Dense modules (fp32, one vector per text, so plain loops
// with double sums) and Normalize (torch's F.normalize: x / max(|x|, 1e-12)).
#include <cmath>
#include <vector>

#include "models/bert.h"

namespace rmsmp {

void sentence_head(const BertWeights& w, const float* pooled, int64_t n, bool normalize, float* out) {
  const BertConfig& c = w.cfg;
  const int64_t P = c.pooled_size(), E = c.embedding_size();
  std::vector<float> x, y;
  for (int64_t b = 0; b < n; ++b) {
    x.assign(pooled + b * P, pooled + (b + 1) * P);
    for (size_t d = 0; d < c.dense.size(); ++d) {
      const DenseSpec& s = c.dense[d];
      const BertWeights::Dense& dw = w.dense[d];
      y.resize(size_t(s.out));
      for (int64_t o = 0; o < s.out; ++o) {
        double acc = dw.b ? dw.b[o] : 0.0;
        const float* row = dw.w + o * s.in;
        for (int64_t i = 0; i < s.in; ++i) acc += double(row[i]) * x[size_t(i)];
        switch (s.act) {
          case DenseActivation::Identity: break;
          case DenseActivation::Tanh: acc = std::tanh(acc); break;
          case DenseActivation::Relu: acc = acc > 0 ? acc : 0.0; break;
          case DenseActivation::Gelu: acc = 0.5 * acc * (1.0 + std::erf(acc / std::sqrt(2.0))); break;
        }
        y[size_t(o)] = float(acc);
      }
      x.swap(y);
    }
    float* dst = out + b * E;
    double n2 = 0;
    for (int64_t i = 0; i < E; ++i) n2 += double(x[size_t(i)]) * x[size_t(i)];
    const float inv = normalize ? float(1.0 / std::fmax(std::sqrt(n2), 1e-12)) : 1.f;
    for (int64_t i = 0; i < E; ++i) dst[i] = normalize ? x[size_t(i)] * inv : x[size_t(i)];
  }
}

}  // namespace rmsmp

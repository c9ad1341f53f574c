// Activation quantization (reference; also used by the fast backends since it is O(n) per token).
#include <cmath>

#include "quant/row_mixed.h"

namespace rmsmp {


float act_quantize_row(const float* x, int64_t n, const ActQuant& aq, int8_t* q) {
  const int max_q = act_max_q(aq);
  float range = aq.clip;
  if (aq.dynamic) {
    range = 0.f;
    for (int64_t i = 0; i < n; ++i) {
      const float a = std::fabs(x[i]);
      range = a > range ? a : range;  // NaN never wins, as with fmax
    }
  }
  if (!(range > 0.f)) {
    for (int64_t i = 0; i < n; ++i) q[i] = 0;
    return 0.f;
  }
  const float step = range / float(max_q);
  const float inv = 1.f / step;
  for (int64_t i = 0; i < n; ++i) q[i] = act_round_sat(x[i] * inv, max_q);
  return step;
}

void act_quantize_layer_input(const RowMixedLinear& w, const float* x, int64_t n_tokens, std::vector<int8_t>& q,
                              std::vector<float>& step) {
  q.clear();
  step.clear();
  if (!w.has_integer_groups()) return;
  const int64_t K = w.cols;
  q.resize(static_cast<size_t>(n_tokens * K));
  step.resize(static_cast<size_t>(n_tokens));
  // Tokens are independent: any thread split gives the same q.
#pragma omp parallel for schedule(static) if (n_tokens > 16)
  for (int64_t t = 0; t < n_tokens; ++t) step[size_t(t)] = act_quantize_row(x + t * K, K, w.act, q.data() + t * K);
}

}  // namespace rmsmp

// Activation quantization (reference; also used by the fast backends since it is O(n) per token).
#include <cmath>

#include "quant/row_mixed.h"

namespace rmsmp {

namespace {
// Saturating round-half-away-from-zero, equal to clamp(lround(v), -max_q, max_q) for every float v (NaN -> -max_q),
// inlined: lround/fmax as libm calls dominated this loop. Clamping first keeps the int conversion in range, and
// v - trunc(v) is exact for |v| < 2^23, so the half-way test is exact.
inline int8_t round_sat(float v, int max_q) {
  const float lim = float(max_q) + 1.f;
  if (!(v >= -lim)) v = -lim;
  if (v > lim) v = lim;
  int i = static_cast<int>(v);  // truncates toward zero
  const float frac = v - static_cast<float>(i);
  i += (frac >= 0.5f) - (frac <= -0.5f);
  return static_cast<int8_t>(i > max_q ? max_q : (i < -max_q ? -max_q : i));
}
}  // namespace

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
  for (int64_t i = 0; i < n; ++i) q[i] = round_sat(x[i] * inv, max_q);
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

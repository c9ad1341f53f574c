// Row-wise mixed linear layer (RMSMP): rows grouped by scheme + permutation back; and activation quantization.
// Views only: the bytes live in a mapped model file or in the converter's buffers.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "rmsmp/quant.h"

namespace rmsmp {

// How a layer quantizes its input activations (shared by all rows of the layer; always fixed-point).
struct ActQuant {
  int bits = 8;          // 8 or 4; q in [-max_q, max_q], max_q = act_max_q(*this)
  bool dynamic = true;   // true: step per token = max|x_t| / max_q; false: step = clip / max_q for all tokens
  float clip = 0.f;      // static clip (from calibration); values beyond it saturate
  // The input is known to be >= 0 (it follows a ReLU): the unsigned grid, max_q = 2^bits - 1 (15 levels above
  // zero at 4 bits instead of 7). Capped at 127 so q stays int8 for every kernel: at 8 bits it is the signed
  // grid's positive half. Negative inputs would still quantize symmetrically; the converter sets this flag only
  // where they cannot occur.
  bool nonneg = false;
  // The vision path's per-layer dynamic mode ("dynamic_tensor" in files): one step for the whole input tensor,
  // max|x| / max_q. The CNN runner resolves it to a static clip before it calls a backend, so backends never
  // see it set.
  bool per_tensor = false;
};

// Saturating round-half-away-from-zero, equal to clamp(lround(v), -max_q, max_q) for every float v (NaN -> -max_q),
// inlined: lround/fmax as libm calls dominated act_quantize_row. Clamping first keeps the int conversion in
// range, and v - trunc(v) is exact for |v| < 2^23, so the half-way test is exact. The one scalar definition;
// the SIMD quantizers do these operations lane by lane.
inline int8_t act_round_sat(float v, int max_q) {
  const float lim = float(max_q) + 1.f;
  if (!(v >= -lim)) v = -lim;
  if (v > lim) v = lim;
  int i = static_cast<int>(v);  // truncates toward zero
  const float frac = v - static_cast<float>(i);
  i += (frac >= 0.5f) - (frac <= -0.5f);
  return static_cast<int8_t>(i > max_q ? max_q : (i < -max_q ? -max_q : i));
}

inline int act_max_q(const ActQuant& a) {
  if (a.nonneg) return a.bits >= 8 ? 127 : (1 << a.bits) - 1;
  return (1 << (a.bits - 1)) - 1;
}

struct RowGroup {
  QuantKind kind;
  int64_t rows;
  const uint8_t* codes;  // rows x quant_row_bytes(kind, cols)
  const float* steps;    // rows (unused for F32)
};

// A backend's own layout of one layer's weights, made once at load by Backend::prepare() (backend.h) and
// opaque to everything else. The file's groups stay the source of truth: a backend that finds no prepared
// weights of its own (another backend's, or none) reads the groups as they are.
struct PreparedLinear {
  virtual ~PreparedLinear() = default;
};

struct RowMixedLinear {
  std::string name;
  int64_t rows = 0, cols = 0;
  std::vector<RowGroup> groups;  // stored order; sum of group rows == rows
  const int32_t* perm = nullptr; // stored row i is original row perm[i]
  const float* bias = nullptr;   // [rows], original order; may be null
  ActQuant act;
  std::shared_ptr<const PreparedLinear> prepared;  // set at load by the model's backend; may be null
  bool has_integer_groups() const {
    for (const auto& g : groups)
      if (quant_is_integer(g.kind)) return true;
    return false;
  }
  bool all_integer_groups() const {
    for (const auto& g : groups)
      if (!quant_is_integer(g.kind)) return false;
    return !groups.empty();
  }
};

// Quantizes one activation row; returns its step (0 for an all-zero row, with q all zero).
// Rounding: half away from zero, saturating at +-max_q (the same rule as the weights).
float act_quantize_row(const float* x, int64_t n, const ActQuant& aq, int8_t* q);

// Quantizes the n_tokens x cols input of `w` per w.act when the layer has integer groups (else leaves
// q and step empty): q is n_tokens x cols, step one per token. Every backend calls this, so all see the same q.
void act_quantize_layer_input(const RowMixedLinear& w, const float* x, int64_t n_tokens, std::vector<int8_t>& q,
                              std::vector<float>& step);

// Epilogue shared by every backend, written once so that all of them round identically:
//   y = float(acc) * (x_step * w_step) + bias
inline float rowq_epilogue(int32_t acc, float x_step, float w_step, float bias) {
  return float(acc) * (x_step * w_step) + bias;
}

}  // namespace rmsmp

// The Backend interface's shared definitions: the post ops, the fused epilogue, and the default (unfused) forms of
// the CNN entry points. make_backend lives with the backend table (registry.cc).
#include "backends/backend.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <sstream>
#include <vector>

#include "core/target_clones.h"
#include "backends/reference/reference_backend.h"
#include "io/model_format.h"
#include "rmsmp/error.h"

namespace rmsmp {

RMSMP_CLONES void apply_post(float* __restrict y, const float* __restrict residual, int64_t n, LinearPost::Act act) {
  if (residual)
    for (int64_t i = 0; i < n; ++i) y[i] += residual[i];
  if (act == LinearPost::Act::Relu) {
    for (int64_t i = 0; i < n; ++i) y[i] = y[i] > 0.f ? y[i] : 0.f;
  } else if (act == LinearPost::Act::Relu6) {
    for (int64_t i = 0; i < n; ++i) y[i] = y[i] > 0.f ? (y[i] < 6.f ? y[i] : 6.f) : 0.f;
  }
}

namespace {
typedef uint32_t U32x16 __attribute__((vector_size(64)));  // GCC vector extension: zmm, 2 ymm or 4 xmm per clone
}

typedef float F32x16 __attribute__((vector_size(64)));
typedef int32_t I32x16 __attribute__((vector_size(64)));

namespace {
// act_round_sat(v * inv, max_q) on 16 lanes into q, as quantize_scaled_avx512 computes it: clamp to +-max_q
// first (NaN -> -max_q, as act_round_sat), then round half away from zero as trunc(v + copysign(0.5 - 2^-25, v)),
// exact for every float (see quantize_scaled_avx512). Inlined into the clones (vectors by reference: no ABI).
typedef int8_t I8x16 __attribute__((vector_size(16)));
typedef int8_t I8x32 __attribute__((vector_size(32)));
typedef float F32x8 __attribute__((vector_size(32)));
typedef int32_t I32x8 __attribute__((vector_size(32)));
typedef uint32_t U32x8 __attribute__((vector_size(32)));
// In 8-lane halves (ymm): on the 16-lane vectors, the AVX2 clone compiled the clamps' selects and the
// narrowing to bytes lane by lane (scalar vmaxss/vminss and byte extracts): quantize_scaled was 31% of
// EfficientNet-Lite0 on AVX2 (perf, 1 thread). |.| <= 127, so each int32 lane's low byte is the value.
__attribute__((always_inline)) inline I8x16 round_sat8x2(const F32x8& x0, const F32x8& x1, float inv, int max_q) {
  const F32x8 lim = F32x8{} + float(max_q), nlim = -lim;
  I8x32 bytes[2];
  const F32x8* xs[2] = {&x0, &x1};
  for (int h = 0; h < 2; ++h) {
    F32x8 v = *xs[h] * inv;
    v = v > nlim ? v : nlim;
    v = v < lim ? v : lim;
    U32x8 u;
    std::memcpy(&u, &v, 32);
    const U32x8 hb = (u & 0x80000000u) | 0x3effffffu;  // copysign(0.5 - 2^-25, v)
    F32x8 half;
    std::memcpy(&half, &hb, 32);
    const I32x8 r = __builtin_convertvector(v + half, I32x8);
    std::memcpy(&bytes[h], &r, 32);
  }
  return __builtin_shufflevector(bytes[0], bytes[1], 0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60);
}
__attribute__((always_inline)) inline void round_sat16(const F32x16& x, float inv, int max_q, int8_t* q) {
  F32x8 x0, x1;
  std::memcpy(&x0, &x, 32);
  std::memcpy(&x1, reinterpret_cast<const char*>(&x) + 32, 32);
  const I8x16 b = round_sat8x2(x0, x1, inv, max_q);
  std::memcpy(q, &b, 16);
}
}  // namespace

RMSMP_CLONES void quantize_scaled(const float* __restrict y, int64_t n, float inv, int max_q, int8_t* __restrict q) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    F32x16 v;
    std::memcpy(&v, y + i, 64);
    round_sat16(v, inv, max_q, q + i);
  }
  for (; i < n; ++i) q[i] = act_round_sat(y[i] * inv, max_q);
}

// One call per token block: for a narrow conv (32 outputs per pixel) separate epilogue, post and range passes
// per token cost more than the arithmetic.
RMSMP_CLONES uint32_t epilogue_rows(const int32_t* __restrict acc, int64_t acc_stride, int64_t tb, int64_t rows,
                                    const float* __restrict xstep, const float* __restrict wstep,
                                    const float* __restrict bias, const float* __restrict residual,
                                    LinearPost::Act act, bool want_max, float* __restrict dst,
                                    int8_t* __restrict q, float q_inv, int q_max) {
  // In 8-lane halves (ymm), like round_sat16: on 16-lane vectors the AVX2 clone compiled the selects lane by
  // lane, and this pass was 29% of EfficientNet-Lite0 on AVX2 once its depthwise sums were fast.
  const U32x8 mag = U32x8{} + 0x7fffffffu, inf = U32x8{} + 0x7f800000u;
  const F32x8 zero = {}, six = F32x8{} + 6.f;
  U32x8 r0 = {}, r1 = {};
  uint32_t m = 0;
  for (int64_t t = 0; t < tb; ++t) {
    const int32_t* a = acc + t * acc_stride;
    float* y = dst ? dst + t * rows : nullptr;
    const float* res = residual ? residual + t * rows : nullptr;
    const float xs = xstep[t];
    // 8 outputs: the epilogue, residual, activation, float store and range (the same operations per lane as a
    // scalar loop).
    auto half = [&](const int32_t* ap, const float* wp, const float* bp, const float* rp, float* yp, U32x8& rr,
                    F32x8& out) __attribute__((always_inline)) {  // inlined: compiled for each clone (no ABI)
      I32x8 ai;
      F32x8 ws, bv = {};
      std::memcpy(&ai, ap, 32);
      std::memcpy(&ws, wp, 32);
      if (bp) std::memcpy(&bv, bp, 32);
      F32x8 v = __builtin_convertvector(ai, F32x8) * (xs * ws) + bv;
      if (rp) {
        F32x8 rv;
        std::memcpy(&rv, rp, 32);
        v += rv;
      }
      if (act == LinearPost::Act::Relu) v = v > zero ? v : zero;
      else if (act == LinearPost::Act::Relu6) v = v > zero ? (v < six ? v : six) : zero;
      if (yp) std::memcpy(yp, &v, 32);
      if (want_max) {
        U32x8 u;
        std::memcpy(&u, &v, 32);
        u &= mag;
        u = u > inf ? U32x8{} : u;  // NaN -> 0
        rr = u > rr ? u : rr;
      }
      out = v;
    };
    // 16 outputs from src pointers (full blocks read in place; the last partial block from zero-padded copies,
    // whose extra lanes compute 0 and are not stored: the same operations per lane as a scalar loop, which cost
    // more than the full blocks for 24- or 40-channel convs).
    auto block = [&](const int32_t* ap, const float* wp, const float* bp, const float* rp, float* yp,
                     int8_t* qp) __attribute__((always_inline)) {
      F32x8 v0, v1;
      half(ap, wp, bp, rp, yp, r0, v0);
      half(ap + 8, wp + 8, bp ? bp + 8 : nullptr, rp ? rp + 8 : nullptr, yp ? yp + 8 : nullptr, r1, v1);
      if (qp) {
        const I8x16 qv = round_sat8x2(v0, v1, q_inv, q_max);
        std::memcpy(qp, &qv, 16);
      }
    };
    int64_t i = 0;
    for (; i + 16 <= rows; i += 16)
      block(a + i, wstep + i, bias ? bias + i : nullptr, res ? res + i : nullptr, y ? y + i : nullptr,
            q ? q + t * rows + i : nullptr);
    if (i < rows) {
      const size_t n = size_t(rows - i);
      alignas(64) int32_t ta[16] = {};
      alignas(64) float tw[16] = {}, tbias[16] = {}, tr[16] = {}, ty[16];
      alignas(16) int8_t tq[16];
      for (size_t j = 0; j < n; ++j) {  // loops, not memcpy calls: a few values per token
        ta[j] = a[i + int64_t(j)], tw[j] = wstep[i + int64_t(j)];
        if (bias) tbias[j] = bias[i + int64_t(j)];
        if (res) tr[j] = res[i + int64_t(j)];
      }
      block(ta, tw, bias ? tbias : nullptr, res ? tr : nullptr, ty, tq);
      for (size_t j = 0; j < n; ++j) {
        if (y) y[i + int64_t(j)] = ty[j];
        if (q) q[t * rows + i + int64_t(j)] = tq[j];
      }
    }
  }
  for (int j = 0; j < 8; ++j) m = std::max({m, r0[j], r1[j]});
  return want_max ? m : 0u;
}

RMSMP_CLONES uint32_t abs_max_bits(const float* x, int64_t n) {
  // Written on vector types: GCC did not vectorise the scalar form of this reduction (select + unsigned max).
  // In 8-lane halves, as epilogue_rows: the AVX2 clone compiled 16-lane selects lane by lane.
  const U32x8 mag = U32x8{} + 0x7fffffffu, inf = U32x8{} + 0x7f800000u;
  U32x8 r0 = {}, r1 = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    U32x8 u0, u1;
    std::memcpy(&u0, x + i, 32);
    std::memcpy(&u1, x + i + 8, 32);
    u0 &= mag;
    u1 &= mag;
    u0 = u0 > inf ? U32x8{} : u0;  // NaN -> 0
    u1 = u1 > inf ? U32x8{} : u1;
    r0 = u0 > r0 ? u0 : r0;
    r1 = u1 > r1 ? u1 : r1;
  }
  uint32_t m = 0;
  for (int j = 0; j < 8; ++j) m = std::max({m, r0[j], r1[j]});
  for (; i < n; ++i) {
    uint32_t u;
    std::memcpy(&u, x + i, 4);
    u &= 0x7fffffffu;
    u = u > 0x7f800000u ? 0u : u;
    m = u > m ? u : m;
  }
  return m;
}

void Backend::linear_s8(const RowMixedLinear& w, const ActQuant& act, const int8_t* xq, float xstep,
                        int64_t n_tokens, const LinearPost& post, float* y) const {
  RMSMP_CHECK(!act.dynamic, ErrorCode::Internal, "linear_s8 on " << w.name << ": the activation step must be static");
  std::vector<float> x(size_t(n_tokens * w.cols));
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(xq[i]) * xstep;
  RowMixedLinear lq = w;  // a view with the caller's quantizer (no weight copy)
  lq.act = act;
  linear(lq, x.data(), n_tokens, y);
  apply_post(y, post.residual, n_tokens * w.rows, post.act);
  if (post.abs_max) *post.abs_max = abs_max_bits(y, n_tokens * w.rows);
  store_q_out(post, y, n_tokens * w.rows, 0);
}

void Backend::attention_batch(const float* q, const float* k, const float* v, const int64_t* offs,
                              const int64_t* lens, int64_t n_seqs, int64_t n_heads, int64_t head_dim, float* out,
                              const float* const* rel_bias) const {
  const int64_t H = n_heads * head_dim;
  for (int64_t b = 0; b < n_seqs; ++b)
    attention(q + offs[b] * H, k + offs[b] * H, v + offs[b] * H, lens[b], n_heads, head_dim, out + offs[b] * H,
              rel_bias ? rel_bias[b] : nullptr);
}

void Backend::linear_static(const RowMixedLinear& w, const ActQuant& act, const float* x, int64_t n_tokens,
                            const LinearPost& post, float* y) const {
  std::vector<int8_t> q(size_t(n_tokens * w.cols));
  const float step = quantize_activations(x, n_tokens * w.cols, act, q.data());
  linear_s8(w, act, q.data(), step, n_tokens, post, y);
}

void Backend::linear_patches(const RowMixedLinear& w, const ActQuant& act, const PatchSource& src, float xstep,
                             int64_t n_tokens, const LinearPost& post, float* y) const {
  std::vector<int8_t> q(size_t(n_tokens * w.cols));
  src.rows(0, n_tokens, q.data(), w.cols);
  linear_s8(w, act, q.data(), xstep, n_tokens, post, y);
}

uint32_t Backend::depthwise_row_s8(const PreparedDepthwise& w, const DepthwiseRow& r) const {
  const int64_t C = w.channels;
  thread_local std::vector<int32_t> acc;
  acc.resize(size_t(C) + 32);
  const int8_t* rowp[kMaxDepthwiseTaps];
  const int8_t* xs[kMaxDepthwiseTaps + 1];
  depthwise_window_rows(r, C, rowp);
  uint32_t mx = 0;
  for (int64_t ox = 0; ox < r.ow; ++ox) {
    depthwise_window(r, C, rowp, ox, xs);
    depthwise_acc_s8(w, xs, acc.data());
    mx = std::max(mx, epilogue_rows(acc.data(), C, 1, C, &r.xstep, r.wstep, r.bias,
                                    r.residual ? r.residual + ox * C : nullptr, r.act, r.want_max,
                                    r.y ? r.y + ox * C : nullptr,
                                    r.q ? r.q + ox * C : nullptr, r.q_inv, r.q_max));
  }
  return mx;
}

std::string Backend::kernel_name(const RowMixedLinear& w, const RowGroup& g) const {
  (void)w;
  return std::string("reference loops (") + quant_scheme(g.kind).name + " dot_row)";
}

void check_layers(const Backend& be, const std::vector<const RowMixedLinear*>& layers, const std::string& model) {
  static const bool verbose = [] {
    const char* e = std::getenv("RMSMP_VERBOSE");
    return e && std::strstr(e, "dispatch") != nullptr;
  }();
  std::ostringstream gaps;
  size_t n_gaps = 0;
  for (const RowMixedLinear* w : layers) {
    const std::string why = be.unsupported(*w);
    if (!why.empty()) {
      if (n_gaps++ < 20) gaps << "\n  " << w->name << ": " << why;
      continue;
    }
    if (!verbose) continue;
    std::ostringstream os;  // one write per layer: lines of concurrent loads do not interleave
    for (const RowGroup& g : w->groups)
      if (g.rows > 0)
        os << "[rmsmp] dispatch " << be.name() << " " << w->name << ": " << quant_scheme(g.kind).name << " x "
           << g.rows << " rows, K " << w->cols << " -> " << be.kernel_name(*w, g) << "\n";
    std::cerr << os.str();
  }
  if (n_gaps > 20) gaps << "\n  ... and " << (n_gaps - 20) << " more";
  RMSMP_CHECK(n_gaps == 0, ErrorCode::Unsupported,
              model << ": backend " << be.name() << " cannot run " << n_gaps << " of its " << layers.size()
                    << " layers:" << gaps.str());
}

void prepare_linear(const Backend& be, const ModelFile& file, RowMixedLinear& w) {
  w.prepared = be.prepare(w);
  if (!w.prepared) return;
  for (const RowGroup& g : w.groups)
    if (quant_is_integer(g.kind)) file.release(g.codes, size_t(g.rows) * quant_row_bytes(g.kind, w.cols));
}

}  // namespace rmsmp

// The integer epilogue of 16 outputs in AVX-512 registers, for the kernels that finish their sums without
// storing them (the depthwise row kernel, the VNNI GEMMs with a GemmEpilogue): epilogue_rows' operations in its
// order, lane by lane, so the same bits (the project builds with -ffp-contract=off: no fused multiply-add here):
//   v = float(sum) * (xstep * wstep) + bias   (bias 0 where there is none: -0 + 0 = +0 as there)
//   v += residual;  ReLU / ReLU6 with NaN sent to 0
//   y = v;  q = quantize_scaled's trunc(t + copysign(0.5 - 2^-25, t)), t = clamp(v * q_inv) (NaN -> -q_max)
// Only for translation units compiled with AVX-512 F/BW.
#pragma once
#include <immintrin.h>

#include <algorithm>
#include <type_traits>

#include "backends/backend.h"
#include "backends/cpu/gemm_s8.h"

namespace rmsmp {

struct Epi16Consts {
  __m512 zero, six, qinv, qlim, nqlim, qlim6;
  __m512i sign, half;
  // q_inv positive and finite: the quantized outputs after ReLU6 may take q16_relu6's shortcut.
  bool relu6_fusable;
  explicit Epi16Consts(float q_inv = 0.f, int q_max = 127)
      : zero(_mm512_setzero_ps()), six(_mm512_set1_ps(6.f)), qinv(_mm512_set1_ps(q_inv)),
        qlim(_mm512_set1_ps(float(q_max))), nqlim(_mm512_set1_ps(-float(q_max))),
        qlim6(_mm512_set1_ps(std::min(6.f * q_inv, float(q_max)))), sign(_mm512_set1_epi32(int32_t(0x80000000u))),
        half(_mm512_set1_epi32(0x3effffff)), relu6_fusable(q_inv > 0.f && q_inv <= 3.4e38f) {}
};

// Lanes outside m load 0 and are not stored. wstep, bias, residual, y and q point at the first of the 16 outputs
// (bias, residual, y, q may be null). Returns v (the want_max reduction is the caller's).
// The float outputs before any store: float(sums) * (xstep * ws) + b, + r (the residual, or zero when there is
// none: callers pass k.zero only where the reference adds nothing, see finish16v), then the activation.
// pre16: the value before the activation, with xw = xstep * ws already multiplied (the same product).
inline __m512 pre16(__m512i sums, __m512 xw, __m512 b, const __m512* r) {
  __m512 v = _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(sums), xw), b);
  if (r) v = _mm512_add_ps(v, *r);
  return v;
}
inline __m512 act16(const Epi16Consts& k, __m512 v, LinearPost::Act act) {
  // vmaxps returns its second operand when either is NaN and when both are zeros, so max(v, +0) is
  // "v > 0 ? v : +0" exactly (NaN and -0 -> +0); then min(., 6) sees no NaN.
  if (act == LinearPost::Act::Relu) v = _mm512_max_ps(v, k.zero);
  else if (act == LinearPost::Act::Relu6) v = _mm512_min_ps(_mm512_max_ps(v, k.zero), k.six);
  return v;
}
inline __m512 value16(const Epi16Consts& k, __m512i sums, __m512 xstep, __m512 ws, __m512 b, const __m512* r,
                      LinearPost::Act act) {
  return act16(k, pre16(sums, _mm512_mul_ps(xstep, ws), b, r), act);
}

// quantize_scaled's rounding of v as int32 lanes (|.| <= q_max).
inline __m512i round16(const Epi16Consts& k, __m512 v) {
  const __m512 t = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(v, k.qinv), k.nqlim), k.qlim);
  const __m512 h = _mm512_castsi512_ps(_mm512_ternarylogic_epi32(_mm512_castps_si512(t), k.sign, k.half, 0xEA));
  return _mm512_cvttps_epi32(_mm512_add_ps(t, h));
}

// round16 for v >= +0 (after ReLU or ReLU6, which send NaN and -0 to +0): t = v * q_inv is then >= +0, so the
// lower clamp and the sign of the half are no-ops and are left out; the same int32 lanes.
inline __m512i round16_nonneg(const Epi16Consts& k, __m512 v) {
  const __m512 t = _mm512_min_ps(_mm512_mul_ps(v, k.qinv), k.qlim);
  return _mm512_cvttps_epi32(_mm512_add_ps(t, _mm512_castsi512_ps(k.half)));
}

// The int8 output of ReLU6(pre) when only that is needed (k.relu6_fusable): min(max(pre * q_inv, +0), qlim6),
// qlim6 = min(6 * q_inv, q_max), then round16_nonneg's rounding. The same lanes as round16_nonneg(ReLU6(pre)):
// multiplying by q_inv > 0 is monotone, so min(v, 6) * q_inv = min(v * q_inv, 6 * q_inv); max(., +0) sends
// NaN, -0 and negatives to +0 before or after the product alike; and min(., q_max) then clamps both the same.
// Three operations fewer (the 6 clamp, the product of the steps being hoisted by callers aside).
inline __m512i q16_relu6(const Epi16Consts& k, __m512 pre) {
  const __m512 t = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(pre, k.qinv), k.zero), k.qlim6);
  return _mm512_cvttps_epi32(_mm512_add_ps(t, _mm512_castsi512_ps(k.half)));
}

// round16 or round16_nonneg, by what the activation guarantees.
inline __m512i round16_after(const Epi16Consts& k, __m512 v, LinearPost::Act act) {
  return act == LinearPost::Act::Relu || act == LinearPost::Act::Relu6 ? round16_nonneg(k, v) : round16(k, v);
}

// 16 int8 outputs at q (full: all lanes; else the lanes of m).
template <class Full>
inline void store_q16(int8_t* q, __m128i b8, __mmask16 m, Full full) {
  if (full) _mm_storeu_si128(reinterpret_cast<__m128i*>(q), b8);
  else _mm_mask_storeu_epi8(q, m, b8);
}

// The outputs of 16 finished values v: the floats at y (kDst) and the int8 ones at q (kQ), as finish16v.
template <bool kDst, bool kQ, LinearPost::Act kAct, class Full>
inline void store_outputs16(const Epi16Consts& k, __m512 v, float* y, int8_t* q, __mmask16 m, Full full) {
  if (kDst) {
    if (full) _mm512_storeu_ps(y, v);
    else _mm512_mask_storeu_ps(y, m, v);
  }
  if (kQ) store_q16(q, _mm512_cvtepi32_epi8(round16_after(k, v, kAct)), m, full);
}

// finish16 with the row vectors already loaded: ws (w_step) and b (bias, or zero).
inline __m512 finish16v(const Epi16Consts& k, __m512i sums, __m512 xstep, __m512 ws, __m512 b, const float* residual,
                        LinearPost::Act act, __mmask16 m, float* y, int8_t* q) {
  const __m512 r = residual ? _mm512_maskz_loadu_ps(m, residual) : k.zero;
  const __m512 v = value16(k, sums, xstep, ws, b, residual ? &r : nullptr, act);
  if (y) _mm512_mask_storeu_ps(y, m, v);
  if (q) {
    const __m128i b8 = _mm512_cvtepi32_epi8(round16_after(k, v, act));
    if (m == 0xFFFF) _mm_storeu_si128(reinterpret_cast<__m128i*>(q), b8);
    else _mm_mask_storeu_epi8(q, m, b8);
  }
  return v;
}

inline __m512 finish16(const Epi16Consts& k, __m512i sums, __m512 xstep, const float* wstep, const float* bias,
                       const float* residual, LinearPost::Act act, __mmask16 m, float* y, int8_t* q) {
  return finish16v(k, sums, xstep, _mm512_maskz_loadu_ps(m, wstep), bias ? _mm512_maskz_loadu_ps(m, bias) : k.zero,
                   residual, act, m, y, q);
}

// emit_half's finishing with what varies per call (residual, float and int8 outputs, activation) as template
// arguments: with them as run-time tests the loop kept a branch per test and token and spilled the constants
// (perf on EfficientNet-Lite0's narrow 1x1 convs, where this loop is most of the time). Same operations.
template <bool kComp, bool kRes, bool kDst, bool kQ, LinearPost::Act kAct>
inline void emit_epi(const GemmEpilogue& e, const int32_t* xsum, int64_t r, int64_t t, int nt, const __m512i* c,
                     __mmask16 m) {
  const Epi16Consts k(e.q_inv, e.q_max);
  const __m512 ws = _mm512_maskz_loadu_ps(m, e.w_step + r), b = e.bias ? _mm512_maskz_loadu_ps(m, e.bias + r) : k.zero;
  const float* xs = e.x_step;
  const float* res = e.residual;
  float* dst = e.dst;
  int8_t* q = e.q;
  const int64_t stride = e.stride;
  // Only int8 outputs after ReLU6: q16_relu6's shortcut; a uniform step: x_step * w_step once.
  const bool fuse6 = kQ && !kDst && kAct == LinearPost::Act::Relu6 && k.relu6_fusable;
  const bool uniform = e.x_uniform;
  const __m512 xw0 = _mm512_mul_ps(_mm512_set1_ps(xs[t]), ws);
  auto one = [&](int i, auto full) {
    const int64_t o = (t + i) * stride + r;
    const __m512i s = kComp ? c[i] : _mm512_sub_epi32(c[i], _mm512_set1_epi32(128 * xsum[t + i]));
    __m512 rv = k.zero;
    if (kRes) rv = full ? _mm512_loadu_ps(res + o) : _mm512_maskz_loadu_ps(m, res + o);
    const __m512 pre = pre16(s, uniform ? xw0 : _mm512_mul_ps(_mm512_set1_ps(xs[t + i]), ws), b, kRes ? &rv : nullptr);
    if (fuse6) return store_q16(q + o, _mm512_cvtepi32_epi8(q16_relu6(k, pre)), m, full);
    store_outputs16<kDst, kQ, kAct>(k, act16(k, pre, kAct), kDst ? dst + o : nullptr, kQ ? q + o : nullptr, m, full);
  };
  if (m == 0xFFFF) {
    for (int i = 0; i < nt; ++i) one(i, std::true_type{});
  } else {
    for (int i = 0; i < nt; ++i) one(i, std::false_type{});
  }
}

template <bool kComp, bool kRes, bool kDst, bool kQ>
inline void emit_epi_act(const GemmEpilogue& e, const int32_t* xsum, int64_t r, int64_t t, int nt, const __m512i* c,
                         __mmask16 m) {
  using A = LinearPost::Act;
  switch (e.act) {
    case A::Relu: return emit_epi<kComp, kRes, kDst, kQ, A::Relu>(e, xsum, r, t, nt, c, m);
    case A::Relu6: return emit_epi<kComp, kRes, kDst, kQ, A::Relu6>(e, xsum, r, t, nt, c, m);
    default: return emit_epi<kComp, kRes, kDst, kQ, A::None>(e, xsum, r, t, nt, c, m);
  }
}

template <bool kComp, bool kRes>
inline void emit_epi_out(const GemmEpilogue& e, const int32_t* xsum, int64_t r, int64_t t, int nt, const __m512i* c,
                         __mmask16 m) {
  if (e.dst && e.q) return emit_epi_act<kComp, kRes, true, true>(e, xsum, r, t, nt, c, m);
  if (e.q) return emit_epi_act<kComp, kRes, false, true>(e, xsum, r, t, nt, c, m);
  if (e.dst) return emit_epi_act<kComp, kRes, true, false>(e, xsum, r, t, nt, c, m);
}

// Both halves of a full 32-row tile (c[i]: rows r .. r + 15 of token t + i, c[NT + i]: rows r + 16 .. r + 31)
// finished to int8 only (no float outputs, no residual: a.epi->q set, dst and residual null; sums
// compensated): per token the two halves' lanes as emit_epi computes them, narrowed together (vpackssdw,
// vpacksswb: the values are already within +-q_max, so the saturating packs narrow exactly; vpermd puts the
// 128-bit lanes' dwords back in row order) and stored as one 32-byte run instead of two vpmovdb and two
// 16-byte stores (the expand convs of EfficientNet-Lite0, K = 16-192: this store was a quarter of the
// epilogue's samples).
template <int NT, LinearPost::Act kAct>
inline void emit_q32(const GemmEpilogue& e, int64_t r, int64_t t, int nt, const __m512i* c) {
  const Epi16Consts k(e.q_inv, e.q_max);
  const __m512 ws0 = _mm512_loadu_ps(e.w_step + r), ws1 = _mm512_loadu_ps(e.w_step + r + 16);
  const __m512 b0 = e.bias ? _mm512_loadu_ps(e.bias + r) : k.zero;
  const __m512 b1 = e.bias ? _mm512_loadu_ps(e.bias + r + 16) : k.zero;
  const float* xs = e.x_step;
  int8_t* q = e.q;
  const int64_t stride = e.stride;
  const bool fuse6 = kAct == LinearPost::Act::Relu6 && k.relu6_fusable, uniform = e.x_uniform;
  const __m512 xs0 = _mm512_set1_ps(xs[t]);
  const __m512 xw00 = _mm512_mul_ps(xs0, ws0), xw01 = _mm512_mul_ps(xs0, ws1);
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  for (int i = 0; i < nt; ++i) {
    __m512 xw0 = xw00, xw1 = xw01;
    if (!uniform) {
      const __m512 x = _mm512_set1_ps(xs[t + i]);
      xw0 = _mm512_mul_ps(x, ws0), xw1 = _mm512_mul_ps(x, ws1);
    }
    const __m512 p0 = pre16(c[i], xw0, b0, nullptr), p1 = pre16(c[NT + i], xw1, b1, nullptr);
    __m512i q0, q1;
    if (fuse6) {
      q0 = q16_relu6(k, p0), q1 = q16_relu6(k, p1);
    } else {
      q0 = round16_after(k, act16(k, p0, kAct), kAct), q1 = round16_after(k, act16(k, p1, kAct), kAct);
    }
    // packs per 128-bit lane L: int16 [q0 4L..4L+3, q1 4L..4L+3], then bytes: dword 0 of lane L = q0's
    // 4L..4L+3, dword 1 = q1's (dwords 2, 3: zeros).
    const __m512i w = _mm512_packs_epi16(_mm512_packs_epi32(q0, q1), _mm512_setzero_si512());
    const __m512i o = _mm512_permutexvar_epi32(order, w);  // dwords 0-3: q0 in order, 4-7: q1
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + (t + i) * stride + r), _mm512_castsi512_si256(o));
  }
}

// Tokens t .. t + nt - 1's sums of rows r .. r + 15 of the call (c[i]: token t + i; lanes outside m: past the
// rows): the compensation for the unsigned weights, then stored to acc, or finished by a.epi (gemm_s8.h)
// without reaching memory. emit_epi reads every field of a.epi into locals before its first store (the int8
// stores may alias any object, so fields read through a.epi later were reloaded after each of them). Not a
// copy of the struct: the compiler copied it with one 64-byte store and read fields back from inside it, a
// store-forwarding stall per call that was a quarter of this function's samples (EfficientNet-Lite0, perf).
// kComp: the sums in c are already compensated (the VNNI kernels start each accumulator at -128 x_sum).
template <bool kComp = false>
inline void emit_half(const GemmS8Args& a, int64_t r, int64_t t, int nt, const __m512i* c, __mmask16 m) {
  if (!a.epi) {
    for (int i = 0; i < nt; ++i)
      _mm512_mask_storeu_epi32(a.acc + (t + i) * a.acc_stride + r, m,
                               kComp ? c[i] : _mm512_sub_epi32(c[i], _mm512_set1_epi32(128 * a.x_sum[t + i])));
    return;
  }
  const GemmEpilogue& e = *a.epi;
  if (e.residual) emit_epi_out<kComp, true>(e, a.x_sum, r, t, nt, c, m);
  else emit_epi_out<kComp, false>(e, a.x_sum, r, t, nt, c, m);
}

}  // namespace rmsmp

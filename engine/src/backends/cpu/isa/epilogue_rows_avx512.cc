// epilogue_rows (backends/backend.h) at AVX-512 with what varies per call (residual, float and int8 outputs,
// range, activation) as template arguments, on the in-register epilogue's operations (epilogue_avx512.h, the
// same bits as epilogue_rows lane by lane). The portable version tests each of these per block of 16 outputs
// and its generic vectors compile to a longer sequence: this one takes 0.52-0.63 of its time on ResNet-50's
// 256-row residual epilogue (3136 tokens; 16 outputs per iteration, the same loads and stores; bench_ops
// epilogue_rows/*), the pass where ResNet-50's residual convs spend about a third of their time.
#include <immintrin.h>

#include "backends/cpu/gemm_s8.h"
#include "backends/cpu/isa/epilogue_avx512.h"

namespace rmsmp {

namespace {

template <bool kRes, bool kDst, bool kQ, bool kMax, LinearPost::Act kAct>
uint32_t rows_pass(const int32_t* acc, int64_t acc_stride, int64_t tb, int64_t rows, const float* xstep,
                   const float* wstep, const float* bias, const float* residual, float* dst, int8_t* q, float q_inv,
                   int q_max) {
  const Epi16Consts k(q_inv, q_max);
  const __m512i mag = _mm512_set1_epi32(0x7fffffff), inf = _mm512_set1_epi32(0x7f800000);
  __m512i r = _mm512_setzero_si512();
  const __mmask16 tail = __mmask16((1u << (rows % 16)) - 1);
  auto block = [&](int64_t t, int64_t i, __mmask16 m, auto full) __attribute__((always_inline)) {
    const __m512 ws = full ? _mm512_loadu_ps(wstep + i) : _mm512_maskz_loadu_ps(m, wstep + i);
    const __m512 b = !bias ? k.zero : full ? _mm512_loadu_ps(bias + i) : _mm512_maskz_loadu_ps(m, bias + i);
    const __m512i s = full ? _mm512_loadu_si512(acc + t * acc_stride + i)
                           : _mm512_maskz_loadu_epi32(m, acc + t * acc_stride + i);
    const int64_t o = t * rows + i;
    __m512 rv = k.zero;
    if (kRes) rv = full ? _mm512_loadu_ps(residual + o) : _mm512_maskz_loadu_ps(m, residual + o);
    const __m512 v = act16(k, pre16(s, _mm512_mul_ps(_mm512_set1_ps(xstep[t]), ws), b, kRes ? &rv : nullptr), kAct);
    store_outputs16<kDst, kQ, kAct>(k, v, kDst ? dst + o : nullptr, kQ ? q + o : nullptr, m, full);
    if (kMax) {  // |v|'s bits, NaN -> 0 (lanes outside m are +0)
      __m512i u = _mm512_and_si512(_mm512_castps_si512(v), mag);
      u = _mm512_maskz_mov_epi32(_mm512_cmple_epu32_mask(u, inf), u);
      r = _mm512_max_epu32(r, u);
    }
  };
  for (int64_t t = 0; t < tb; ++t) {
    int64_t i = 0;
    for (; i + 16 <= rows; i += 16) block(t, i, __mmask16(0xFFFF), std::true_type{});
    if (i < rows) block(t, i, tail, std::false_type{});
  }
  return kMax ? _mm512_reduce_max_epu32(r) : 0u;
}

using PassFn = uint32_t (*)(const int32_t*, int64_t, int64_t, int64_t, const float*, const float*, const float*,
                            const float*, float*, int8_t*, float, int);

template <bool kRes, bool kDst, bool kQ, bool kMax>
PassFn by_act(LinearPost::Act act) {
  switch (act) {
    case LinearPost::Act::Relu: return rows_pass<kRes, kDst, kQ, kMax, LinearPost::Act::Relu>;
    case LinearPost::Act::Relu6: return rows_pass<kRes, kDst, kQ, kMax, LinearPost::Act::Relu6>;
    default: return rows_pass<kRes, kDst, kQ, kMax, LinearPost::Act::None>;
  }
}

template <bool kRes, bool kDst>
PassFn by_q_max(bool q, bool want_max, LinearPost::Act act) {
  if (q) return want_max ? by_act<kRes, kDst, true, true>(act) : by_act<kRes, kDst, true, false>(act);
  return want_max ? by_act<kRes, kDst, false, true>(act) : by_act<kRes, kDst, false, false>(act);
}

}  // namespace

uint32_t epilogue_rows_avx512(const int32_t* acc, int64_t acc_stride, int64_t tb, int64_t rows, const float* x_step,
                              const float* w_step, const float* bias, const float* residual, LinearPost::Act act,
                              bool want_max, float* dst, int8_t* q, float q_inv, int q_max) {
  PassFn f;
  if (residual) f = dst ? by_q_max<true, true>(q, want_max, act) : by_q_max<true, false>(q, want_max, act);
  else f = dst ? by_q_max<false, true>(q, want_max, act) : by_q_max<false, false>(q, want_max, act);
  return f(acc, acc_stride, tb, rows, x_step, w_step, bias, residual, dst, q, q_inv, q_max);
}

}  // namespace rmsmp

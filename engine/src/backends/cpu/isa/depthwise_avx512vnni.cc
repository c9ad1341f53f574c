// Depthwise int8 convolution for AVX-512 VNNI: per 32 channels and pair of taps, the two taps' activation bytes
// are interleaved within 128-bit lanes (vpunpck{l,h}bw), widened to int16 (vpmovsxbw) and multiplied-added
// with the prepared int16 weight pairs by vpdpwssd: 64 MACs in about 8 instructions, where the int16 products
// widened to int32 tap by tap took about 20 for 32. The interleave leaves channels in the order of the
// prepared layout (prepared.h); one permute per 16 channels restores it before the store. Exact: |x|, |w| <=
// 128, so each pair sum fits int32 with room for 2^15 taps.
#include <immintrin.h>

#include "backends/backend.h"
#include "backends/cpu/gemm_s8.h"
#include "backends/cpu/isa/epilogue_avx512.h"

namespace rmsmp {

namespace {
// The sums of channels c0 .. c0 + 31 (block b) of one pixel, in channel order: *c_0_15 and *c_16_31.
inline void block_sums(const int16_t* w, int64_t pairs, int64_t b, __mmask32 m, const int8_t* const* xs, __m512i* c_0_15,
                       __m512i* c_16_31) {
  // lo holds channels 0-7 and 16-23 of the block, hi 8-15 and 24-31 (dword lanes).
  const __m512i first = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
  const __m512i second = _mm512_setr_epi32(8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
  const int64_t c0 = 32 * b;
  const __m512i* wb = reinterpret_cast<const __m512i*>(w + b * pairs * 64);
  // Two accumulator pairs (even and odd tap pairs) halve the dependency chains through vpdpwssd.
  __m512i lo0 = _mm512_setzero_si512(), hi0 = lo0, lo1 = lo0, hi1 = lo0;
  int64_t p = 0;
  for (; p + 2 <= pairs; p += 2) {
    const __m256i a0 = _mm256_maskz_loadu_epi8(m, xs[2 * p] + c0), b0 = _mm256_maskz_loadu_epi8(m, xs[2 * p + 1] + c0);
    const __m256i a1 = _mm256_maskz_loadu_epi8(m, xs[2 * p + 2] + c0), b1 = _mm256_maskz_loadu_epi8(m, xs[2 * p + 3] + c0);
    lo0 = _mm512_dpwssd_epi32(lo0, _mm512_cvtepi8_epi16(_mm256_unpacklo_epi8(a0, b0)), _mm512_loadu_si512(wb + 2 * p));
    hi0 = _mm512_dpwssd_epi32(hi0, _mm512_cvtepi8_epi16(_mm256_unpackhi_epi8(a0, b0)), _mm512_loadu_si512(wb + 2 * p + 1));
    lo1 = _mm512_dpwssd_epi32(lo1, _mm512_cvtepi8_epi16(_mm256_unpacklo_epi8(a1, b1)), _mm512_loadu_si512(wb + 2 * p + 2));
    hi1 = _mm512_dpwssd_epi32(hi1, _mm512_cvtepi8_epi16(_mm256_unpackhi_epi8(a1, b1)), _mm512_loadu_si512(wb + 2 * p + 3));
  }
  if (p < pairs) {
    const __m256i a0 = _mm256_maskz_loadu_epi8(m, xs[2 * p] + c0), b0 = _mm256_maskz_loadu_epi8(m, xs[2 * p + 1] + c0);
    lo0 = _mm512_dpwssd_epi32(lo0, _mm512_cvtepi8_epi16(_mm256_unpacklo_epi8(a0, b0)), _mm512_loadu_si512(wb + 2 * p));
    hi0 = _mm512_dpwssd_epi32(hi0, _mm512_cvtepi8_epi16(_mm256_unpackhi_epi8(a0, b0)), _mm512_loadu_si512(wb + 2 * p + 1));
  }
  const __m512i lo = _mm512_add_epi32(lo0, lo1), hi = _mm512_add_epi32(hi0, hi1);
  *c_0_15 = _mm512_permutex2var_epi32(lo, first, hi);    // lo[0..7], hi[0..7]
  *c_16_31 = _mm512_permutex2var_epi32(lo, second, hi);  // lo[8..15], hi[8..15]
}

inline __mmask32 block_mask(int64_t channels, int64_t b) {
  const int64_t n = channels - 32 * b < 32 ? channels - 32 * b : 32;
  return n == 32 ? ~__mmask32(0) : __mmask32((uint64_t(1) << n) - 1);
}
}  // namespace

void depthwise_acc_s8_vnni(const int16_t* w, int64_t pairs, int64_t blocks, int64_t channels,
                           const int8_t* const* xs, int32_t* acc) {
  for (int64_t b = 0; b < blocks; ++b) {
    const __mmask32 m = block_mask(channels, b);
    __m512i c_0_15, c_16_31;
    block_sums(w, pairs, b, m, xs, &c_0_15, &c_16_31);
    _mm512_mask_storeu_epi32(acc + 32 * b, __mmask16(m), c_0_15);
    _mm512_mask_storeu_epi32(acc + 32 * b + 16, __mmask16(m >> 16), c_16_31);
  }
}

// Backend::depthwise_row_s8 with the sums kept in registers: per 16 channels finish16 (epilogue_avx512.h: the
// epilogue_rows operations, the same bits); the window's tap pointers as depthwise_window (backend.h) gives
// them. r.q: also the outputs quantized as quantize_scaled quantizes them (r.y null: only those).
uint32_t depthwise_row_vnni(const int16_t* w, int64_t pairs, int64_t blocks, int64_t channels, const DepthwiseRow& r) {
  const int64_t C = channels;
  const int8_t* rowp[kMaxDepthwiseTaps];
  depthwise_window_rows(r, C, rowp);
  const __m512 xstep = _mm512_set1_ps(r.xstep);
  const Epi16Consts k(r.q_inv, r.q_max);
  const __m512i mag = _mm512_set1_epi32(0x7fffffff), inf = _mm512_set1_epi32(0x7f800000);
  __m512i rmax = _mm512_setzero_si512();
  const int8_t* xs[kMaxDepthwiseTaps + 1];
  for (int64_t ox = 0; ox < r.ow; ++ox) {
    depthwise_window(r, C, rowp, ox, xs);
    float* y = r.y ? r.y + ox * C : nullptr;
    int8_t* q = r.q ? r.q + ox * C : nullptr;
    const float* res = r.residual ? r.residual + ox * C : nullptr;
    for (int64_t b = 0; b < blocks; ++b) {
      const __mmask32 m = block_mask(C, b);
      __m512i sums[2];
      block_sums(w, pairs, b, m, xs, &sums[0], &sums[1]);
      for (int h = 0; h < 2; ++h) {
        const __mmask16 mh = __mmask16(m >> (16 * h));
        if (!mh) break;
        const int64_t c = 32 * b + 16 * h;
        const __m512 v = finish16(k, sums[h], xstep, r.wstep + c, r.bias ? r.bias + c : nullptr,
                                  res ? res + c : nullptr, r.act, mh, y ? y + c : nullptr, q ? q + c : nullptr);
        if (r.want_max) {
          __m512i u = _mm512_and_si512(_mm512_castps_si512(v), mag);
          u = _mm512_maskz_mov_epi32(_mm512_cmple_epu32_mask(u, inf) & mh, u);  // NaN and lanes past C: 0
          rmax = _mm512_max_epu32(rmax, u);
        }
      }
    }
  }
  return r.want_max ? uint32_t(_mm512_reduce_max_epu32(rmax)) : 0u;
}

}  // namespace rmsmp

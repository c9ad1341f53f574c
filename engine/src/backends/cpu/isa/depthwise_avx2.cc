// Depthwise int8 convolution for AVX2, one output pixel (Backend::depthwise_acc_s8; the default
// depthwise_row_s8 runs it and epilogue_rows pixel by pixel). Taps go in pairs: per 16 channels the pair's two
// activation rows are byte-interleaved (vpunpck{l,h}bw), sign-extended to int16 (vpmovsxbw) and multiplied-added
// with the prepared int16 weight pairs by vpmaddwd: 32 MACs in about 10 instructions, where the portable loop
// (dw_pixel_s8, a product in int16 then two widenings per 16 channels and tap) took about 14 per 16 MACs.
// Exact: |x|, |w| <= 128, so a pair sum is at most 2^15 and a pixel's sum fits int32 easily.
#include <immintrin.h>

#include <cstring>

#include "backends/cpu/gemm_s8.h"
#include "backends/cpu/prepared.h"

namespace rmsmp {

std::shared_ptr<const CpuPreparedDepthwiseAvx2> cpu_prepare_depthwise_avx2(const int8_t* w, int64_t kh, int64_t kw,
                                                                            int64_t channels) {
  auto p = std::make_shared<CpuPreparedDepthwiseAvx2>();
  p->taps = kh * kw, p->channels = channels;
  p->pairs = (p->taps + 1) / 2, p->blocks = channels / 16;
  p->wpairs.assign(size_t(p->pairs * p->blocks * 32), 0);
  for (int64_t q = 0; q < p->pairs; ++q)
    for (int64_t b = 0; b < p->blocks; ++b)
      for (int64_t i = 0; i < 16; ++i)
        for (int64_t j = 0; j < 2; ++j) {
          const int64_t t = 2 * q + j, c = 16 * b + i;
          p->wpairs[size_t((q * p->blocks + b) * 32 + 2 * i + j)] = t < p->taps ? w[t * channels + c] : 0;
        }
  p->w.assign(w, w + p->taps * channels);
  return p;
}

void depthwise_acc_s8_avx2(const CpuPreparedDepthwiseAvx2& p, const int8_t* const* xs, int32_t* acc) {
  const int64_t C = p.channels, B = p.blocks;
  for (int64_t b = 0; b < B; ++b) {
    const int64_t c0 = 16 * b;
    __m256i lo = _mm256_setzero_si256(), hi = lo;
    const int16_t* wp = p.wpairs.data() + b * 32;
    for (int64_t q = 0; q < p.pairs; ++q, wp += B * 32) {
      // xs has taps + 1 pointers: an odd count's last pair reads the zeros row against a zero weight.
      const __m128i x0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(xs[2 * q] + c0));
      const __m128i x1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(xs[2 * q + 1] + c0));
      const __m256i a0 = _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(x0, x1));  // channels c0 .. c0 + 7, tap pairs
      const __m256i a1 = _mm256_cvtepi8_epi16(_mm_unpackhi_epi8(x0, x1));  // c0 + 8 .. c0 + 15
      lo = _mm256_add_epi32(lo, _mm256_madd_epi16(a0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wp))));
      hi = _mm256_add_epi32(hi, _mm256_madd_epi16(a1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wp + 16))));
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(acc + c0), lo);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(acc + c0 + 8), hi);
  }
  for (int64_t c = 16 * B; c < C; ++c) {  // channels past the last block of 16
    int32_t s = 0;
    for (int64_t t = 0; t < p.taps; ++t) s += int32_t(xs[t][c]) * int32_t(p.w[size_t(t * C + c)]);
    acc[c] = s;
  }
}

}  // namespace rmsmp

// Depthwise int8 convolution for AVX-512 VNNI: per 64 channels and quad of taps, the four taps' activation
// bytes (+128, so unsigned) are interleaved within 128-bit lanes (vpunpck{l,h}bw, then {l,h}wd) into one dword
// of four taps per channel and multiplied-added with the prepared signed weights by vpdpbusd: 256 MACs in about
// 20 instructions, where int16 pairs (vpmovsxbw + vpdpwssd) took 32. The accumulators start at -128 sum w, so
// the sums are exact (|x| <= 127, |w| <= 128: four products and 64 quads fit int32). One 4 x 4 transpose of
// 128-bit lanes per 64 channels restores channel order (prepared.h has the layout). EfficientNet-Lite0, one
// thread, per-node minima: its depthwise convs of 144-1152 channels 8-36% faster; 32 and 96 channels (half a
// block or one and a half) unchanged. The row kernel interleaves stride-1 windows of at most 4 rows once per
// input column instead (prepared.h's column quads; interleave_columns): 112 x 112 x 32 410 -> 263 us.
#include <immintrin.h>

#include <vector>

#include "backends/backend.h"
#include "backends/cpu/gemm_s8.h"
#include "backends/cpu/isa/dpbusd.h"
#include "backends/cpu/isa/epilogue_avx512.h"
#include "backends/cpu/prepared.h"

namespace rmsmp {

namespace {
// Four taps' (or rows') bytes of channels c0 .. c0 + 63 (+128: unsigned), interleaved within 128-bit lanes
// (vpunpck{l,h}bw, then {l,h}wd) into the four vectors whose dwords vpdpbusd multiplies with a quad's weights.
inline void interleave4(const int8_t* const* xs, int64_t c0, __mmask64 m, __m512i* a) {
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  __m512i x[4];
  for (int i = 0; i < 4; ++i) x[i] = _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, xs[i] + c0), flip);
  const __m512i lo01 = _mm512_unpacklo_epi8(x[0], x[1]), hi01 = _mm512_unpackhi_epi8(x[0], x[1]);
  const __m512i lo23 = _mm512_unpacklo_epi8(x[2], x[3]), hi23 = _mm512_unpackhi_epi8(x[2], x[3]);
  a[0] = _mm512_unpacklo_epi16(lo01, lo23);
  a[1] = _mm512_unpackhi_epi16(lo01, lo23);
  a[2] = _mm512_unpacklo_epi16(hi01, hi23);
  a[3] = _mm512_unpackhi_epi16(hi01, hi23);
}
// The same for at most 32 channels (ymm: the low halves).
inline void interleave4_32(const int8_t* const* xs, int64_t c0, __mmask32 m, __m256i* a) {
  const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
  __m256i x[4];
  for (int i = 0; i < 4; ++i) x[i] = _mm256_xor_si256(_mm256_maskz_loadu_epi8(m, xs[i] + c0), flip);
  const __m256i lo01 = _mm256_unpacklo_epi8(x[0], x[1]), hi01 = _mm256_unpackhi_epi8(x[0], x[1]);
  const __m256i lo23 = _mm256_unpacklo_epi8(x[2], x[3]), hi23 = _mm256_unpackhi_epi8(x[2], x[3]);
  a[0] = _mm256_unpacklo_epi16(lo01, lo23);
  a[1] = _mm256_unpackhi_epi16(lo01, lo23);
  a[2] = _mm256_unpacklo_epi16(hi01, hi23);
  a[3] = _mm256_unpackhi_epi16(hi01, hi23);
}

// acc[k] lane L holds channels 16 L + 4 k .. + 3 (interleave4's order): a 4 x 4 transpose of 128-bit lanes puts
// them in channel order, out[L] = channels 16 L .. 16 L + 15.
inline void channel_order(const __m512i* acc, __m512i* out) {
  const __m512i t0 = _mm512_shuffle_i32x4(acc[0], acc[1], 0x44), t1 = _mm512_shuffle_i32x4(acc[2], acc[3], 0x44);
  const __m512i t2 = _mm512_shuffle_i32x4(acc[0], acc[1], 0xEE), t3 = _mm512_shuffle_i32x4(acc[2], acc[3], 0xEE);
  out[0] = _mm512_shuffle_i32x4(t0, t1, 0x88);
  out[1] = _mm512_shuffle_i32x4(t0, t1, 0xDD);
  out[2] = _mm512_shuffle_i32x4(t2, t3, 0x88);
  out[3] = _mm512_shuffle_i32x4(t2, t3, 0xDD);
}
// The same for the ymm sums of at most 32 channels: out[0], out[1] as above, out[2], out[3] zero.
inline void channel_order32(const __m256i* acc, __m512i* out) {
  const __m256i l0a = _mm256_permute2x128_si256(acc[0], acc[1], 0x20), l0b = _mm256_permute2x128_si256(acc[2], acc[3], 0x20);
  const __m256i l1a = _mm256_permute2x128_si256(acc[0], acc[1], 0x31), l1b = _mm256_permute2x128_si256(acc[2], acc[3], 0x31);
  out[0] = _mm512_inserti64x4(_mm512_castsi256_si512(l0a), l0b, 1);
  out[1] = _mm512_inserti64x4(_mm512_castsi256_si512(l1a), l1b, 1);
  out[2] = out[3] = _mm512_setzero_si512();
}

// The sums of channels 64 b .. 64 b + 63 of one pixel, in channel order: out[L] = channels 64 b + 16 L + 0..15.
// xs: 4 * quads tap pointers (taps past the last may point anywhere readable: their weights are 0).
inline void block_sums(const int8_t* w, const int32_t* comp, int64_t quads, int64_t b, __mmask64 m,
                       const int8_t* const* xs, __m512i* out) {
  const __m512i* wb = reinterpret_cast<const __m512i*>(w + b * quads * 256);
  const __m512i* cb = reinterpret_cast<const __m512i*>(comp + b * 64);
  __m512i acc[4];
  for (int k = 0; k < 4; ++k) acc[k] = _mm512_loadu_si512(cb + k);  // -128 sum w: x + 128 below
  for (int64_t q = 0; q < quads; ++q) {
    __m512i a[4];
    interleave4(xs + 4 * q, 64 * b, m, a);
    for (int k = 0; k < 4; ++k) acc[k] = dpbusd(acc[k], a[k], _mm512_loadu_si512(wb + 4 * q + k));
  }
  channel_order(acc, out);
}

// The same for a last block of at most 32 channels (ymm: half the work; EfficientNet-Lite0's 32- and
// 96-channel depthwise convs): out[0], out[1] as above, out[2], out[3] zero.
inline void block_sums32(const int8_t* w, const int32_t* comp, int64_t quads, int64_t b, __mmask32 m,
                         const int8_t* const* xs, __m512i* out) {
  const uint8_t* wb = reinterpret_cast<const uint8_t*>(w + b * quads * 256);
  const int32_t* cb = comp + b * 64;
  __m256i acc[4];
  for (int k = 0; k < 4; ++k) acc[k] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(cb + 16 * k));
  for (int64_t q = 0; q < quads; ++q) {
    __m256i a[4];
    interleave4_32(xs + 4 * q, 64 * b, m, a);
    for (int k = 0; k < 4; ++k)  // the first two lanes of each zmm k of the quad's weights
      acc[k] = _mm256_dpbusd_epi32(acc[k], a[k], _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wb + 256 * q + 64 * k)));
  }
  channel_order32(acc, out);
}

// block_sums or block_sums32, by how many channels block b has.
inline void any_block_sums(const CpuPreparedDepthwise& p, int64_t b, __mmask64 m, const int8_t* const* xs,
                           __m512i* out) {
  if (p.channels - 64 * b <= 32) block_sums32(p.w.data(), p.comp.data(), p.quads, b, __mmask32(m), xs, out);
  else block_sums(p.w.data(), p.comp.data(), p.quads, b, m, xs, out);
}

inline __mmask64 block_mask(int64_t channels, int64_t b) {
  const int64_t n = channels - 64 * b < 64 ? channels - 64 * b : 64;
  return n == 64 ? ~__mmask64(0) : __mmask64((uint64_t(1) << n) - 1);
}

// The tap pointers padded to whole quads (the last tap repeated: its weights there are 0).
inline void pad_taps(const int8_t** xs, int64_t taps, int64_t quads) {
  for (int64_t t = taps; t < 4 * quads; ++t) xs[t] = xs[taps - 1];
}
}  // namespace

void depthwise_acc_s8_vnni(const CpuPreparedDepthwise& p, const int8_t* const* xs_in, int32_t* acc) {
  const int8_t* xs[kMaxDepthwiseTaps + 4];
  for (int64_t t = 0; t < p.taps; ++t) xs[t] = xs_in[t];
  pad_taps(xs, p.taps, p.quads);
  for (int64_t b = 0; b < p.blocks; ++b) {
    const __mmask64 m = block_mask(p.channels, b);
    __m512i out[4];
    any_block_sums(p, b, m, xs, out);
    for (int l = 0; l < 4; ++l) _mm512_mask_storeu_epi32(acc + 64 * b + 16 * l, __mmask16(m >> (16 * l)), out[l]);
  }
}

namespace {
// The row kernel's activations: per block of 64 channels, input column and quad of rows (prepared.h's column
// quads), the four vectors that vpdpbusd multiplies with that quad's weights, made once per output row
// (interleave_columns) and read by every output pixel whose window covers the column (column_sums).
// Scratch of block b: ncol * vquads slots of 256 bytes, slot (col, g) at (col * vquads + g) * 256.

// Four rows' bytes of one column and block, interleaved as block_sums does, into a slot (a last block of at most
// 32 channels: the low 32 bytes of each of the slot's four vectors).
inline void interleave_slot(const int8_t* const* rows4, int64_t c0, __mmask64 m, bool narrow, __m512i* slot) {
  if (narrow) {
    __m256i a[4];
    interleave4_32(rows4, c0, __mmask32(m), a);
    for (int k = 0; k < 4; ++k) _mm256_store_si256(reinterpret_cast<__m256i*>(slot + k), a[k]);
    return;
  }
  __m512i a[4];
  interleave4(rows4, c0, m, a);
  for (int k = 0; k < 4; ++k) _mm512_store_si512(slot + k, a[k]);
}

// Every slot of output row r.oy's window: input columns ix = col - pl for col < ncol (outside the input:
// r.zeros), rows of quad g = 4 g .. 4 g + 3 of the window (outside the input or past kh: r.zeros; their
// weights are 0 past kh, and a zero input contributes nothing once compensated).
void interleave_columns(const CpuPreparedDepthwise& p, const DepthwiseRow& r, const int8_t* const* rowp, int64_t ncol,
                        __m512i* scratch) {
  const int64_t C = p.channels, vq = p.vquads;
  for (int64_t g = 0; g < vq; ++g) {
    const int8_t* rows[4];
    for (int i = 0; i < 4; ++i) rows[i] = 4 * g + i < p.kh ? rowp[4 * g + i] : nullptr;
    for (int64_t col = 0; col < ncol; ++col) {
      const int64_t ix = col - r.pl;
      const bool inside = ix >= 0 && ix < r.in_w;
      const int8_t* rows4[4];
      for (int i = 0; i < 4; ++i) rows4[i] = inside && rows[i] ? rows[i] + ix * C : r.zeros;
      for (int64_t b = 0; b < p.blocks; ++b) {
        __m512i* slot = scratch + ((b * ncol + col) * vq + g) * 4;
        interleave_slot(rows4, 64 * b, block_mask(C, b), C - 64 * b <= 32, slot);
      }
    }
  }
}

// Block b's sums of the pixel whose window starts at scratch column col0, in channel order (as block_sums).
inline void column_sums(const CpuPreparedDepthwise& p, const __m512i* scratch, int64_t ncol, int64_t col0, int64_t b,
                        __m512i* out) {
  const int64_t vq = p.vquads, nq = p.kw * vq;  // the window's slots: (col0 + kx, g) for kx < kw, g < vq
  const __m512i* xb = scratch + (b * ncol + col0) * vq * 4;  // slot (kx, g) of the window at xb + (kx vq + g) 4
  const __m512i* wb = reinterpret_cast<const __m512i*>(p.wcol.data() + b * nq * 256);
  const __m512i* cb = reinterpret_cast<const __m512i*>(p.comp.data() + b * 64);
  if (p.channels - 64 * b <= 32) {  // ymm: the low halves (block_sums32's layout)
    __m256i acc[4];
    for (int k = 0; k < 4; ++k) acc[k] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(cb) + 2 * k);
    for (int64_t s = 0; s < nq; ++s)
      for (int k = 0; k < 4; ++k)
        acc[k] = _mm256_dpbusd_epi32(acc[k], _mm256_load_si256(reinterpret_cast<const __m256i*>(xb + 4 * s + k)),
                                     _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wb + 4 * s + k)));
    channel_order32(acc, out);
    return;
  }
  __m512i acc[4];
  for (int k = 0; k < 4; ++k) acc[k] = _mm512_loadu_si512(cb + k);
  for (int64_t s = 0; s < nq; ++s)
    for (int k = 0; k < 4; ++k)
      acc[k] = dpbusd(acc[k], _mm512_load_si512(xb + 4 * s + k), _mm512_loadu_si512(wb + 4 * s + k));
  channel_order(acc, out);
}

// One row of outputs. kAct >= 0: the handoff's common case, specialised (int8 outputs only, no residual, no float
// output, no range; activation kAct): its finishing then has no tests per 16 channels and keeps its constants
// in registers. kAct < 0: anything, tested at run time. The same operations either way.
template <int kAct>
uint32_t depthwise_row_impl(const CpuPreparedDepthwise& p, const DepthwiseRow& r) {
  constexpr bool kFast = kAct >= 0;
  const LinearPost::Act act = kFast ? LinearPost::Act(kAct) : r.act;
  const int64_t C = p.channels;
  const int8_t* rowp[kMaxDepthwiseTaps];
  depthwise_window_rows(r, C, rowp);
  // Stride 1 and at most 4 rows: this output row's window columns, interleaved once (interleave_columns; a
  // thread's scratch grows to the largest row seen, then stays: at most 30 KB for EfficientNet-Lite0). Else per
  // pixel, each tap interleaved for each pixel (block_sums). EfficientNet-Lite0, one thread, per-node minima:
  // the 3x3 stride-1 nodes 3-40% faster by column (112 x 112 x 32: 410 -> 263 us); the 5 x 5 ones (two row
  // quads per column, 10 quads for 25 taps against 7) and the stride-2 ones (columns shared by fewer pixels)
  // 1-45% slower, so they stay per pixel.
  const bool by_column = p.vquads == 1 && r.sw == 1;
  const int64_t ncol = by_column ? (r.ow - 1) * r.sw + p.kw : 0;
  struct alignas(64) Vec {
    int8_t b[64];
  };
  thread_local std::vector<Vec> scratch;  // 64-byte aligned (over-aligned new)
  const size_t need = size_t(p.blocks * ncol * p.vquads * 4);
  if (scratch.size() < need) scratch.resize(need);
  __m512i* const sv = reinterpret_cast<__m512i*>(scratch.data());
  if (by_column) interleave_columns(p, r, rowp, ncol, sv);
  const int8_t* xs[kMaxDepthwiseTaps + 4];
  const __m512 xstep = _mm512_set1_ps(r.xstep);
  const Epi16Consts k(r.q_inv, r.q_max);
  const bool fuse6 = kFast && act == LinearPost::Act::Relu6 && k.relu6_fusable;
  const __m512i mag = _mm512_set1_epi32(0x7fffffff), inf = _mm512_set1_epi32(0x7f800000);
  __m512i rmax = _mm512_setzero_si512();
  for (int64_t ox = 0; ox < r.ow; ++ox) {
    if (!by_column) {
      depthwise_window(r, C, rowp, ox, xs);
      pad_taps(xs, p.taps, p.quads);
    }
    float* y = !kFast && r.y ? r.y + ox * C : nullptr;
    int8_t* q = r.q ? r.q + ox * C : nullptr;
    const float* res = !kFast && r.residual ? r.residual + ox * C : nullptr;
    for (int64_t b = 0; b < p.blocks; ++b) {
      const __mmask64 m = block_mask(C, b);
      __m512i sums[4];
      if (by_column) column_sums(p, sv, ncol, ox * r.sw, b, sums);
      else any_block_sums(p, b, m, xs, sums);
      for (int h = 0; h < 4; ++h) {
        const __mmask16 mh = __mmask16(m >> (16 * h));
        if (!mh) break;
        const int64_t c = 64 * b + 16 * h;
        if (fuse6) {  // int8 outputs of ReLU6 only: q16_relu6's shortcut (epilogue_avx512.h), the same bytes
          const __m512 pre = pre16(sums[h], _mm512_mul_ps(xstep, _mm512_maskz_loadu_ps(mh, r.wstep + c)),
                                   r.bias ? _mm512_maskz_loadu_ps(mh, r.bias + c) : k.zero, nullptr);
          const __m128i b8 = _mm512_cvtepi32_epi8(q16_relu6(k, pre));
          if (mh == 0xFFFF) _mm_storeu_si128(reinterpret_cast<__m128i*>(q + c), b8);
          else _mm_mask_storeu_epi8(q + c, mh, b8);
          continue;
        }
        const __m512 v = finish16(k, sums[h], xstep, r.wstep + c, r.bias ? r.bias + c : nullptr,
                                  res ? res + c : nullptr, act, mh, y ? y + c : nullptr, q ? q + c : nullptr);
        if (!kFast && r.want_max) {
          __m512i u = _mm512_and_si512(_mm512_castps_si512(v), mag);
          u = _mm512_maskz_mov_epi32(_mm512_cmple_epu32_mask(u, inf) & mh, u);  // NaN and lanes past C: 0
          rmax = _mm512_max_epu32(rmax, u);
        }
      }
    }
  }
  return !kFast && r.want_max ? uint32_t(_mm512_reduce_max_epu32(rmax)) : 0u;
}
}  // namespace

// Backend::depthwise_row_s8 with the sums kept in registers: per 16 channels finish16 (epilogue_avx512.h: the
// epilogue_rows operations, the same bits); the window's tap pointers as depthwise_window (backend.h) gives
// them. r.q: also the outputs quantized as quantize_scaled quantizes them (r.y null: only those).
uint32_t depthwise_row_vnni(const CpuPreparedDepthwise& p, const DepthwiseRow& r) {
  if (r.q && !r.y && !r.residual && !r.want_max) {
    switch (r.act) {
      case LinearPost::Act::Relu6: return depthwise_row_impl<int(LinearPost::Act::Relu6)>(p, r);
      case LinearPost::Act::Relu: return depthwise_row_impl<int(LinearPost::Act::Relu)>(p, r);
      default: return depthwise_row_impl<int(LinearPost::Act::None)>(p, r);
    }
  }
  return depthwise_row_impl<-1>(p, r);
}

}  // namespace rmsmp

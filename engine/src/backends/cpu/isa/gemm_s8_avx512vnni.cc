// AVX-512 VNNI int8 panel GEMM as outer products. The panel is in VNNI layout (gemm_s8.h): one zmm holds 16
// rows x 4 consecutive k values of w + 128 (unsigned), and vpdpbusd multiplies it by 4 bytes of one token's
// signed activations broadcast to every lane, accumulating each row's sum in its own int32 lane: no horizontal
// reduction, and the products of unsigned <= 255 by signed |x| <= 127 cannot saturate (vpdpbusd has no int16
// stage). sum (w + 128) x = sum w x + 128 sum x, so each token's accumulators start at -128 * x_sum.
// Register tile: 32 rows (2 zmm) x 8 tokens = 16 accumulators; a lone block of 16 rows (a narrow layer, the
// last tile of a side part) takes 16 rows x 16 tokens instead of computing a discarded second block. A token
// tail takes the narrowest tile that holds it (4, 2 or 1 tokens; k_loop).
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "backends/cpu/gemm_s8.h"
#include "backends/cpu/isa/dpbusd.h"
#include "backends/cpu/isa/epilogue_avx512.h"

namespace rmsmp {

namespace {
// One k quad of NT tokens (4 bytes each at x[i] + 4 q, broadcast) against H (1 or 2) 16-row weight vectors w:
// the inner step of every tile below. a[h][i]: half h, token i.
template <int NT, int H>
inline __attribute__((always_inline)) void dp_quad(const int8_t* const* x, int64_t q, const __m512i* w,
                                                   __m512i (*a)[NT]) {
#pragma GCC unroll 16
  for (int i = 0; i < NT; ++i) {
    int32_t v;
    std::memcpy(&v, x[i] + 4 * q, 4);
    const __m512i xb = _mm512_set1_epi32(v);
#pragma GCC unroll 2
    for (int h = 0; h < H; ++h) a[h][i] = dpbusd(a[h][i], w[h], xb);
  }
}

// The k loop of an H x 16-row, NT-token tile: the sum over the kq quads, plus comp[i] (token i's -128 x_sum:
// the compensation for the unsigned weights, as the accumulators' start, so that no pass subtracts it), stored
// at out + i * si + h * sh (16 int32 each: c[h * NT + i] of a register array, or rows of acc directly).
// quad(q, w) fills w[0 .. H) with quad q's weights (and may prefetch). A tile of fewer than 16 accumulators (a
// token tail: NT < 8 with two halves) keeps U = 16 / (H NT) partial sums per output, quads q, q + 1, ... round
// robin, so that 16 independent vpdpbusd chains still cover its latency; the int32 sums are exact in any order
// (wrapping addition is associative), so the bits are those of one chain. Before, a tail of 1-7 tokens ran the
// 8-token tile on repeated tokens: a 1-token layer (a classifier, 1 x 1280 x 1000) did 8 times the work.
template <int NT, int H, class Quad>
inline __attribute__((always_inline)) void k_loop(const int8_t* const* x, const int32_t* comp, int64_t kq, Quad quad,
                                                  int32_t* out, int64_t si, int64_t sh) {
  constexpr int U = NT * H >= 16 ? 1 : 16 / (NT * H);
  __m512i a[U][H][NT];
#pragma GCC unroll 16
  for (int u = 0; u < U; ++u)
#pragma GCC unroll 2
    for (int h = 0; h < H; ++h)
#pragma GCC unroll 16
      for (int i = 0; i < NT; ++i) a[u][h][i] = u == 0 ? _mm512_set1_epi32(comp[i]) : _mm512_setzero_si512();
  __m512i w[H];
  int64_t q = 0;
  for (; q + U <= kq; q += U) {
#pragma GCC unroll 16
    for (int u = 0; u < U; ++u) {
      quad(q + u, w);
      dp_quad<NT, H>(x, q + u, w, a[u]);
    }
  }
  for (; q < kq; ++q) {
    quad(q, w);
    dp_quad<NT, H>(x, q, w, a[0]);
  }
#pragma GCC unroll 2
  for (int h = 0; h < H; ++h)
#pragma GCC unroll 16
    for (int i = 0; i < NT; ++i) {
      __m512i v = a[0][h][i];
#pragma GCC unroll 16
      for (int u = 1; u < U; ++u) v = _mm512_add_epi32(v, a[u][h][i]);
      _mm512_storeu_si512(out + i * si + h * sh, v);
    }
}

// The tile's token pointers (a tail repeats the last token; its sums are discarded) and compensations.
template <int NT>
inline __attribute__((always_inline)) void tile_tokens(const GemmS8Args& a, int64_t t, const int8_t** x,
                                                       int32_t* comp) {
  for (int i = 0; i < NT; ++i) {
    const int64_t ti = std::min(t + i, a.n_tokens - 1);
    x[i] = a.x + ti * a.k_padded;
    comp[i] = -128 * a.x_sum[ti];
  }
}

// The tile for nt remaining tokens, at most F (8 or 16) wide: the narrowest of 1, 2, 4, 8, 16 that holds them.
// Calls tile(std::integral_constant<int, W>) with that width W and returns W: the one dispatch of every tile family.
template <int F, class Tile>
inline int with_tile_tokens(int64_t nt, Tile&& tile) {
  const int w = nt >= F ? F : nt > 4 ? 8 : nt > 2 ? 4 : nt > 1 ? 2 : 1;
  if constexpr (F >= 16)
    if (w == 16) return tile(std::integral_constant<int, 16>{}), w;
  switch (w) {
    case 8: return tile(std::integral_constant<int, 8>{}), w;
    case 4: return tile(std::integral_constant<int, 4>{}), w;
    case 2: return tile(std::integral_constant<int, 2>{}), w;
    default: return tile(std::integral_constant<int, 1>{}), w;
  }
}

// Register tiles: each k loop below runs in a function of its own (noinline) on local accumulator arrays that
// nothing else sees, and copies them out once at the end. Inlined into a caller that passes the arrays on
// (emit_half), GCC 12 kept them in memory and stored every accumulator on every quad (dpbusd.h).

// One micro tile: 32 rows (two zmm of 16) x NT <= 8 tokens over every k quad, stored as k_loop's out, si, sh
// (c[]: 16 rows of the first block for each token, then the second block's). With Prefetch, each quad also
// prefetches the next cache line of each run in pf (advancing the cursors), so the next tile's weights arrive
// while this one computes.
template <bool Prefetch, int NT>
__attribute__((noinline)) void micro_tile(const uint8_t* p0, const uint8_t* p1, const int8_t* const* x,
                                          const int32_t* comp, int64_t kq, int32_t* out, int64_t si, int64_t sh,
                                          const uint8_t** pf, const uint8_t* const* pf_end) {
  k_loop<NT, 2>(x, comp, kq, [&](int64_t q, __m512i* w) {
    if (Prefetch) {
      for (int h = 0; h < 2; ++h)
        if (pf[h] < pf_end[h]) {
          __builtin_prefetch(pf[h], 0, 2);
          pf[h] += 64;
        }
    }
    w[0] = _mm512_loadu_si512(p0 + q * 64);
    w[1] = _mm512_loadu_si512(p1 + q * 64);
  }, out, si, sh);
}

// 16 rows (one zmm) x NT <= 16 tokens: one weight load per quad serves NT tokens.
template <int NT>
__attribute__((noinline)) void micro_tile16(const uint8_t* p0, const int8_t* const* x, const int32_t* comp,
                                            int64_t kq, __m512i* c) {
  k_loop<NT, 1>(x, comp, kq, [&](int64_t q, __m512i* w) { w[0] = _mm512_loadu_si512(p0 + q * 64); },
                reinterpret_cast<int32_t*>(c), 16, 0);
}

// The tokens [t, t + NT) of the rows from r: the tile, the epilogue.
template <int NT>
void tile16_bytes(const GemmS8Args& a, const uint8_t* p0, int64_t r, int64_t t) {
  const int8_t* x[NT];
  int32_t comp[NT];
  tile_tokens<NT>(a, t, x, comp);
  __m512i c[NT];
  micro_tile16<NT>(p0, x, comp, a.k_padded / 4, c);
  emit_half<true>(a, r, t, int(std::min<int64_t>(NT, a.n_tokens - t)), c, __mmask16((1u << (a.n_rows - r)) - 1));
}
template <int NT>
void tile32_bytes(const GemmS8Args& a, const uint8_t* p0, const uint8_t* p1, int64_t r, int64_t t,
                  const uint8_t** pf, const uint8_t* const* pf_end) {
  const int8_t* x[NT];
  int32_t comp[NT];
  tile_tokens<NT>(a, t, x, comp);
  const int64_t kq = a.k_padded / 4;
  const bool pfo = pf[0] < pf_end[0] || pf[1] < pf_end[1];
  if (!a.epi && r + 32 <= a.n_rows && t + NT <= a.n_tokens) {  // every sum kept: straight into acc
    int32_t* out = a.acc + t * a.acc_stride + r;
    if (pfo) micro_tile<true, NT>(p0, p1, x, comp, kq, out, a.acc_stride, 16, pf, pf_end);
    else micro_tile<false, NT>(p0, p1, x, comp, kq, out, a.acc_stride, 16, pf, pf_end);
    return;
  }
  __m512i c[2 * NT];
  int32_t* cs = reinterpret_cast<int32_t*>(c);
  if (pfo) micro_tile<true, NT>(p0, p1, x, comp, kq, cs, 16, 16 * NT, pf, pf_end);
  else micro_tile<false, NT>(p0, p1, x, comp, kq, cs, 16, 16 * NT, pf, pf_end);
  const int64_t n0 = std::min<int64_t>(16, a.n_rows - r), n1 = std::min<int64_t>(16, a.n_rows - r - 16);
  const int nt = int(std::min<int64_t>(NT, a.n_tokens - t));
  if (a.epi && n1 == 16 && a.epi->q && !a.epi->dst && !a.epi->residual) {  // int8 outputs only: 32 bytes a token
    switch (a.epi->act) {
      case LinearPost::Act::Relu: return emit_q32<NT, LinearPost::Act::Relu>(*a.epi, r, t, nt, c);
      case LinearPost::Act::Relu6: return emit_q32<NT, LinearPost::Act::Relu6>(*a.epi, r, t, nt, c);
      default: return emit_q32<NT, LinearPost::Act::None>(*a.epi, r, t, nt, c);
    }
  }
  emit_half<true>(a, r, t, nt, c, __mmask16((1u << n0) - 1));
  emit_half<true>(a, r + 16, t, nt, c + NT, __mmask16((1u << n1) - 1));
}
}  // namespace

void gemm_s8_avx512vnni(const GemmS8Args& a) {
  const int64_t K = a.k_padded, T = a.n_tokens;
  const uint8_t* pf[2] = {a.prefetch[0], a.prefetch[1]};
  const uint8_t* pf_end[2] = {pf[0] ? pf[0] + a.prefetch_bytes[0] : nullptr, pf[1] ? pf[1] + a.prefetch_bytes[1] : nullptr};
  for (int64_t r = 0; r < a.n_rows; r += 32) {
    const bool two = r + 16 < a.n_rows;  // a second block of 16 rows exists
    const uint8_t* p0 = reinterpret_cast<const uint8_t*>(a.w) + r * K;  // block r / 16 starts at (r / 16) * 16 * K
    const uint8_t* p1 = !two ? p0 : a.w_hi ? reinterpret_cast<const uint8_t*>(a.w_hi) : p0 + 16 * K;
    if (!two) {  // one block of at most 16 rows (no prefetch here: such calls are a layer's small last part)
      for (int64_t t = 0; t < T;)
        t += with_tile_tokens<16>(T - t, [&](auto w) { tile16_bytes<decltype(w)::value>(a, p0, r, t); });
      continue;
    }
    for (int64_t t = 0; t < T;)
      t += with_tile_tokens<8>(T - t, [&](auto w) { tile32_bytes<decltype(w)::value>(a, p0, p1, r, t, pf, pf_end); });
  }
}

namespace {
// A quad's 32 nibble bytes as 64 indices: the 32 bytes in both 256-bit halves (a broadcast load, no shuffle
// port), the high half shifted right by 4 (vpsrlvq), then & 0x0F. Byte m of the result is output byte m's code.
inline __m512i nibble_indices(const uint8_t* src) {
  const __m512i v = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src)));
  return _mm512_and_si512(_mm512_srlv_epi64(v, _mm512_set_epi64(4, 4, 4, 4, 0, 0, 0, 0)), _mm512_set1_epi8(0x0F));
}

// Nibble blocks with AVX-512 VBMI: every table in one 64-byte vector (table e at bytes 16e .. 16e + 15) and each
// output byte's index offset by 16 x its row's table, so one vpermb decodes every byte (instead of one vpshufb
// plus a masked one per further table, each on the shuffle port); the and with 0x0F and the or of the offsets
// are one vpternlogd. A block of one table needs neither: its 16 entries repeat in all four 16-byte lanes of
// luts[0], so vpermb's index bits 4-5 (the other nibble's bits) pick a copy of the same entry.
__attribute__((target("avx512f,avx512bw,avx512vbmi"))) void expand_vbmi(const uint8_t* src, int64_t n,
                                                                       const uint8_t* const* luts,
                                                                       const uint64_t* masks, int n_luts,
                                                                       uint8_t* panel) {
  const __m512i shift = _mm512_set_epi64(4, 4, 4, 4, 0, 0, 0, 0);
  auto indices = [&](int64_t i) {  // nibble_indices without the and
    const __m512i v = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + 32 * i)));
    return _mm512_srlv_epi64(v, shift);
  };
  if (n_luts == 1) {
    const __m512i table = _mm512_loadu_si512(luts[0]);
    for (int64_t i = 0; i < n; ++i) _mm512_storeu_si512(panel + 64 * i, _mm512_permutexvar_epi8(indices(i), table));
    return;
  }
  alignas(64) uint8_t tab[64] = {};
  for (int e = 0; e < n_luts; ++e) std::memcpy(tab + 16 * e, luts[e], 16);
  const __m512i table = _mm512_load_si512(tab), low = _mm512_set1_epi8(0x0F);
  __m512i offs = _mm512_setzero_si512();
  for (int e = 1; e < n_luts; ++e)  // later tables win, as the masked shuffles did
    offs = _mm512_mask_mov_epi8(offs, __mmask64(masks[e]), _mm512_set1_epi8(static_cast<char>(16 * e)));
  for (int64_t i = 0; i < n; ++i)
    _mm512_storeu_si512(panel + 64 * i,
                        _mm512_permutexvar_epi8(_mm512_ternarylogic_epi32(indices(i), low, offs, 0xEA), table));  // (a & b) | c
}

}  // namespace

namespace {
#define RMSMP_VBMI __attribute__((target("avx512f,avx512bw,avx512vnni,avx512vbmi")))

// One half of a tile as the fused kernel reads it: bytes (64 per quad, read as they are) or nibbles (32 per
// quad) decoded through table with per-byte index offsets offs (several tables only).
struct HalfW {
  const uint8_t* p;
  __m512i table, offs;
};
enum : int { kBytes = 0, kNibOne = 1, kNibMany = 2 };

// Quad q of a half as 64 VNNI bytes. One table: its 16 entries repeat in all four 16-byte lanes, so vpermb's
// index bits 4-5 (the other nibble's bits, left there without the and) select a copy of the same entry.
template <int Kind>
RMSMP_VBMI inline __m512i half_quad(const HalfW& h, int64_t q) {
  if constexpr (Kind == kBytes) {
    return _mm512_loadu_si512(h.p + q * 64);
  } else {
    const __m512i v = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(h.p + q * 32)));
    __m512i idx = _mm512_srlv_epi64(v, _mm512_set_epi64(4, 4, 4, 4, 0, 0, 0, 0));
    if constexpr (Kind == kNibMany) idx = _mm512_ternarylogic_epi32(idx, _mm512_set1_epi8(0x0F), h.offs, 0xEA);  // (a & b) | c
    return _mm512_permutexvar_epi8(idx, h.table);
  }
}

RMSMP_VBMI inline void prefetch_step(const uint8_t** pf, const uint8_t* const* pf_end) {
  for (int h = 0; h < 2; ++h)
    if (pf[h] < pf_end[h]) {
      __builtin_prefetch(pf[h], 0, 2);
      pf[h] += 64;
    }
}

RMSMP_VBMI inline void store_sums(const GemmS8Args& a, int64_t r, int64_t t, int nt, const __m512i* c, int64_t rows) {
  const __mmask16 m = __mmask16((1u << std::min<int64_t>(16, rows)) - 1);
  emit_half<true>(a, r, t, int(std::min<int64_t>(nt, a.n_tokens - t)), c, m);
}

// Quad q of a tile's H halves (k_loop's quad), after a prefetch step. A class with the VBMI target on its
// call operator (a lambda's would lack it and could not inline half_quad).
template <int H, int K0, int K1>
struct HalfQuads {
  const HalfW& h0;
  const HalfW& h1;
  const uint8_t** pf;
  const uint8_t* const* pf_end;
  RMSMP_VBMI inline void operator()(int64_t q, __m512i* w) const {
    prefetch_step(pf, pf_end);
    w[0] = half_quad<K0>(h0, q);
    if constexpr (H == 2) w[1] = half_quad<K1>(h1, q);
  }
};

// The k loop of H halves x NT tokens in a function of its own (see micro_tile); c as k_loop's.
template <int H, int K0, int K1, int NT>
RMSMP_VBMI __attribute__((noinline)) void nib_loop(const HalfW& h0, const HalfW& h1, const int8_t* const* x,
                                                   const int32_t* comp, int64_t kq, __m512i* c, const uint8_t** pf,
                                                   const uint8_t* const* pf_end) {
  k_loop<NT, H>(x, comp, kq, HalfQuads<H, K0, K1>{h0, h1, pf, pf_end}, reinterpret_cast<int32_t*>(c), 16, 16 * NT);
}

// 32 rows x NT <= 8 tokens (the call's), each half decoded once per quad.
template <int K0, int K1, int NT>
RMSMP_VBMI void tile32(const GemmS8Args& a, const HalfW& h0, const HalfW& h1, const uint8_t** pf,
                       const uint8_t* const* pf_end) {
  const int64_t K = a.k_padded, kq = K / 4;
  const int8_t* x[NT];
  int32_t comp[NT];
  tile_tokens<NT>(a, 0, x, comp);
  __m512i c[2 * NT];
  nib_loop<2, K0, K1, NT>(h0, h1, x, comp, kq, c, pf, pf_end);
  store_sums(a, 0, 0, NT, c, a.n_rows);
  store_sums(a, 16, 0, NT, c + NT, a.n_rows - 16);
}

// 16 rows (half h) x NT tokens from token t: the half decoded once per quad for NT tokens.
template <int Kind, int NT>
RMSMP_VBMI void tile16(const GemmS8Args& a, const HalfW& hw, int64_t r, int64_t t, const uint8_t** pf,
                       const uint8_t* const* pf_end) {
  const int64_t K = a.k_padded, kq = K / 4;
  const int8_t* x[NT];
  int32_t comp[NT];
  tile_tokens<NT>(a, t, x, comp);
  __m512i c[NT];
  nib_loop<1, Kind, Kind, NT>(hw, hw, x, comp, kq, c, pf, pf_end);
  store_sums(a, r, t, NT, c, a.n_rows - r);
}

template <int Kind>
RMSMP_VBMI void half_tiles(const GemmS8Args& a, const HalfW& hw, int64_t r, const uint8_t** pf,
                           const uint8_t* const* pf_end) {
  for (int64_t t = 0; t < a.n_tokens;)
    t += with_tile_tokens<16>(a.n_tokens - t,
                              [&](auto w) { tile16<Kind, decltype(w)::value>(a, hw, r, t, pf, pf_end); });
}

template <int K0, int K1>
RMSMP_VBMI void tile32_nt(const GemmS8Args& a, const HalfW& h0, const HalfW& h1, const uint8_t** pf,
                          const uint8_t* const* pf_end) {
  with_tile_tokens<8>(a.n_tokens, [&](auto w) { tile32<K0, K1, decltype(w)::value>(a, h0, h1, pf, pf_end); });
}

template <int K0>
RMSMP_VBMI void tile32_k1(int k1, const GemmS8Args& a, const HalfW& h0, const HalfW& h1, const uint8_t** pf,
                          const uint8_t* const* pf_end) {
  if (k1 == kBytes) tile32_nt<K0, kBytes>(a, h0, h1, pf, pf_end);
  else if (k1 == kNibOne) tile32_nt<K0, kNibOne>(a, h0, h1, pf, pf_end);
  else tile32_nt<K0, kNibMany>(a, h0, h1, pf, pf_end);
}
}  // namespace

RMSMP_VBMI void gemm_s8_avx512vbmi_nib(const GemmS8Args& a) {
  const int64_t K = a.k_padded;
  HalfW h[2];
  int kind[2];
  for (int hh = 0; hh < 2; ++hh) {
    if (!a.nib[hh]) {
      kind[hh] = kBytes;
      h[hh].p = reinterpret_cast<const uint8_t*>(hh == 0 ? a.w : a.w_hi ? a.w_hi : a.w + 16 * K);
      continue;
    }
    h[hh].p = a.nib[hh];
    const int n = std::min(a.nib_n[hh], 4);
    kind[hh] = n > 1 ? kNibMany : kNibOne;
    if (n == 1) {
      h[hh].table = _mm512_loadu_si512(a.nib_luts[hh][0]);
      continue;
    }
    alignas(64) uint8_t tab[64] = {};
    for (int e = 0; e < n; ++e) std::memcpy(tab + 16 * e, a.nib_luts[hh][e], 16);
    h[hh].table = _mm512_load_si512(tab);
    __m512i offs = _mm512_setzero_si512();
    for (int e = 1; e < n; ++e)  // later tables win, as in expand_panel_vnni4
      offs = _mm512_mask_mov_epi8(offs, __mmask64(a.nib_mask[hh][e]), _mm512_set1_epi8(static_cast<char>(16 * e)));
    h[hh].offs = offs;
  }
  const uint8_t* pf[2] = {a.prefetch[0], a.prefetch[1]};
  const uint8_t* pf_end[2] = {pf[0] ? pf[0] + a.prefetch_bytes[0] : nullptr, pf[1] ? pf[1] + a.prefetch_bytes[1] : nullptr};
  const bool two = a.n_rows > 16;
  if (two && a.n_tokens <= 8) {  // each half decoded once: a 32 x n_tokens tile
    if (kind[0] == kBytes) tile32_k1<kBytes>(kind[1], a, h[0], h[1], pf, pf_end);
    else if (kind[0] == kNibOne) tile32_k1<kNibOne>(kind[1], a, h[0], h[1], pf, pf_end);
    else tile32_k1<kNibMany>(kind[1], a, h[0], h[1], pf, pf_end);
    return;
  }
  for (int hh = 0; hh < (two ? 2 : 1); ++hh) {  // up to 16 tokens: 16 x 16 tiles, each half decoded once
    if (kind[hh] == kBytes) half_tiles<kBytes>(a, h[hh], 16 * hh, pf, pf_end);
    else if (kind[hh] == kNibOne) half_tiles<kNibOne>(a, h[hh], 16 * hh, pf, pf_end);
    else half_tiles<kNibMany>(a, h[hh], 16 * hh, pf, pf_end);
  }
}

void side_rows_finish_avx512(const int32_t* acc, int64_t acc_stride, int64_t tb, int64_t n_side, const int32_t* orig,
                             const float* w_step, const float* bias, LinearPost::Act act, float* y, int8_t* q,
                             float q_inv, int q_max, int64_t rows, const float* x_step) {
  const Epi16Consts k(q_inv, q_max);
  alignas(64) int32_t qv[16];
  for (int64_t t = 0; t < tb; ++t) {
    const int64_t o = t * rows;
    const __m512 xs = _mm512_set1_ps(x_step[t]);
    for (int64_t s = 0; s < n_side; s += 16) {
      const __mmask16 m = n_side - s >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (n_side - s)) - 1);
      const __m512i idx = _mm512_maskz_loadu_epi32(m, orig + s);
      const __m512i a = _mm512_maskz_loadu_epi32(m, acc + t * acc_stride + s);
      const __m512 ws = _mm512_maskz_loadu_ps(m, w_step + s);
      const __m512 b = bias ? _mm512_mask_i32gather_ps(k.zero, m, idx, bias, 4) : k.zero;
      const __m512 v = value16(k, a, xs, ws, b, nullptr, act);
      if (y) _mm512_mask_i32scatter_ps(y + o, m, idx, v, 4);
      if (q) {  // bytes stored one by one (no byte scatter)
        _mm512_store_si512(qv, round16(k, v));
        const int64_t n = std::min<int64_t>(16, n_side - s);
        for (int64_t j = 0; j < n; ++j) q[o + orig[s + j]] = int8_t(qv[j]);
      }
    }
  }
}

void row_sums_vnni(const int8_t* q, int64_t K, int64_t tb, int32_t* sum) {
  const __m512i ones = _mm512_set1_epi8(1);
  const __mmask64 tail = K % 64 ? __mmask64((uint64_t(1) << (K % 64)) - 1) : 0;
  for (int64_t t = 0; t < tb; ++t) {
    const int8_t* r = q + t * K;
    __m512i acc = _mm512_setzero_si512();
    int64_t k = 0;
    for (; k + 64 <= K; k += 64) acc = dpbusd(acc, ones, _mm512_loadu_si512(r + k));
    if (tail) acc = dpbusd(acc, ones, _mm512_maskz_loadu_epi8(tail, r + k));
    sum[t] = _mm512_reduce_add_epi32(acc);
  }
}

bool has_vbmi() {
  static const bool v = __builtin_cpu_supports("avx512vbmi");
  return v;
}

void expand_panel_vnni4(const uint8_t* src, int64_t k_padded, const uint8_t* const* luts, const uint64_t* masks,
                        int n_luts, uint8_t* panel) {
  expand_panel_vnni4_with(src, k_padded, luts, masks, n_luts, panel, has_vbmi());
}

void expand_panel_vnni4_with(const uint8_t* src, int64_t k_padded, const uint8_t* const* luts, const uint64_t* masks,
                             int n_luts, uint8_t* panel, bool use_vbmi) {
  const int64_t n = k_padded / 4;  // quads: 32 bytes in, 64 out
  const int extra = n_luts - 1 < 3 ? n_luts - 1 : 3;  // kMaxBlockLuts - 1
  if (use_vbmi) return expand_vbmi(src, n, luts, masks, extra + 1, panel);
  const __m512i table = _mm512_loadu_si512(luts[0]);
  if (extra == 0) {
    for (int64_t i = 0; i < n; ++i) _mm512_storeu_si512(panel + 64 * i, _mm512_shuffle_epi8(table, nibble_indices(src + 32 * i)));
    return;
  }
  __m512i more[3];
  __mmask64 mk[3];
  for (int e = 0; e < extra; ++e) {
    more[e] = _mm512_loadu_si512(luts[e + 1]);
    mk[e] = __mmask64(masks[e + 1]);
  }
  for (int64_t i = 0; i < n; ++i) {
    const __m512i idx = nibble_indices(src + 32 * i);
    __m512i out = _mm512_shuffle_epi8(table, idx);
    for (int e = 0; e < extra; ++e) out = _mm512_mask_shuffle_epi8(out, mk[e], more[e], idx);
    _mm512_storeu_si512(panel + 64 * i, out);
  }
}

void unpack_panel_vnni(QuantKind kind, const uint8_t* codes, size_t row_bytes, int64_t rows, int64_t k,
                       int64_t k_padded, int8_t* panel, int32_t* w_sum) {
  thread_local std::vector<int8_t> rm;  // row-major unpacked rows first (shared 4-bit expansion)
  const int64_t blocks = (rows + 15) / 16;
  rm.assign(size_t(blocks * 16 * k_padded), 0);  // rows past the end stay w = 0
  unpack_rows_avx2(kind, codes, row_bytes, rows, k, k_padded, rm.data(), w_sum);
  const int64_t kq = k_padded / 4;
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  // Per block of 16 rows: gather each row's 4-byte group q into lane r of output vector q (a 16 x kq int32
  // transpose), then add 128 to every byte.
  const __m512i lane_stride = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                                 _mm512_set1_epi32(int32_t(k_padded)));
  for (int64_t b = 0; b < blocks; ++b) {
    const int8_t* src = rm.data() + b * 16 * k_padded;
    uint8_t* dst = reinterpret_cast<uint8_t*>(panel) + b * 16 * k_padded;
    for (int64_t q = 0; q < kq; ++q) {
      const __m512i v = _mm512_i32gather_epi32(lane_stride, src + 4 * q, 1);
      _mm512_storeu_si512(dst + q * 64, _mm512_xor_si512(v, flip));
    }
  }
}

}  // namespace rmsmp

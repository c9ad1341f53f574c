// AVX2 int8 panel GEMM and 4-bit unpacker.
//
// Panel layout (gemm_s8.h): blocks of 16 rows, each k_padded / 4 quads of 64 bytes; byte 4 i + j of quad g is
// row i's weight at k = 4 g + j, signed. The quad is two vectors of 8 rows, so the kernel is an outer product:
// per quad, each token's 4 activation bytes are broadcast and multiplied by both vectors, and each row's sums
// stay in its own int32 lane. No horizontal sums, and a token's 16 outputs leave in two stores (the row-major
// inner-product kernel this replaces spent a third of its time reducing and storing 2 x 3 tiles, and ran at
// 0.49-0.59 of the exact-loop peak at MiniLM's shapes).
//
// vpmaddubsw multiplies unsigned by signed bytes and adds pairs into int16 with saturation. Three exact paths:
//   Fixed-4 (|w| <= 8): xu = x + 128 against w; a pair sum is at most 2 * 255 * 8 = 4080, so 8 quads add in
//     int16 (32640 <= 32767) before one vpmaddwd widens them: 1.125 multiplies per 32 MACs instead of 2;
//   PoT-4 (|w| <= 64): xu against w; a pair sum is at most 2 * 255 * 64 = 32640, widened every quad;
//   Fixed-8: |x| (<= 127) against sign(w, x); a pair sum is at most 2 * 127 * 127 = 32258.
// The unsigned paths remove the 128 * sum(w) shift with the row sums afterwards.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "backends/cpu/gemm_s8.h"

namespace rmsmp {

namespace {

inline __m256i ld(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
inline void st(void* p, __m256i v) { _mm256_storeu_si256(static_cast<__m256i*>(p), v); }
inline __m256i bcast4(const void* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

enum class Path { Small16, Unsigned, Signed };

// A token's sums for the 16 rows of a block: rows 0-7 and 8-15.
struct Acc {
  __m256i lo, hi;
};

// acc += p as one in-place vpaddd. Written as intrinsics on arrays of accumulators, GCC renamed them every
// quad, copied them back (8 vmovdqa per quad) and spilled one. Named accumulators added in place keep each in
// one register; the PoT-4 path's rate stayed at ~0.65 of the exact loop's peak all the same (not front-end
// bound, then: likely the vpaddd's competing for the multiply ports), but the loop no longer touches the stack.
inline void add32(__m256i& acc, __m256i p) { __asm__("vpaddd %1, %0, %0" : "+x"(acc) : "x"(p)); }

// One quad of one token: the products of its 4 activation bytes (broadcast) with the block's two vectors.
template <Path P>
inline void mac(Acc& c, const uint8_t* xp, __m256i w0, __m256i w1, __m256i ones) {
  const __m256i v = bcast4(xp);
  if constexpr (P == Path::Small16) {  // int16 sums, widened by the caller every 8 quads
    c.lo = _mm256_add_epi16(c.lo, _mm256_maddubs_epi16(v, w0));  // plain: the in-place asm made GCC store
    c.hi = _mm256_add_epi16(c.hi, _mm256_maddubs_epi16(v, w1));  // these every quad at NT = 3
  } else if constexpr (P == Path::Unsigned) {
    add32(c.lo, _mm256_madd_epi16(_mm256_maddubs_epi16(v, w0), ones));
    add32(c.hi, _mm256_madd_epi16(_mm256_maddubs_epi16(v, w1), ones));
  } else {
    const __m256i av = _mm256_abs_epi8(v);
    add32(c.lo, _mm256_madd_epi16(_mm256_maddubs_epi16(av, _mm256_sign_epi8(w0, v)), ones));
    add32(c.hi, _mm256_madd_epi16(_mm256_maddubs_epi16(av, _mm256_sign_epi8(w1, v)), ones));
  }
}

// Quads [g0, g1) of NT <= 4 tokens (x[i]) against the block wb into c0..c3 (those past NT are dead code).
template <Path P, int NT>
inline void quads(const int8_t* wb, const uint8_t* const* x, int64_t g0, int64_t g1, Acc& c0, Acc& c1, Acc& c2,
                  Acc& c3, __m256i ones) {
  static_assert(NT >= 1 && NT <= 4, "four named token accumulators");
  // Two quads per iteration: the int16 path 104-106 -> 110-119 GMAC/s (bench_ops avx2_tiles/*/7); the others
  // unchanged.
#pragma GCC unroll 2
  for (int64_t g = g0; g < g1; g += 4) {
    const __m256i w0 = ld(wb + 16 * g), w1 = ld(wb + 16 * g + 32);
    mac<P>(c0, x[0] + g, w0, w1, ones);
    if constexpr (NT > 1) mac<P>(c1, x[1] + g, w0, w1, ones);
    if constexpr (NT > 2) mac<P>(c2, x[2] + g, w0, w1, ones);
    if constexpr (NT > 3) mac<P>(c3, x[3] + g, w0, w1, ones);
  }
}

// NT tokens from t of one 16-row block (rows r .. r + nr - 1 of the call, nr <= 16), sums into acc.
template <Path P, int NT>
inline void block_tokens(const GemmS8Args& a, const int8_t* wb, int64_t t, int64_t r, int64_t nr) {
  const int64_t K = a.k_padded;
  const __m256i ones = _mm256_set1_epi16(1), zero = _mm256_setzero_si256();
  const uint8_t* x[4];
  for (int i = 0; i < 4; ++i)
    x[i] = (P == Path::Signed ? reinterpret_cast<const uint8_t*>(a.x) : a.xu) + (t + std::min(i, NT - 1)) * K;
  Acc c0{zero, zero}, c1 = c0, c2 = c0, c3 = c0;
  if constexpr (P == Path::Small16) {
    for (int64_t g0 = 0; g0 < K; g0 += 32) {  // 8 quads of int16 sums, then one widening
      Acc h0{zero, zero}, h1 = h0, h2 = h0, h3 = h0;
      quads<P, NT>(wb, x, g0, std::min(K, g0 + 32), h0, h1, h2, h3, ones);
      auto widen = [&](Acc& c, const Acc& h) __attribute__((always_inline)) {
        add32(c.lo, _mm256_madd_epi16(h.lo, ones));
        add32(c.hi, _mm256_madd_epi16(h.hi, ones));
      };
      widen(c0, h0);
      if constexpr (NT > 1) widen(c1, h1);
      if constexpr (NT > 2) widen(c2, h2);
      if constexpr (NT > 3) widen(c3, h3);
    }
  } else {
    quads<P, NT>(wb, x, 0, K, c0, c1, c2, c3, ones);
  }
  __m256i comp0 = zero, comp1 = zero;
  if constexpr (P != Path::Signed) {  // 128 * sum(w) per row (the panel's padding rows have sum 0)
    comp0 = _mm256_slli_epi32(ld(a.w_sum + r), 7);
    comp1 = _mm256_slli_epi32(ld(a.w_sum + r + 8), 7);
  }
  // A block of fewer than 16 rows (a scheme group's last) stores through lane masks: a memcpy per token of
  // such blocks was 5% of EfficientNet-Lite0's samples (its convs' groups are 1-30 rows).
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(int(nr)), lane);
  const __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(int(nr) - 8), lane);
  auto store = [&](int i, const Acc& c) __attribute__((always_inline)) {
    int32_t* o = a.acc + (t + i) * a.acc_stride + r;
    const __m256i s0 = _mm256_sub_epi32(c.lo, comp0), s1 = _mm256_sub_epi32(c.hi, comp1);
    if (nr == 16) {
      st(o, s0), st(o + 8, s1);
    } else {
      _mm256_maskstore_epi32(o, m0, s0);
      _mm256_maskstore_epi32(o + 8, m1, s1);
    }
  };
  store(0, c0);
  if constexpr (NT > 1) store(1, c1);
  if constexpr (NT > 2) store(2, c2);
  if constexpr (NT > 3) store(3, c3);
}

template <Path P, int NT>
void gemm_path(const GemmS8Args& a) {
  const int64_t K = a.k_padded, T = a.n_tokens;
  // Token blocks whose activations (~16 KiB) stay in L1 while every block of the panel passes over them.
  const int64_t tb = std::max<int64_t>(NT, (int64_t(16) << 10) / K / NT * NT);
  for (int64_t t0 = 0; t0 < T; t0 += tb) {
    const int64_t t1 = std::min(T, t0 + tb);
    for (int64_t r = 0; r < a.n_rows; r += 16) {
      const int8_t* wb = a.w + r * K;
      const int64_t nr = std::min<int64_t>(16, a.n_rows - r);
      int64_t t = t0;
      for (; t + NT <= t1; t += NT) block_tokens<P, NT>(a, wb, t, r, nr);
      for (; t < t1; ++t) block_tokens<P, 1>(a, wb, t, r, nr);
    }
  }
}

// 8 rows x 8 quads (32 bytes per row, rows `stride` apart) -> quads g .. g + 7 of those rows: the dword
// transpose, each output vector one quad's 8 rows (stored 64 bytes apart, at out + 64 * g).
inline void transpose_quads8(const int8_t* in, int64_t stride, int8_t* out) {
  __m256i r[8];
  for (int i = 0; i < 8; ++i) r[i] = ld(in + i * stride);
  const __m256i t0 = _mm256_unpacklo_epi32(r[0], r[1]), t1 = _mm256_unpackhi_epi32(r[0], r[1]);
  const __m256i t2 = _mm256_unpacklo_epi32(r[2], r[3]), t3 = _mm256_unpackhi_epi32(r[2], r[3]);
  const __m256i t4 = _mm256_unpacklo_epi32(r[4], r[5]), t5 = _mm256_unpackhi_epi32(r[4], r[5]);
  const __m256i t6 = _mm256_unpacklo_epi32(r[6], r[7]), t7 = _mm256_unpackhi_epi32(r[6], r[7]);
  const __m256i u0 = _mm256_unpacklo_epi64(t0, t2), u1 = _mm256_unpackhi_epi64(t0, t2);
  const __m256i u2 = _mm256_unpacklo_epi64(t1, t3), u3 = _mm256_unpackhi_epi64(t1, t3);
  const __m256i u4 = _mm256_unpacklo_epi64(t4, t6), u5 = _mm256_unpackhi_epi64(t4, t6);
  const __m256i u6 = _mm256_unpacklo_epi64(t5, t7), u7 = _mm256_unpackhi_epi64(t5, t7);
  st(out + 0 * 64, _mm256_permute2x128_si256(u0, u4, 0x20));
  st(out + 1 * 64, _mm256_permute2x128_si256(u1, u5, 0x20));
  st(out + 2 * 64, _mm256_permute2x128_si256(u2, u6, 0x20));
  st(out + 3 * 64, _mm256_permute2x128_si256(u3, u7, 0x20));
  st(out + 4 * 64, _mm256_permute2x128_si256(u0, u4, 0x31));
  st(out + 5 * 64, _mm256_permute2x128_si256(u1, u5, 0x31));
  st(out + 6 * 64, _mm256_permute2x128_si256(u2, u6, 0x31));
  st(out + 7 * 64, _mm256_permute2x128_si256(u3, u7, 0x31));
}

}  // namespace

void unpack_rows_avx2(QuantKind kind, const uint8_t* codes, size_t row_bytes, int64_t rows, int64_t k,
                      int64_t k_padded, int8_t* out, int32_t* w_sum) {
  const QuantScheme& s = quant_scheme(kind);
  if (s.values_per_byte != 2) return unpack_panel_generic(kind, codes, row_bytes, rows, k, k_padded, out, w_sum);
  // nibble -> q for any 4-bit scheme of the table, from its own decoder: entry v is unpack_row of a byte whose
  // low nibble is v (PoT-4: s<<3 | e -> (s ? -1 : 1) * 2^(e-1); Fixed-4: 4-bit two's complement), made once.
  struct Luts {
    alignas(16) int8_t v[size_t(QuantKind::Count)][16] = {};
  };
  static const Luts luts = [] {
    Luts t;
    for (const QuantScheme& q : kQuantSchemes)
      if (q.values_per_byte == 2)
        for (int v = 0; v < 16; ++v) {
          const uint8_t b = uint8_t(v);
          q.unpack_row(&b, 1, &t.v[size_t(q.kind)][v]);
        }
    return t;
  }();
  const __m128i lut = _mm_load_si128(reinterpret_cast<const __m128i*>(luts.v[size_t(kind)]));
  const __m256i lut2 = _mm256_broadcastsi128_si256(lut), low = _mm256_set1_epi8(0x0F);
  const __m256i ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);
  for (int64_t j = 0; j < rows; ++j) {
    const uint8_t* src = codes + size_t(j) * row_bytes;
    int8_t* row = out + j * k_padded;
    __m256i sum = _mm256_setzero_si256();
    int64_t i = 0;
    // 32 packed bytes -> 64 values: element 2m is byte m's low nibble, 2m + 1 its high nibble.
    // 32 packed bytes b -> 64 values at out; returns the two nibble vectors (for the sums).
    auto decode = [&](__m256i b, int8_t* out, __m256i& lo, __m256i& hi) __attribute__((always_inline)) {
      lo = _mm256_shuffle_epi8(lut2, _mm256_and_si256(b, low));
      hi = _mm256_shuffle_epi8(lut2, _mm256_and_si256(_mm256_srli_epi16(b, 4), low));
      const __m256i e0 = _mm256_unpacklo_epi8(lo, hi), e1 = _mm256_unpackhi_epi8(lo, hi);  // per 128-bit lane
      st(out, _mm256_permute2x128_si256(e0, e1, 0x20));
      st(out + 32, _mm256_permute2x128_si256(e0, e1, 0x31));
    };
    for (; i + 64 <= k; i += 64) {
      __m256i lo, hi;
      decode(ld(src + i / 2), row + i, lo, hi);
      sum = _mm256_add_epi32(sum, _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, lo), ones16));
      sum = _mm256_add_epi32(sum, _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, hi), ones16));
    }
    if (i < k) {  // the tail (i is even: whole bytes) through a zero-padded copy, the same table
      alignas(32) uint8_t in[32] = {};
      alignas(32) int8_t vals[64];
      std::memcpy(in, src + i / 2, size_t((k - i + 1) / 2));
      __m256i lo, hi;
      decode(ld(in), vals, lo, hi);
      std::memcpy(row + i, vals, size_t(k - i));  // (the scalar decoder here was 5% of EfficientNet-Lite0)
    }
    std::memset(row + k, 0, size_t(k_padded - k));
    __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4E));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xB1));
    int32_t total = _mm_cvtsi128_si32(s4);
    for (int64_t m = i; m < k; ++m) total += row[m];
    w_sum[j] = total;
  }
}

void gemm_s8_avx2(const GemmS8Args& a) {
  // max_w is the scheme's largest |q|; Fixed-4's decoder can also yield -8 (nibble 0x8), hence max_w + 1.
  if (2 * 255 * (a.max_w + 1) * 8 <= 32767) gemm_path<Path::Small16, 3>(a);
  else if (2 * 255 * a.max_w <= 32767) gemm_path<Path::Unsigned, 4>(a);
  else gemm_path<Path::Signed, 4>(a);
}

void unpack_panel_avx2(QuantKind kind, const uint8_t* codes, size_t row_bytes, int64_t rows, int64_t k,
                       int64_t k_padded, int8_t* panel, int32_t* w_sum) {
  // Each block of 16 rows row-major into a scratch (at most 16 x k_padded bytes, L1/L2), then interleaved.
  thread_local std::vector<int8_t> tmp;
  if (tmp.size() < size_t(16 * k_padded)) tmp.resize(size_t(16 * k_padded));
  for (int64_t b = 0; b < rows; b += 16) {
    const int64_t nb = std::min<int64_t>(16, rows - b);
    unpack_rows_avx2(kind, codes + size_t(b) * row_bytes, row_bytes, nb, k, k_padded, tmp.data(), w_sum + b);
    std::memset(tmp.data() + nb * k_padded, 0, size_t((16 - nb) * k_padded));  // padding rows: w = 0, sum 0
    for (int64_t j = nb; j < 16; ++j) w_sum[b + j] = 0;
    int8_t* out = panel + b * k_padded;
    int64_t g = 0;
    for (; g + 8 <= k_padded / 4; g += 8)
      for (int h = 0; h < 2; ++h)
        transpose_quads8(tmp.data() + 8 * h * k_padded + 4 * g, k_padded, out + 64 * g + 32 * h);
    for (; g < k_padded / 4; ++g)  // the last 2-6 quads (k_padded is a multiple of 8)
      for (int i = 0; i < 16; ++i) std::memcpy(out + 64 * g + 4 * i, tmp.data() + i * k_padded + 4 * g, 4);
  }
}

}  // namespace rmsmp

// AVX2 int8 panel GEMM and 4-bit unpacker.
//
// vpmaddubsw multiplies unsigned by signed bytes and adds pairs into int16 with saturation. Two exact paths:
//   small weights (max_w <= 64: PoT-4, Fixed-4): xu = x + 128 <= 255 straight in; a pair sum is at most
//     2 * 255 * 64 = 32640 < 32767, and the 128 * sum(w) shift is removed with the row sums afterwards;
//   Fixed-8: |x| (<= 127) against sign(w, x); a pair sum is at most 2 * 127 * 127 = 32258.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "backends/cpu/gemm_s8.h"

namespace rmsmp {

namespace {

inline __m256i ld(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// Lane-local sums of 4 vectors: result[i] (+ result[i + 4]) = sum of a_i's elements.
inline __m128i hsum4(__m256i a0, __m256i a1, __m256i a2, __m256i a3) {
  const __m256i s = _mm256_hadd_epi32(_mm256_hadd_epi32(a0, a1), _mm256_hadd_epi32(a2, a3));
  return _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
}

// Stores a 2-row tile's sums, [t0r0, t0r1, t1r0, t1r1] and [t2r0, t2r1, t3r0, t3r1] (hsum4 order), minus each
// row's 128 * sum(w) compensation (s0, s1; 0 on the signed path), for the first n_tok tokens from t that exist.
inline void store_tile(const GemmS8Args& a, __m128i lo, __m128i hi, int32_t s0, int32_t s1, int64_t t, int64_t r,
                       int n_tok, bool two) {
  alignas(16) int32_t out[8];
  const __m128i comp = _mm_setr_epi32(s0, s1, s0, s1);
  _mm_store_si128(reinterpret_cast<__m128i*>(out), _mm_sub_epi32(lo, comp));
  _mm_store_si128(reinterpret_cast<__m128i*>(out + 4), _mm_sub_epi32(hi, comp));
  for (int i = 0; i < n_tok && t + i < a.n_tokens; ++i) {
    int32_t* o = a.acc + (t + i) * a.acc_stride + r;
    o[0] = out[2 * i];
    if (two) o[1] = out[2 * i + 1];
  }
}

// Register tile: 2 rows x 3 tokens. Both weight vectors and each activation vector are loaded once per k step
// and used from registers (5 loads per 6 vpmaddubsw). On AVX2 the multiplies (vpmaddubsw + vpmaddwd share one
// pipe on the machines measured) bound the loop, not the loads, so a small tile costs little; 2 x 4 left GCC
// one register short and it kept an accumulator in memory (a store-forwarding chain per step). Named
// variables, not arrays: with arrays GCC reassociated the sums across steps and spilled them.
// Token blocks of ~16 KiB of activations stay in L1 while every row pair of the panel passes over them.
// kSmall: x rows are xu (unsigned); else x rows are int8 and |x|, sign(w, x) are formed per step.
template <bool kSmall>
void gemm_tile(const GemmS8Args& a) {
  const __m256i ones = _mm256_set1_epi16(1);
  const int64_t K = a.k_padded, T = a.n_tokens;
  const uint8_t* xbase = kSmall ? a.xu : reinterpret_cast<const uint8_t*>(a.x);
  const int64_t tb = std::max<int64_t>(3, (int64_t(16) << 10) / K / 3 * 3);
  for (int64_t t0 = 0; t0 < T; t0 += tb)
  for (int64_t r = 0; r < a.n_rows; r += 2) {
    const bool two = r + 1 < a.n_rows;
    const int8_t* w0 = a.w + r * K;
    const int8_t* w1 = two ? w0 + K : w0;  // a lone last row is computed twice, the copy discarded
    const int32_t s0 = kSmall ? 128 * a.w_sum[r] : 0, s1 = kSmall ? 128 * a.w_sum[two ? r + 1 : r] : 0;
    for (int64_t t = t0; t < std::min(T, t0 + tb); t += 3) {
      const uint8_t* x0 = xbase + std::min(t + 0, T - 1) * K;  // token tail: repeats, discarded
      const uint8_t* x1 = xbase + std::min(t + 1, T - 1) * K;
      const uint8_t* x2 = xbase + std::min(t + 2, T - 1) * K;
      __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
      auto mac = [&](__m256i& c, __m256i v, __m256i q) __attribute__((always_inline)) {
        if constexpr (kSmall) {
          c = _mm256_add_epi32(c, _mm256_madd_epi16(_mm256_maddubs_epi16(v, q), ones));
        } else {
          c = _mm256_add_epi32(c, _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(v, v), _mm256_sign_epi8(q, v)), ones));
        }
      };
      for (int64_t k = 0; k < K; k += 32) {
        const __m256i q0 = ld(w0 + k), q1 = ld(w1 + k);
        __m256i v = ld(x0 + k);
        mac(c00, v, q0), mac(c01, v, q1);
        v = ld(x1 + k);
        mac(c10, v, q0), mac(c11, v, q1);
        v = ld(x2 + k);
        mac(c20, v, q0), mac(c21, v, q1);
      }
      store_tile(a, hsum4(c00, c01, c10, c11), hsum4(c20, c21, c20, c21), s0, s1, t, r, 3, two);
    }
  }
}

// Small weights (Fixed-4: |w| <= 8): a vpmaddubsw pair sum is at most 2 * 255 * 8 = 4080, so kSteps = 8 of
// them add in int16 without overflow (32640 <= 32767) before one vpmaddwd widens them. That takes the widening
// multiply off all but one in eight steps: 1.125 multiplies per 32 MACs instead of 2. Tile: 2 rows x 4
// tokens, 8 int16 + 8 int32 accumulators in named variables (GCC keeps the int16 ones in registers).
template <int kSteps>
void gemm_tile_i16(const GemmS8Args& a) {
  const __m256i ones = _mm256_set1_epi16(1);
  const int64_t K = a.k_padded, T = a.n_tokens;
  const int64_t tb = std::max<int64_t>(4, (int64_t(16) << 10) / K / 4 * 4);
  for (int64_t t0 = 0; t0 < T; t0 += tb)
  for (int64_t r = 0; r < a.n_rows; r += 2) {
    const bool two = r + 1 < a.n_rows;
    const int8_t* w0 = a.w + r * K;
    const int8_t* w1 = two ? w0 + K : w0;
    const int32_t s0 = 128 * a.w_sum[r], s1 = 128 * a.w_sum[two ? r + 1 : r];
    for (int64_t t = t0; t < std::min(T, t0 + tb); t += 4) {
      const uint8_t* x0 = a.xu + std::min(t + 0, T - 1) * K;
      const uint8_t* x1 = a.xu + std::min(t + 1, T - 1) * K;
      const uint8_t* x2 = a.xu + std::min(t + 2, T - 1) * K;
      const uint8_t* x3 = a.xu + std::min(t + 3, T - 1) * K;
      __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
      for (int64_t k0 = 0; k0 < K; k0 += 32 * kSteps) {
        __m256i h00 = _mm256_setzero_si256(), h01 = h00, h10 = h00, h11 = h00, h20 = h00, h21 = h00, h30 = h00, h31 = h00;
        const int64_t k1 = std::min(K, k0 + 32 * kSteps);
        for (int64_t k = k0; k < k1; k += 32) {
          const __m256i q0 = ld(w0 + k), q1 = ld(w1 + k);
          __m256i v = ld(x0 + k);
          h00 = _mm256_add_epi16(h00, _mm256_maddubs_epi16(v, q0));
          h01 = _mm256_add_epi16(h01, _mm256_maddubs_epi16(v, q1));
          v = ld(x1 + k);
          h10 = _mm256_add_epi16(h10, _mm256_maddubs_epi16(v, q0));
          h11 = _mm256_add_epi16(h11, _mm256_maddubs_epi16(v, q1));
          v = ld(x2 + k);
          h20 = _mm256_add_epi16(h20, _mm256_maddubs_epi16(v, q0));
          h21 = _mm256_add_epi16(h21, _mm256_maddubs_epi16(v, q1));
          v = ld(x3 + k);
          h30 = _mm256_add_epi16(h30, _mm256_maddubs_epi16(v, q0));
          h31 = _mm256_add_epi16(h31, _mm256_maddubs_epi16(v, q1));
        }
        c00 = _mm256_add_epi32(c00, _mm256_madd_epi16(h00, ones));
        c01 = _mm256_add_epi32(c01, _mm256_madd_epi16(h01, ones));
        c10 = _mm256_add_epi32(c10, _mm256_madd_epi16(h10, ones));
        c11 = _mm256_add_epi32(c11, _mm256_madd_epi16(h11, ones));
        c20 = _mm256_add_epi32(c20, _mm256_madd_epi16(h20, ones));
        c21 = _mm256_add_epi32(c21, _mm256_madd_epi16(h21, ones));
        c30 = _mm256_add_epi32(c30, _mm256_madd_epi16(h30, ones));
        c31 = _mm256_add_epi32(c31, _mm256_madd_epi16(h31, ones));
      }
      store_tile(a, hsum4(c00, c01, c10, c11), hsum4(c20, c21, c30, c31), s0, s1, t, r, 4, two);
    }
  }
}

}  // namespace

void gemm_s8_avx2(const GemmS8Args& a) {
  // max_w is the scheme's largest |q|; Fixed-4's decoder can also yield -8 (nibble 0x8), hence max_w + 1.
  if (2 * 255 * (a.max_w + 1) * 8 <= 32767) gemm_tile_i16<8>(a);
  else if (2 * 255 * a.max_w <= 32767) gemm_tile<true>(a);
  else gemm_tile<false>(a);
}

void unpack_panel_avx2(QuantKind kind, const uint8_t* codes, size_t row_bytes, int64_t rows, int64_t k,
                       int64_t k_padded, int8_t* panel, int32_t* w_sum) {
  const QuantScheme& s = quant_scheme(kind);
  if (s.values_per_byte != 2) {
    unpack_panel_generic(kind, codes, row_bytes, rows, k, k_padded, panel, w_sum);
    return;
  }
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
    int8_t* row = panel + j * k_padded;
    __m256i sum = _mm256_setzero_si256();
    int64_t i = 0;
    // 32 packed bytes -> 64 values: element 2m is byte m's low nibble, 2m + 1 its high nibble.
    for (; i + 64 <= k; i += 64) {
      const __m256i b = ld(src + i / 2);
      const __m256i lo = _mm256_shuffle_epi8(lut2, _mm256_and_si256(b, low));
      const __m256i hi = _mm256_shuffle_epi8(lut2, _mm256_and_si256(_mm256_srli_epi16(b, 4), low));
      const __m256i e0 = _mm256_unpacklo_epi8(lo, hi), e1 = _mm256_unpackhi_epi8(lo, hi);  // per 128-bit lane
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(row + i), _mm256_permute2x128_si256(e0, e1, 0x20));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(row + i + 32), _mm256_permute2x128_si256(e0, e1, 0x31));
      sum = _mm256_add_epi32(sum, _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, lo), ones16));
      sum = _mm256_add_epi32(sum, _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, hi), ones16));
    }
    if (i < k) s.unpack_row(src + i / 2, k - i, row + i);  // tail (i is even: whole bytes)
    std::memset(row + k, 0, size_t(k_padded - k));
    __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4E));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xB1));
    int32_t total = _mm_cvtsi128_si32(s4);
    for (int64_t m = i; m < k; ++m) total += row[m];
    w_sum[j] = total;
  }
}

}  // namespace rmsmp

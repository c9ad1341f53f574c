// The AVX-512 GEMM and nibble-panel expansion (backends/cpu/prepared.h's layout) against a byte-by-byte decode of the
// documented layout, on both paths (vpermb where the CPU has VBMI, vpshufb + masked vpshufb otherwise), so a
// machine with VBMI still checks the path that machines without it take.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "backends/cpu/gemm_s8.h"
#include "backends/cpu/isa.h"

namespace rmsmp {
namespace {

// A 4-bit decode table as prepared.h stores it: 16 entries repeated in all four 16-byte lanes. extremes: codes
// 0 and 1 decode to the worst-case bytes 0 and 255.
std::vector<uint8_t> lane_table(std::mt19937& rng, bool extremes = false) {
  std::vector<uint8_t> t(64);
  for (int c = 0; c < 16; ++c) {
    const uint8_t v = extremes && c < 2 ? uint8_t(c == 0 ? 0 : 255) : uint8_t(rng());
    for (int lane = 0; lane < 4; ++lane) t[size_t(16 * lane + c)] = v;
  }
  return t;
}

// The documented nibble layout decoded byte by byte: quad q's output byte m is the low (m < 32) or high nibble
// of source byte 32 q + m % 32, through the table of its row (m / 4).
void scalar_nibble_decode(const uint8_t* src, int64_t k_padded, const std::vector<uint8_t>* const* row_tables,
                          uint8_t* out) {
  for (int64_t q = 0; q < k_padded / 4; ++q)
    for (int m = 0; m < 64; ++m) {
      const uint8_t byte = src[32 * q + (m % 32)];
      out[64 * q + m] = (*row_tables[m / 4])[size_t(m < 32 ? byte & 0x0F : byte >> 4)];
    }
}

// sum over k of (panel byte of row r - 128) * x[t][k], the panel in VNNI blocks of 16 rows x 4 k values.
int64_t scalar_vnni_dot(const uint8_t* panel, int64_t K, const std::vector<int8_t>& x, int64_t t, int64_t r) {
  int64_t s = 0;
  for (int64_t k = 0; k < K; ++k)
    s += (int64_t(panel[(r / 16) * 16 * K + (k / 4) * 64 + (r % 16) * 4 + k % 4]) - 128) * x[size_t(t * K + k)];
  return s;
}

TEST(VnniExpand, EveryPathDecodesEveryByteThroughItsRowsTable) {
  if (!isa_supported(Isa::Avx512Vnni)) GTEST_SKIP() << "no AVX-512 VNNI on this CPU";
  std::mt19937 rng(7);
  const int64_t k_padded = 96;  // 24 quads
  for (int n_luts = 1; n_luts <= 4; ++n_luts) {
    std::vector<std::vector<uint8_t>> tables;
    for (int e = 0; e < n_luts; ++e) tables.push_back(lane_table(rng));
    int row_table[16];
    uint64_t masks[4] = {~uint64_t(0), 0, 0, 0};
    for (int r = 0; r < 16; ++r) {
      row_table[r] = int(rng() % uint32_t(n_luts));
      for (int e = 1; e < n_luts; ++e)
        if (row_table[r] == e)
          for (int i = 0; i < 4; ++i) masks[e] |= uint64_t(1) << (4 * r + i);  // output bytes 4r .. 4r + 3
    }
    std::vector<uint8_t> src(size_t(8 * k_padded));
    for (auto& b : src) b = uint8_t(rng());
    std::vector<uint8_t> want(size_t(16 * k_padded));
    const std::vector<uint8_t>* row_tables[16];
    for (int r = 0; r < 16; ++r) row_tables[r] = &tables[size_t(row_table[r])];
    scalar_nibble_decode(src.data(), k_padded, row_tables, want.data());
    const uint8_t* luts[4];
    for (int e = 0; e < n_luts; ++e) luts[e] = tables[size_t(e)].data();
    for (bool vbmi : {false, true}) {
      if (vbmi && !has_vbmi()) continue;
      std::vector<uint8_t> got(want.size(), 0xAA);
      expand_panel_vnni4_with(src.data(), k_padded, luts, masks, n_luts, got.data(), vbmi);
      EXPECT_EQ(got, want) << n_luts << " tables, " << (vbmi ? "vpermb" : "vpshufb") << " path";
    }
  }
}

}  // namespace
}  // namespace rmsmp

namespace rmsmp {
namespace {

// The VNNI panel GEMM against a scalar decode of its layout (w + 128 in blocks of 16 rows x 4 k values), for
// every row count up to 40 (one block, a lone last block of 1-16 rows, two blocks) and token tails, with the
// worst-case magnitudes (|x| = 127, w = -128 and 127) mixed in. Token counts reach every tile width (16, 8, 4,
// 2, 1 tokens, alone and after full tiles) and k quads 1, 7, 16 and 97 every partial-sum remainder of the
// narrow tiles (k_loop: 16 / (halves x tokens) interleaved sums).
TEST(VnniGemm, ExactForEveryRowCountAndTokenTail) {
  if (!isa_supported(Isa::Avx512Vnni)) GTEST_SKIP() << "no AVX-512 VNNI on this CPU";
  std::mt19937 rng(11);
  for (int64_t K : {4, 28, 64, 388})
    for (int64_t T : {1, 2, 3, 4, 5, 7, 8, 9, 10, 12, 16, 17, 18, 20, 33})
      for (int64_t R = 1; R <= 40; R += (R < 18 ? 1 : 7)) {
        std::vector<int8_t> x(size_t(T * K));
        for (auto& v : x) v = int8_t(rng() % 3 == 0 ? (rng() % 2 ? 127 : -127) : int(rng() % 255) - 127);
        const int64_t blocks = (R + 15) / 16;
        std::vector<uint8_t> w(size_t(blocks * 16 * K));
        for (auto& v : w) v = uint8_t(rng() % 3 == 0 ? (rng() % 2 ? 0 : 255) : rng());
        std::vector<int32_t> xs(size_t(T), 0), acc(size_t(T * R), -1);
        for (int64_t t = 0; t < T; ++t)
          for (int64_t k = 0; k < K; ++k) xs[size_t(t)] += x[size_t(t * K + k)];
        GemmS8Args a{x.data(), nullptr, T, reinterpret_cast<const int8_t*>(w.data()), nullptr, xs.data(), R, K, 127,
                     acc.data(), R};
        gemm_s8_avx512vnni(a);
        for (int64_t t = 0; t < T; ++t)
          for (int64_t r = 0; r < R; ++r)
            ASSERT_EQ(acc[size_t(t * R + r)], scalar_vnni_dot(w.data(), K, x, t, r))
                << "K " << K << " T " << T << " rows " << R << " t " << t << " r " << r;
      }
}

}  // namespace
}  // namespace rmsmp

namespace rmsmp {
namespace {

// The fused kernel (nibble halves decoded in registers, gemm_s8.h) against a scalar decode of the nibble layout
// and a scalar dot product: every mix of byte and nibble halves (one table, where vpermb reads the other
// nibble's bits as index bits 4-5, and two to four tables), every row count of one tile, and token counts up to
// kNibbleFusedTokens with tails (every tile width, as above), worst-case magnitudes mixed in.
TEST(VnniGemm, FusedNibbleDecodeIsExactForEveryHalfKind) {
  if (!isa_supported(Isa::Avx512Vnni) || !has_vbmi()) GTEST_SKIP() << "no AVX-512 VBMI on this CPU";
  std::mt19937 rng(23);
  for (int64_t K : {4, 28, 64, 388})
    for (int64_t T : {1, 2, 3, 4, 5, 8, 9, 11, 16})
      for (int64_t R : {1, 7, 16, 17, 25, 32})
        for (int kinds = 0; kinds < 25; kinds += (R > 16 ? 1 : 5)) {  // half h: 0 bytes, n > 0 nibbles of n tables
          const int kind[2] = {kinds % 5, kinds / 5};
          std::vector<int8_t> x(size_t(T * K));
          for (auto& v : x) v = int8_t(rng() % 3 == 0 ? (rng() % 2 ? 127 : -127) : int(rng() % 255) - 127);
          std::vector<int32_t> xs(size_t(T), 0), acc(size_t(T * R), -1);
          for (int64_t t = 0; t < T; ++t)
            for (int64_t k = 0; k < K; ++k) xs[size_t(t)] += x[size_t(t * K + k)];
          std::vector<uint8_t> panel(size_t(32 * K));  // the expected VNNI bytes of both halves
          std::vector<std::vector<uint8_t>> src(2), tables(8, std::vector<uint8_t>(64));
          GemmS8Args a{x.data(), nullptr, T, nullptr, nullptr, xs.data(), R, K, 127, acc.data(), R};
          for (int h = 0; h < 2; ++h) {
            uint8_t* want = panel.data() + h * 16 * K;
            if (kind[h] == 0) {
              for (int64_t i = 0; i < 16 * K; ++i) want[i] = uint8_t(rng() % 3 == 0 ? (rng() % 2 ? 0 : 255) : rng());
              continue;
            }
            const int n = kind[h];
            for (int e = 0; e < n; ++e) {
              tables[size_t(4 * h + e)] = lane_table(rng, true);
              a.nib_luts[h][e] = tables[size_t(4 * h + e)].data();
            }
            int row_table[16];
            for (int r = 0; r < 16; ++r) {
              row_table[r] = int(rng() % uint32_t(n));
              for (int i = 0; i < 4; ++i) a.nib_mask[h][row_table[r]] |= uint64_t(1) << (4 * r + i);
            }
            src[size_t(h)].resize(size_t(8 * K));
            for (auto& b : src[size_t(h)]) b = uint8_t(rng());
            const std::vector<uint8_t>* row_tables[16];
            for (int r = 0; r < 16; ++r) row_tables[r] = &tables[size_t(4 * h + row_table[r])];
            scalar_nibble_decode(src[size_t(h)].data(), K, row_tables, want);
            a.nib[h] = src[size_t(h)].data();
            a.nib_n[h] = n;
          }
          a.w = reinterpret_cast<const int8_t*>(panel.data());
          a.w_hi = reinterpret_cast<const int8_t*>(panel.data() + 16 * K);
          gemm_s8_avx512vbmi_nib(a);
          for (int64_t t = 0; t < T; ++t)
            for (int64_t r = 0; r < R; ++r)
              ASSERT_EQ(acc[size_t(t * R + r)], scalar_vnni_dot(panel.data(), K, x, t, r))
                  << "K " << K << " T " << T << " rows " << R << " halves " << kind[0] << "/" << kind[1] << " t " << t
                  << " r " << r;
        }
}

}  // namespace
}  // namespace rmsmp

namespace rmsmp {
namespace {

// The VNNI kernel's compensation sums against a scalar loop: every length up to 200 (the masked tail at each
// offset, one and several 64-byte steps), extreme values included.
TEST(VnniGemm, RowSumsMatchAScalarLoop) {
  if (!isa_supported(Isa::Avx512Vnni)) GTEST_SKIP() << "no AVX-512 VNNI on this CPU";
  std::mt19937 rng(31);
  for (int64_t K = 1; K <= 200; ++K) {
    const int64_t tb = 3;
    std::vector<int8_t> q(size_t(tb * K));
    for (auto& v : q) v = int8_t(rng() % 4 == 0 ? (rng() % 2 ? 127 : -128) : int(rng() % 256) - 128);
    std::vector<int32_t> got(size_t(tb), 12345);
    row_sums_vnni(q.data(), K, tb, got.data());
    for (int64_t t = 0; t < tb; ++t) {
      int32_t s = 0;
      for (int64_t k = 0; k < K; ++k) s += q[size_t(t * K + k)];
      ASSERT_EQ(got[size_t(t)], s) << "K " << K << " row " << t;
    }
  }
}

}  // namespace
}  // namespace rmsmp

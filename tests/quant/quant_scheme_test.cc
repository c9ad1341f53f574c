// The scheme table: level sets, nearest-level rounding (PoT in the linear domain), packing, edge rows, and
// the NMSE bound every sweep uses. Loops over kQuantSchemes so new schemes are covered automatically.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <set>
#include <vector>

#include "rmsmp/quant.h"

namespace rmsmp {
namespace {

std::vector<float> gaussian_row(int64_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> nd;
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = nd(rng);
  return v;
}

std::vector<QuantKind> integer_kinds() {
  std::vector<QuantKind> k;
  for (const auto& s : kQuantSchemes)
    if (quant_is_integer(s.kind)) k.push_back(s.kind);
  return k;
}

// Every q an integer scheme can produce, computed from the scheme definition (RMSMP.md section 1).
std::set<int> expected_levels(QuantKind k) {
  std::set<int> s;
  if (k == QuantKind::Pow2x4) {
    s.insert(0);
    for (int e = 0; e <= 6; ++e) s.insert(1 << e), s.insert(-(1 << e));
  } else {
    const int m = quant_scheme(k).max_q;
    for (int q = -m; q <= m; ++q) s.insert(q);
  }
  return s;
}

}  // namespace

TEST(QuantTable, NamesAndKindsAreConsistent) {
  for (size_t i = 0; i < size_t(QuantKind::Count); ++i) {
    EXPECT_EQ(size_t(kQuantSchemes[i].kind), i);
    EXPECT_EQ(quant_kind_from_name(kQuantSchemes[i].name), kQuantSchemes[i].kind);
  }
  EXPECT_FALSE(quant_kind_from_name("int3").has_value());
  EXPECT_EQ(quant_scheme(QuantKind::Fixed4).max_q, 7);
  EXPECT_EQ(quant_scheme(QuantKind::Fixed8).max_q, 127);
  EXPECT_EQ(quant_scheme(QuantKind::Pow2x4).max_q, 64);
}

TEST(QuantTable, LevelSetsAreExactlyTheDefinedOnes) {
  for (QuantKind k : integer_kinds()) {
    const QuantScheme& s = quant_scheme(k);
    // A dense sweep over [-1.2, 1.2] alpha hits every level and never produces anything else.
    std::vector<float> w;
    for (int i = -6000; i <= 6000; ++i) w.push_back(float(i) / 5000.f);
    const float step = 1.f / float(s.max_q);
    std::vector<int8_t> q(w.size());
    s.quantize_row(w.data(), int64_t(w.size()), step, q.data());
    std::set<int> got(q.begin(), q.end());
    EXPECT_EQ(got, expected_levels(k)) << s.name;
  }
}

TEST(QuantTable, RoundingIsToTheNearestLevelInTheLinearDomain) {
  for (QuantKind k : integer_kinds()) {
    const QuantScheme& s = quant_scheme(k);
    const std::set<int> lv = expected_levels(k);
    std::vector<float> w = gaussian_row(2001, 7);
    const float step = 2.5f / float(s.max_q);
    std::vector<int8_t> q(w.size());
    s.quantize_row(w.data(), int64_t(w.size()), step, q.data());
    for (size_t i = 0; i < w.size(); ++i) {
      const double x = w[i] / step;
      double best = 1e30;
      for (int l : lv) best = std::min(best, std::fabs(x - l));
      EXPECT_NEAR(std::fabs(x - q[i]), best, 1e-5) << s.name << " value " << w[i];
    }
  }
  // PoT-4: 0.7 of a unit is nearer 1 than 0.5 in the linear domain; 2.9 is nearer 2 than 4 (round(log2(2.9))
  // would give 4); 3.1 is nearer 4.
  const float w[] = {0.7f, 2.9f, 3.1f, -5.9f, -6.1f, 100.f, 0.49f};
  int8_t q[7];
  quant_scheme(QuantKind::Pow2x4).quantize_row(w, 7, 1.f, q);
  EXPECT_EQ(q[0], 1);
  EXPECT_EQ(q[1], 2);
  EXPECT_EQ(q[2], 4);
  EXPECT_EQ(q[3], -4);
  EXPECT_EQ(q[4], -8);
  EXPECT_EQ(q[5], 64);
  EXPECT_EQ(q[6], 0);
}

TEST(QuantTable, PackUnpackRoundTripsOddLengths) {
  for (QuantKind k : integer_kinds()) {
    const QuantScheme& s = quant_scheme(k);
    for (int64_t n : {1, 2, 3, 7, 63, 64, 65, 383, 1537}) {
      std::vector<float> w = gaussian_row(n, uint64_t(n));
      std::vector<int8_t> q(static_cast<size_t>(n)), back(static_cast<size_t>(n));
      const float step = quant_row_step(k, w.data(), n, ClipMode::MaxAbs);
      s.quantize_row(w.data(), n, step, q.data());
      std::vector<uint8_t> packed(quant_row_bytes(k, n) + 1, 0xAB);  // guard byte
      s.pack_row(q.data(), n, packed.data());
      EXPECT_EQ(packed.back(), 0xAB) << s.name << " wrote past the row, n=" << n;
      s.unpack_row(packed.data(), n, back.data());
      EXPECT_EQ(q, back) << s.name << " n=" << n;
      if (s.values_per_byte == 2 && n % 2) {
        EXPECT_EQ(packed[size_t(n / 2)] >> 4, 0) << "odd tail nibble must be 0";
      }
    }
  }
}

TEST(QuantTable, DotRowEqualsDotOfUnpackedIntegers) {
  std::mt19937_64 rng(3);
  for (QuantKind k : integer_kinds()) {
    const QuantScheme& s = quant_scheme(k);
    for (int64_t n : {1, 5, 64, 385}) {
      std::vector<float> w = gaussian_row(n, 11);
      std::vector<uint8_t> packed(quant_row_bytes(k, n));
      quant_quantize_pack_row_ref(k, w.data(), n, ClipMode::MaxAbs, packed.data());
      std::vector<int8_t> q(static_cast<size_t>(n)), x(static_cast<size_t>(n));
      for (auto& v : x) v = int8_t(int(rng() % 255) - 127);
      s.unpack_row(packed.data(), n, q.data());
      int64_t want = 0;
      for (int64_t i = 0; i < n; ++i) want += int64_t(q[size_t(i)]) * x[size_t(i)];
      EXPECT_EQ(s.dot_row(packed.data(), x.data(), n), want) << s.name << " n=" << n;
    }
  }
}

TEST(QuantTable, ZeroRowsGiveZeroStepAndCodes) {
  for (QuantKind k : integer_kinds()) {
    std::vector<float> w(17, 0.f);
    std::vector<uint8_t> packed(quant_row_bytes(k, 17), 0xFF);
    EXPECT_EQ(quant_quantize_pack_row_ref(k, w.data(), 17, ClipMode::Mse, packed.data()), 0.f);
    std::vector<float> back(17, 1.f);
    quant_dequantize_row_ref(k, packed.data(), 17, 0.f, back.data());
    for (float v : back) EXPECT_EQ(v, 0.f);
  }
}

TEST(QuantTable, SingleOutlierKeepsItsValueUnderMaxClip) {
  for (QuantKind k : integer_kinds()) {
    std::vector<float> w(100, 0.01f);
    w[42] = -3.f;
    std::vector<uint8_t> packed(quant_row_bytes(k, 100));
    const float step = quant_quantize_pack_row_ref(k, w.data(), 100, ClipMode::MaxAbs, packed.data());
    std::vector<float> back(100);
    quant_dequantize_row_ref(k, packed.data(), 100, step, back.data());
    EXPECT_FLOAT_EQ(back[42], -3.f) << quant_scheme(k).name;  // max|w| is exactly representable
    // The MSE clip may clip the outlier but never makes the row's error worse.
    const float mse_step = quant_row_step(k, w.data(), 100, ClipMode::Mse);
    EXPECT_LE(quant_row_sq_error(k, w.data(), 100, mse_step), quant_row_sq_error(k, w.data(), 100, step) + 1e-12);
  }
}

TEST(QuantTable, GaussianRowsStayWithinTheTablesNmseBound) {
  for (QuantKind k : integer_kinds()) {
    const QuantScheme& s = quant_scheme(k);
    for (uint64_t seed = 0; seed < 8; ++seed) {
      std::vector<float> w = gaussian_row(4096, seed);
      double e = quant_row_sq_error(k, w.data(), 4096, quant_row_step(k, w.data(), 4096, ClipMode::MaxAbs)), p = 0;
      for (float v : w) p += double(v) * v;
      EXPECT_LT(e / p, s.nmse_tol) << s.name;
      // Coarser schemes must be worse than finer ones (sanity on the bound itself).
      if (k == QuantKind::Fixed8) {
        EXPECT_LT(e / p, 1e-3);
      }
    }
  }
}

TEST(QuantTable, NanRowsAreRejected) {
  std::vector<float> w(8, 1.f);
  w[3] = NAN;
  EXPECT_ANY_THROW(quant_row_step(QuantKind::Fixed4, w.data(), 8, ClipMode::MaxAbs));
}

}  // namespace rmsmp

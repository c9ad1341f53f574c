// The SIMD activation quantizers against act_round_sat (quant/row_mixed.h), the one scalar definition, on the
// values where a shortcut would go wrong: every half-way point of the int8 range and its float neighbours, the
// float just below 0.5, values beyond the clamp, NaN, infinities, signed zeros, and random values, for the
// signed, unsigned and 4-bit grids.
#include <gtest/gtest.h>

#include <cmath>
#include <exception>
#include <memory>
#include <string>
#include <limits>
#include <random>
#include <vector>

#include "backends/backend.h"
#include "backends/cpu/isa.h"
#include "backends/cpu/isa/encoder_ops.h"
#include "quant/row_mixed.h"

namespace rmsmp {
namespace {

std::vector<float> dangerous_values() {
  std::vector<float> v;
  for (int k = -131; k <= 131; ++k) {
    for (const float base : {float(k), float(k) + 0.5f}) {
      float lo = base, hi = base;
      v.push_back(base);
      for (int i = 0; i < 3; ++i) {
        lo = std::nextafter(lo, -INFINITY), hi = std::nextafter(hi, INFINITY);
        v.push_back(lo), v.push_back(hi);
      }
    }
  }
  const float below_half = std::nextafter(0.5f, 0.f);  // 0.5 - 2^-25: rounds to 0, and v + 0.5 would give 1
  for (const float f : {below_half, -below_half, 0.f, -0.f, 1e-30f, -1e-30f, 1e10f, -1e10f, 8388607.5f})
    v.push_back(f);
  v.push_back(std::numeric_limits<float>::quiet_NaN());
  v.push_back(-std::numeric_limits<float>::quiet_NaN());
  v.push_back(INFINITY), v.push_back(-INFINITY);
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-140.f, 140.f);
  for (int i = 0; i < 20000; ++i) v.push_back(u(rng));
  return v;
}

// An ISA's quantizing loop against act_round_sat on every dangerous value, for several steps and widths.
void expect_quantizer_equals_act_round_sat(void (*quantize)(const float*, int64_t, float, int, int8_t*)) {
  const std::vector<float> x = dangerous_values();
  for (const float inv : {1.f, 0.5f, 3.f, 1.f / 0.0123f})
    for (const int max_q : {127, 15, 7}) {
      std::vector<int8_t> got(x.size(), 99);
      quantize(x.data(), int64_t(x.size()), inv, max_q, got.data());
      for (size_t i = 0; i < x.size(); ++i)
        ASSERT_EQ(int(got[i]), int(act_round_sat(x[i] * inv, max_q)))
            << "x " << x[i] << " (bits " << std::hex << *reinterpret_cast<const uint32_t*>(&x[i]) << std::dec
            << ") inv " << inv << " max_q " << max_q;
    }
}

TEST(CpuQuantize, Avx512QuantizerEqualsActRoundSatOnEveryHalfWayNeighbourhood) {
  if (!isa_supported(Isa::Avx512Vnni)) GTEST_SKIP() << "no AVX-512 on this CPU";
  expect_quantizer_equals_act_round_sat(quantize_scaled_avx512);
}

TEST(CpuQuantize, Avx2QuantizerEqualsActRoundSatOnEveryHalfWayNeighbourhood) {
  if (!isa_supported(Isa::Avx2)) GTEST_SKIP() << "no AVX2 on this CPU";
  expect_quantizer_equals_act_round_sat(quantize_scaled_avx2);
}

// The same values through every CPU backend's static-clip tensor quantization (the target_clones version on
// generic x86, the packing version on AVX2, the k-mask version on AVX-512), with clips that make the step 1
// (inv exactly 1).
TEST(CpuQuantize, EveryCpuBackendsStaticQuantizationEqualsActRoundSat) {
  const std::vector<float> x = dangerous_values();
  for (const std::string be : {"cpu:generic", "cpu:avx2", "cpu:avx512"}) {
    std::unique_ptr<Backend> b;
    try {
      b = make_backend(be);
    } catch (const std::exception&) {
      continue;  // ISA not on this CPU
    }
    for (const int bits : {8, 4}) {
      ActQuant aq;
      aq.dynamic = false, aq.bits = bits;
      const int max_q = act_max_q(aq);
      aq.clip = float(max_q);  // step 1
      std::vector<int8_t> got(x.size(), 99);
      ASSERT_EQ(b->quantize_activations(x.data(), int64_t(x.size()), aq, got.data()), 1.f) << be;
      for (size_t i = 0; i < x.size(); ++i)
        ASSERT_EQ(int(got[i]), int(act_round_sat(x[i], max_q))) << be << " x " << x[i] << " bits " << bits;
    }
  }
}

// LinearPost::q_out's definition (quantize_scaled, the target_clones version) and its fused form in
// epilogue_rows (bias = x, sums 0: the outputs are exactly x), with and without the float stores.
TEST(CpuQuantize, HandoffQuantizationEqualsActRoundSat) {
  const std::vector<float> x = dangerous_values();
  const int64_t n = int64_t(x.size());
  const std::vector<int32_t> acc(x.size(), 0);
  const std::vector<float> ones(x.size(), 1.f);
  const float xstep = 1.f;
  for (const float inv : {1.f, 0.5f, 1.f / 0.0123f})
    for (const int max_q : {127, 15}) {
      std::vector<int8_t> a(x.size(), 99), b(x.size(), 99), c(x.size(), 99);
      std::vector<float> y(x.size());
      quantize_scaled(x.data(), n, inv, max_q, a.data());
      epilogue_rows(acc.data(), n, 1, n, &xstep, ones.data(), x.data(), nullptr, LinearPost::Act::None, false,
                    y.data(), b.data(), inv, max_q);
      epilogue_rows(acc.data(), n, 1, n, &xstep, ones.data(), x.data(), nullptr, LinearPost::Act::None, false,
                    nullptr, c.data(), inv, max_q);
      for (size_t i = 0; i < x.size(); ++i) {
        const int want = act_round_sat(x[i] * inv, max_q);
        ASSERT_EQ(int(a[i]), want) << "quantize_scaled x " << x[i] << " inv " << inv << " max_q " << max_q;
        ASSERT_EQ(int(b[i]), want) << "epilogue_rows x " << x[i] << " inv " << inv << " max_q " << max_q;
        ASSERT_EQ(int(c[i]), want) << "epilogue_rows (q only) x " << x[i];
      }
    }
}

}  // namespace
}  // namespace rmsmp

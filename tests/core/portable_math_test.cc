// The portable exp/erf every backend shares: accuracy against libm over dense sweeps (they replace std::exp
// and std::erf in GELU and softmax, so the engine's fp32-vs-sentence-transformers parity depends on them).
#include <gtest/gtest.h>

#include <cmath>

#include "core/portable_math.h"

namespace rmsmp {

TEST(PortableMath, ExpWithinTwoUlpOfLibm) {
  int n = 0;
  for (float x = -87.f; x <= 88.f; x += 0.00173f, ++n) {
    const double want = std::exp(double(x));
    const double got = pm_expf(x);
    ASSERT_LE(std::fabs(got - want), 2.5e-7 * want) << "x = " << x;
  }
  EXPECT_GT(n, 100000);
  EXPECT_EQ(pm_expf(0.f), 1.f);
  EXPECT_EQ(pm_expf(-200.f), 0.f);
  EXPECT_TRUE(std::isinf(pm_expf(100.f)));
  EXPECT_TRUE(std::isnan(pm_expf(NAN)));
  EXPECT_GT(pm_expf(-100.f), 0.f);  // subnormal range still scales correctly
  EXPECT_NEAR(pm_expf(-90.f) / std::exp(-90.0), 1.0, 1e-5);  // subnormal: its step limits precision
}

TEST(PortableMath, ErfWithin4e7OfLibm) {
  double worst = 0;
  for (float x = -6.f; x <= 6.f; x += 0.0003f) worst = std::max(worst, std::fabs(double(pm_erff(x)) - std::erf(double(x))));
  EXPECT_LT(worst, 4e-7);
  EXPECT_EQ(pm_erff(0.f), 0.f);
  EXPECT_EQ(pm_erff(10.f), 1.f);
  EXPECT_EQ(pm_erff(-10.f), -1.f);
  EXPECT_TRUE(std::isnan(pm_erff(NAN)));
}

}  // namespace rmsmp

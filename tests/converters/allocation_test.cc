// Row allocation across layers (--allocation global) against the uniform one, on synthetic layers whose
// sensitivities are known by construction: one layer's weights are 100x the other's with the same H, so each of
// its rows has a 10^4 x larger 4-bit error (e^T H e scales with the square of the weights).
#include <gtest/gtest.h>

#include <random>

#include "layer_plan.h"
#include "rmsmp/error.h"

namespace rmsmp {
namespace {

struct TwoLayers {
  std::vector<LayerPlan> plans;
  std::vector<std::vector<float>> w;
  std::vector<Eigen::MatrixXf> H;
};

TwoLayers make_layers(int64_t rows, int64_t cols) {
  TwoLayers t;
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.f, 1.f);
  for (int l = 0; l < 2; ++l) {
    LayerPlan p;
    p.name = l == 0 ? "loud" : "quiet";
    p.rows = rows, p.cols = cols;
    t.plans.push_back(p);
    std::vector<float> w(size_t(rows * cols));
    for (float& v : w) v = nd(rng) * (l == 0 ? 100.f : 1.f);
    t.w.push_back(w);
    Eigen::MatrixXf x(64, cols);
    for (int64_t i = 0; i < x.size(); ++i) x.data()[i] = nd(rng);
    t.H.push_back(x.transpose() * x);
  }
  return t;
}

std::map<QuantKind, int64_t> counts(const LayerPlan& p) {
  std::map<QuantKind, int64_t> c;
  for (QuantKind k : p.assign) ++c[k];
  return c;
}

void plan(TwoLayers& t, bool global) {
  ConvertOptions o;
  o.scheme = "rmsmp";
  o.ratios = {0.45, 0.30, 0.25};
  o.global_allocation = global;
  plan_layers(t.plans, o, [&](const LayerPlan& p) -> const std::vector<float>& { return t.w[size_t(&p - t.plans.data())]; },
              [&](const LayerPlan& p) -> const Eigen::MatrixXf& { return t.H[size_t(&p - t.plans.data())]; });
}

TEST(Allocation, UniformGivesEveryLayerTheSameCounts) {
  TwoLayers t = make_layers(12, 8);
  plan(t, false);
  for (const auto& p : t.plans) {  // 12 rows: 3 Fixed-8, round(3.6) = 4 Fixed-4, 5 PoT-4
    auto c = counts(p);
    EXPECT_EQ(c[QuantKind::Fixed8], 3) << p.name;
    EXPECT_EQ(c[QuantKind::Fixed4], 4) << p.name;
    EXPECT_EQ(c[QuantKind::Pow2x4], 5) << p.name;
  }
}

TEST(Allocation, GlobalSpendsTheSameBudgetOnTheMostSensitiveRows) {
  TwoLayers t = make_layers(12, 8);
  plan(t, true);
  // Budget: 0.25 of 192 weights = 48 = 6 rows of 8, all in the loud layer (every loud row outranks every quiet
  // one); its other 6 rows split Fixed-4 : PoT-4 as 0.30 : 0.45 -> round(2.4) = 2 Fixed-4.
  auto loud = counts(t.plans[0]), quiet = counts(t.plans[1]);
  EXPECT_EQ(loud[QuantKind::Fixed8], 6);
  EXPECT_EQ(loud[QuantKind::Fixed4], 2);
  EXPECT_EQ(loud[QuantKind::Pow2x4], 4);
  EXPECT_EQ(quiet[QuantKind::Fixed8], 0);
  EXPECT_EQ(quiet[QuantKind::Fixed4], 5);  // round(0.4 * 12 = 4.8)
  EXPECT_EQ(quiet[QuantKind::Pow2x4], 7);
  // The Fixed-8 rows are the loud layer's six most sensitive ones.
  std::vector<double> s8, s4;
  for (int64_t r = 0; r < 12; ++r)
    (t.plans[0].assign[size_t(r)] == QuantKind::Fixed8 ? s8 : s4).push_back(row_sensitivity(t.plans[0].scores, r));
  EXPECT_GE(*std::min_element(s8.begin(), s8.end()), *std::max_element(s4.begin(), s4.end()));
}

TEST(Allocation, GlobalLeavesPinnedLayersOutOfTheBudget) {
  TwoLayers t = make_layers(12, 8);
  t.plans[0].pinned = QuantKind::Fixed8;
  plan(t, true);
  EXPECT_EQ(counts(t.plans[0])[QuantKind::Fixed8], 12);
  EXPECT_EQ(counts(t.plans[1])[QuantKind::Fixed8], 3);  // 0.25 of the quiet layer's own 96 weights
}

TEST(Allocation, GlobalIsOnlyForRmsmp) {
  ConvertOptions o;
  o.scheme = "fixed4";
  o.global_allocation = true;
  EXPECT_THROW(check_convert_options(o), Error);
}

}  // namespace
}  // namespace rmsmp

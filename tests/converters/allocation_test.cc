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

// Ratios go through the scheme table's names both ways, and only the row kinds RMSMP assigns may have a share.
TEST(Ratios, ParsedAndPrintedThroughTheSchemeTable) {
  const Ratios r = parse_ratios("fixed8=0.1,pot4=0.6,fixed4=0.3");
  EXPECT_DOUBLE_EQ(r[QuantKind::Fixed8], 0.1);
  EXPECT_DOUBLE_EQ(r[QuantKind::Pow2x4], 0.6);
  EXPECT_DOUBLE_EQ(r[QuantKind::Fixed4], 0.3);
  EXPECT_NO_THROW(check_ratios(r, "--ratios"));
  const nlohmann::json j = ratios_json(r);
  for (const QuantScheme& q : kQuantSchemes)  // every integer scheme, none other
    EXPECT_EQ(j.contains(q.name), quant_is_integer(q.kind)) << q.name;
  EXPECT_DOUBLE_EQ(j["pot4"].get<double>(), 0.6);
  const Ratios d;  // the paper's default
  EXPECT_DOUBLE_EQ(d[QuantKind::Pow2x4], 0.65);
  EXPECT_DOUBLE_EQ(d[QuantKind::Fixed4], 0.30);
  EXPECT_DOUBLE_EQ(d[QuantKind::Fixed8], 0.05);
  try {
    parse_ratios("pot4=0.5,int2=0.5");
    FAIL() << "no error";
  } catch (const Error& e) {
    for (const char* want : {"int2", "fixed8", "fixed4", "pot4"})
      EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find("fp32"), std::string::npos) << "fp32 rows get no share: " << e.what();
  }
  EXPECT_THROW(parse_ratios("fp32=1"), Error);
  EXPECT_THROW(check_ratios(parse_ratios("pot4=0.5,fixed4=0.4"), "--ratios"), Error);   // sums to 0.9
  EXPECT_THROW(check_ratios(parse_ratios("pot4=1.1,fixed4=-0.1"), "--ratios"), Error);  // negative
}

}  // namespace
}  // namespace rmsmp

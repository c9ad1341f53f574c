// GLUE metrics against hand-worked values and against scikit-learn / SciPy on seeded vectors
// (tests/data/glue_metric_goldens.json, made by converters/goldens/make_metric_goldens.py).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "glue/metrics.h"
#include "rmsmp/error.h"
#include "util/test_env.h"

namespace rmsmp::glue {

TEST(GlueMetrics, HandWorkedValues) {
  // gold 1 1 1 0 0 0 1 0, pred 1 0 1 0 1 0 1 1: tp 3, fn 1, fp 2, tn 2.
  const std::vector<int> g = {1, 1, 1, 0, 0, 0, 1, 0}, p = {1, 0, 1, 0, 1, 0, 1, 1};
  EXPECT_DOUBLE_EQ(accuracy(p, g), 5.0 / 8);
  EXPECT_DOUBLE_EQ(f1_binary(p, g), 2.0 * 3 / (2 * 3 + 2 + 1));                   // 6/9
  EXPECT_NEAR(matthews(p, g), (3.0 * 2 - 2 * 1) / std::sqrt(5.0 * 4 * 4 * 3), 1e-15);  // (tp tn - fp fn)/sqrt(...)
  // Pearson of (1,2,3) and (1,2,4): deviations (-1,0,1) and (-4/3,-1/3,5/3): sxy 3, sxx 2, syy 14/3.
  EXPECT_NEAR(pearson({1, 2, 3}, {1, 2, 4}), 3.0 / std::sqrt(2.0 * (14.0 / 3)), 1e-15);
  EXPECT_DOUBLE_EQ(spearman({1, 2, 3}, {1, 2, 4}), 1.0);
  EXPECT_EQ(average_ranks({10, 20, 10, 30, 20, 20}), (std::vector<double>{1.5, 4, 1.5, 6, 4, 4}));
  EXPECT_NEAR(spearman({1, 2, 3, 4}, {4, 3, 2, 1}), -1.0, 1e-15);
}

TEST(GlueMetrics, DegenerateInputsFollowTheLibraries) {
  EXPECT_EQ(matthews({1, 1, 1}, {0, 1, 0}), 0.0);  // a constant prediction: sklearn returns 0
  EXPECT_EQ(f1_binary({0, 0}, {0, 0}), 0.0);       // no positives anywhere: sklearn's zero_division default 0
  EXPECT_TRUE(std::isnan(pearson({1, 1, 1}, {1, 2, 3})));  // scipy: NaN for a constant input
  EXPECT_THROW(accuracy({1}, {1, 0}), Error);
  EXPECT_THROW(pearson({}, {}), Error);
}

TEST(GlueMetrics, MatchScikitLearnAndScipy) {
  std::ifstream in(test::data_dir() + "/glue_metric_goldens.json");
  ASSERT_TRUE(in);
  const nlohmann::json j = nlohmann::json::parse(in);
  int n = 0;
  for (const auto& c : j.at("cases")) {
    ++n;
    if (c["kind"] == "classes") {
      const auto p = c["pred"].get<std::vector<int>>(), g = c["gold"].get<std::vector<int>>();
      EXPECT_NEAR(accuracy(p, g), c["accuracy"].get<double>(), 1e-12) << n;
      EXPECT_NEAR(matthews(p, g), c["matthews"].get<double>(), 1e-12) << n;
      if (c.contains("f1")) {
        EXPECT_NEAR(f1_binary(p, g), c["f1"].get<double>(), 1e-12) << n;
      }
    } else {
      const auto x = c["x"].get<std::vector<double>>(), y = c["y"].get<std::vector<double>>();
      EXPECT_NEAR(pearson(x, y), c["pearson"].get<double>(), 1e-12) << n;
      EXPECT_NEAR(spearman(x, y), c["spearman"].get<double>(), 1e-12) << n;
    }
  }
  EXPECT_EQ(n, 8);
}

}  // namespace rmsmp::glue

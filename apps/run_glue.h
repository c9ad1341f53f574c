// GLUE evaluation pieces shared by `rmsmp-run glue` and `rmsmp-run glue-table`.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "heads/head.h"
#include "glue/tasks.h"
#include "rmsmp/model.h"

namespace rmsmp::run {

struct Predictions {
  std::vector<int> classes;    // classification
  std::vector<double> scores;  // regression
};

// Head features of GLUE examples: the pooled embedding (single sentences, or pairs encoded together), or with
// `bi` the sentence-transformers pair features [u * v, |u - v|] of a and b embedded alone. `truncated`
// receives how many inputs were truncated.
std::vector<std::vector<float>> glue_features(const Model& m, const glue::Examples& ex, bool bi, const std::string& where,
                                              const std::string& label, size_t* truncated);

// The task's metrics of predictions p against ex's labels (NaN, e.g. Pearson of a constant, becomes null).
nlohmann::json score(const glue::Task& t, const glue::Examples& ex, const Predictions& p);

// K heads, head f fitted on the examples whose row index mod K != f (L2 chosen inside the training rows).
std::vector<cli::LinearHead> fit_cv_heads(const glue::Task& t, const glue::Examples& ex,
                                          const std::vector<std::vector<float>>& fit_on, int k);
// Out-of-fold predictions: example i by heads[i mod K].
Predictions predict_cv(const glue::Task& t, const std::vector<cli::LinearHead>& heads,
                       const std::vector<std::vector<float>>& feats);
nlohmann::json cv_protocol(const glue::Task& t, int k, const std::string& fitted_on);
// Mean and minimum cosine between paired rows.
std::pair<double, double> cosine_stats(const std::vector<std::vector<float>>& a, const std::vector<std::vector<float>>& b);

}  // namespace rmsmp::run

// A linear head on pooled embeddings, on standardised features, saved as JSON. Classification:
// deterministic L2-regularised logistic regression (Newton's method; one-vs-rest for more than two classes).
// Regression (STS-B): ridge regression, closed form.
#pragma once
#include <string>
#include <vector>

namespace rmsmp::cli {

struct LinearHead {
  int dim = 0, classes = 0;                   // classes == 0: a regression head
  std::vector<double> mean, inv_std;          // feature standardisation from the training set
  std::vector<std::vector<double>> weights;   // one row per scorer (1 for binary, `classes` otherwise)
  std::vector<double> bias;
  double l2 = 1.0;
  std::string trained_on;                     // provenance: data file, model, count

  static LinearHead fit(const std::vector<std::vector<float>>& x, const std::vector<int>& y, double l2);
  // Picks l2 from `grid` by accuracy on the last `holdout` fraction of the rows (fitting on the rest), then
  // refits on all rows with it. Deterministic; never sees evaluation data.
  static LinearHead fit_select(const std::vector<std::vector<float>>& x, const std::vector<int>& y,
                               const std::vector<double>& grid, double holdout = 0.2);
  // Ridge regression on targets y (intercept = mean of y, not regularised).
  static LinearHead fit_ridge(const std::vector<std::vector<float>>& x, const std::vector<double>& y, double l2);
  // Picks l2 by Pearson correlation on the last `holdout` fraction, then refits on all rows.
  static LinearHead fit_ridge_select(const std::vector<std::vector<float>>& x, const std::vector<double>& y,
                                     const std::vector<double>& grid, double holdout = 0.2);
  bool regression() const { return classes == 0; }
  int predict(const std::vector<float>& x) const;     // classification heads
  double predict_value(const std::vector<float>& x) const;  // regression heads
  void save(const std::string& path) const;   // atomic
  static LinearHead load(const std::string& path);  // validates; errors name the file
};

}  // namespace rmsmp::cli

// Logistic-regression head: Newton iterations with an LDLT solve (Eigen), fixed iteration cap: deterministic.
#include "heads/head.h"

#include <Eigen/Dense>
#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "common/cli.h"
#include "rmsmp/error.h"

namespace rmsmp::cli {

namespace {
// Binary logistic regression by Newton's method; returns [w..., b]. Bias is not regularised.
Eigen::VectorXd fit_binary(const Eigen::MatrixXd& X, const Eigen::VectorXd& y, double l2) {
  const int64_t n = X.rows(), d = X.cols();
  Eigen::MatrixXd Xb(n, d + 1);
  Xb << X, Eigen::VectorXd::Ones(n);
  Eigen::VectorXd w = Eigen::VectorXd::Zero(d + 1);
  Eigen::VectorXd reg = Eigen::VectorXd::Constant(d + 1, l2);
  reg(d) = 0;
  for (int it = 0; it < 50; ++it) {
    Eigen::VectorXd z = Xb * w;
    Eigen::VectorXd p = z.unaryExpr([](double v) { return 1.0 / (1.0 + std::exp(-v)); });
    Eigen::VectorXd g = Xb.transpose() * (p - y) + reg.cwiseProduct(w);
    Eigen::VectorXd s = p.cwiseProduct(Eigen::VectorXd::Ones(n) - p);
    Eigen::MatrixXd Hm = Xb.transpose() * s.asDiagonal() * Xb;
    Hm.diagonal() += reg;
    Hm.diagonal().array() += 1e-9;
    Eigen::VectorXd step = Hm.ldlt().solve(g);
    w -= step;
    if (step.norm() < 1e-8 * (1 + w.norm())) break;
  }
  return w;
}
}  // namespace

// Copies x into a matrix and standardises its columns in place, recording mean and 1/std in h.
static Eigen::MatrixXd standardised(const std::vector<std::vector<float>>& x, LinearHead& h) {
  h.dim = int(x[0].size());
  const int64_t n = int64_t(x.size());
  Eigen::MatrixXd X(n, h.dim);
  for (int64_t i = 0; i < n; ++i)
    for (int j = 0; j < h.dim; ++j) X(i, j) = x[size_t(i)][size_t(j)];
  h.mean.resize(size_t(h.dim));
  h.inv_std.resize(size_t(h.dim));
  for (int j = 0; j < h.dim; ++j) {
    const double m = X.col(j).mean();
    const double sd = std::sqrt((X.col(j).array() - m).square().mean());
    h.mean[size_t(j)] = m;
    h.inv_std[size_t(j)] = sd > 0 ? 1.0 / sd : 1.0;
    X.col(j) = (X.col(j).array() - m) * h.inv_std[size_t(j)];
  }
  return X;
}

LinearHead LinearHead::fit(const std::vector<std::vector<float>>& x, const std::vector<int>& y, double l2) {
  RMSMP_CHECK(!x.empty() && x.size() == y.size(), ErrorCode::InvalidArgument, "fit-head: no training examples");
  LinearHead h;
  h.l2 = l2;
  int maxl = 0;
  for (int v : y) maxl = std::max(maxl, v);
  h.classes = maxl + 1;
  RMSMP_CHECK(h.classes >= 2, ErrorCode::InvalidArgument, "fit-head: training labels hold a single class");
  const int64_t n = int64_t(x.size());
  const Eigen::MatrixXd X = standardised(x, h);
  const int scorers = h.classes == 2 ? 1 : h.classes;
  for (int c = 0; c < scorers; ++c) {
    Eigen::VectorXd yc(n);
    const int pos = h.classes == 2 ? 1 : c;
    for (int64_t i = 0; i < n; ++i) yc(i) = y[size_t(i)] == pos ? 1.0 : 0.0;
    Eigen::VectorXd w = fit_binary(X, yc, l2);
    h.weights.emplace_back(w.data(), w.data() + h.dim);
    h.bias.push_back(w(h.dim));
  }
  return h;
}

LinearHead LinearHead::fit_select(const std::vector<std::vector<float>>& x, const std::vector<int>& y,
                                  const std::vector<double>& grid, double holdout) {
  RMSMP_CHECK(!grid.empty() && holdout > 0 && holdout < 1, ErrorCode::InvalidArgument, "fit-head: bad l2 grid");
  const size_t n_fit = size_t(double(x.size()) * (1 - holdout));
  RMSMP_CHECK(n_fit >= 2 && n_fit < x.size(), ErrorCode::InvalidArgument, "fit-head: too few rows to select l2");
  std::vector<std::vector<float>> xf(x.begin(), x.begin() + long(n_fit));
  std::vector<int> yf(y.begin(), y.begin() + long(n_fit));
  double best_l2 = grid[0], best_acc = -1;
  for (double l2 : grid) {
    LinearHead h = fit(xf, yf, l2);
    size_t ok = 0;
    for (size_t i = n_fit; i < x.size(); ++i) ok += h.predict(x[i]) == y[i];
    const double acc = double(ok) / double(x.size() - n_fit);
    if (acc > best_acc) best_acc = acc, best_l2 = l2;
  }
  return fit(x, y, best_l2);
}

LinearHead LinearHead::fit_ridge(const std::vector<std::vector<float>>& x, const std::vector<double>& y, double l2) {
  RMSMP_CHECK(!x.empty() && x.size() == y.size(), ErrorCode::InvalidArgument, "fit-head: no training examples");
  LinearHead h;
  h.l2 = l2;
  h.classes = 0;
  const Eigen::MatrixXd X = standardised(x, h);
  const Eigen::Map<const Eigen::VectorXd> yv(y.data(), int64_t(y.size()));
  const double ym = yv.mean();
  // Columns are centred, so the intercept is mean(y) and the weights solve (X'X + l2 I) w = X'(y - ym).
  Eigen::MatrixXd A = X.transpose() * X;
  A.diagonal().array() += l2 + 1e-9;
  const Eigen::VectorXd w = A.ldlt().solve(X.transpose() * (yv.array() - ym).matrix());
  h.weights.emplace_back(w.data(), w.data() + h.dim);
  h.bias.push_back(ym);
  return h;
}

LinearHead LinearHead::fit_ridge_select(const std::vector<std::vector<float>>& x, const std::vector<double>& y,
                                        const std::vector<double>& grid, double holdout) {
  RMSMP_CHECK(!grid.empty() && holdout > 0 && holdout < 1, ErrorCode::InvalidArgument, "fit-head: bad l2 grid");
  const size_t n_fit = size_t(double(x.size()) * (1 - holdout));
  RMSMP_CHECK(n_fit >= 2 && n_fit + 2 <= x.size(), ErrorCode::InvalidArgument, "fit-head: too few rows to select l2");
  std::vector<std::vector<float>> xf(x.begin(), x.begin() + long(n_fit));
  std::vector<double> yf(y.begin(), y.begin() + long(n_fit));
  double best_l2 = grid[0], best_r = -2;
  for (double l2 : grid) {
    LinearHead h = fit_ridge(xf, yf, l2);
    // Pearson r of predictions on the held-out rows.
    double sp = 0, sy = 0, spp = 0, syy = 0, spy = 0;
    const double m = double(x.size() - n_fit);
    for (size_t i = n_fit; i < x.size(); ++i) {
      const double p = h.predict_value(x[i]);
      sp += p, sy += y[i], spp += p * p, syy += y[i] * y[i], spy += p * y[i];
    }
    const double cov = spy - sp * sy / m, vp = spp - sp * sp / m, vy = syy - sy * sy / m;
    const double r = vp > 0 && vy > 0 ? cov / std::sqrt(vp * vy) : -1;
    if (r > best_r) best_r = r, best_l2 = l2;
  }
  return fit_ridge(x, y, best_l2);
}

double LinearHead::predict_value(const std::vector<float>& x) const {
  RMSMP_CHECK(regression(), ErrorCode::InvalidArgument, "a classification head gives classes, not scores");
  RMSMP_CHECK(int(x.size()) == dim, ErrorCode::InvalidArgument,
              "head expects " << dim << "-d embeddings, the model gives " << x.size());
  double s = bias[0];
  for (int j = 0; j < dim; ++j) s += weights[0][size_t(j)] * (x[size_t(j)] - mean[size_t(j)]) * inv_std[size_t(j)];
  return s;
}

int LinearHead::predict(const std::vector<float>& x) const {
  RMSMP_CHECK(!regression(), ErrorCode::InvalidArgument, "a regression head gives scores, not classes");
  RMSMP_CHECK(int(x.size()) == dim, ErrorCode::InvalidArgument,
              "head expects " << dim << "-d embeddings, the model gives " << x.size());
  int best = 0;
  double best_s = -INFINITY;
  for (size_t c = 0; c < weights.size(); ++c) {
    double s = bias[c];
    for (int j = 0; j < dim; ++j) s += weights[c][size_t(j)] * (x[size_t(j)] - mean[size_t(j)]) * inv_std[size_t(j)];
    if (weights.size() == 1) return s > 0 ? 1 : 0;
    if (s > best_s) best_s = s, best = int(c);
  }
  return best;
}

void LinearHead::save(const std::string& path) const {
  nlohmann::json j = {{"type", regression() ? "ridge_regression" : "logistic_regression"}, {"dim", dim}, {"classes", classes}, {"l2", l2},
                      {"mean", mean}, {"inv_std", inv_std}, {"weights", weights}, {"bias", bias},
                      {"trained_on", trained_on}};
  write_file_atomic(path, j.dump() + "\n");
}

LinearHead LinearHead::load(const std::string& path) {
  std::ifstream in(path);
  RMSMP_CHECK(in, ErrorCode::NotFound, path << ": cannot open head file");
  LinearHead h;
  try {
    nlohmann::json j = nlohmann::json::parse(in);
    RMSMP_CHECK(j.at("type") == "logistic_regression" || j.at("type") == "ridge_regression", ErrorCode::InvalidFile,
                path << ": not a logistic_regression or ridge_regression head");
    h.dim = j.at("dim"), h.classes = j.at("classes"), h.l2 = j.at("l2");
    h.mean = j.at("mean").get<std::vector<double>>();
    h.inv_std = j.at("inv_std").get<std::vector<double>>();
    h.weights = j.at("weights").get<std::vector<std::vector<double>>>();
    h.bias = j.at("bias").get<std::vector<double>>();
    h.trained_on = j.value("trained_on", "");
  } catch (const nlohmann::json::exception& e) {
    RMSMP_FAIL(ErrorCode::InvalidFile, path << ": malformed head file: " << e.what());
  }
  const bool reg = h.classes == 0;
  const size_t scorers = reg || h.classes == 2 ? 1 : size_t(h.classes);
  bool ok = h.dim > 0 && (reg || h.classes >= 2) && h.mean.size() == size_t(h.dim) && h.inv_std.size() == size_t(h.dim) &&
            h.weights.size() == scorers && h.bias.size() == scorers;
  for (const auto& w : h.weights) ok = ok && w.size() == size_t(h.dim);
  RMSMP_CHECK(ok, ErrorCode::InvalidFile, path << ": head arrays do not match dim/classes");
  return h;
}

}  // namespace rmsmp::cli

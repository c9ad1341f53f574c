// GPTQ rounding: results stay on each row's level grid with its step, and the layer's output error on the
// calibration inputs is lower than with nearest rounding (the point of error compensation).
#include <gtest/gtest.h>

#include <random>

#include "clip_search.h"
#include "gptq.h"
#include "row_assign.h"

namespace rmsmp {

TEST(Gptq, StaysOnTheRowGridAndReducesOutputError) {
  const int64_t rows = 40, cols = 67, T = 400;
  std::mt19937_64 rng(9);
  std::normal_distribution<float> nd;
  // Correlated inputs with one outlier channel, as in transformer activations.
  Eigen::MatrixXf X(T, cols);
  for (int64_t t = 0; t < T; ++t) {
    const float common = nd(rng);
    for (int64_t c = 0; c < cols; ++c) X(t, c) = 0.7f * common + nd(rng) * (c == 5 ? 8.f : 1.f);
  }
  Eigen::MatrixXf H = X.transpose() * X;
  std::vector<float> w(static_cast<size_t>(rows * cols));
  for (auto& v : w) v = nd(rng) * 0.05f;
  std::vector<QuantKind> kinds = assign_random(rows, Ratios{}, 3);
  std::vector<float> steps(static_cast<size_t>(rows));
  std::vector<float> nearest = w;
  for (int64_t r = 0; r < rows; ++r) {
    const QuantKind k = kinds[size_t(r)];
    steps[size_t(r)] = quant_row_step(k, w.data() + r * cols, cols, ClipMode::Mse);
    std::vector<int8_t> q(static_cast<size_t>(cols));
    quant_scheme(k).quantize_row(w.data() + r * cols, cols, steps[size_t(r)], q.data());
    for (int64_t c = 0; c < cols; ++c) nearest[size_t(r * cols + c)] = steps[size_t(r)] * q[size_t(c)];
  }
  std::vector<float> g = w;
  gptq_quantize(g, rows, cols, H, kinds, steps);
  // On the grid: re-quantizing with the same step gives back exactly the same value.
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<int8_t> q(static_cast<size_t>(cols));
    quant_scheme(kinds[size_t(r)]).quantize_row(g.data() + r * cols, cols, steps[size_t(r)], q.data());
    for (int64_t c = 0; c < cols; ++c) ASSERT_EQ(g[size_t(r * cols + c)], steps[size_t(r)] * q[size_t(c)]);
  }
  auto out_err = [&](const std::vector<float>& wq) {
    using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    Eigen::Map<const RowMat> A(w.data(), rows, cols), B(wq.data(), rows, cols);
    return double((X * (A - B).transpose()).squaredNorm());
  };
  const double e_near = out_err(nearest), e_gptq = out_err(g);
  EXPECT_LT(e_gptq, 0.8 * e_near) << "nearest " << e_near << " gptq " << e_gptq;
}

// --clip hessian: each row's refined step gives a nearest rounding whose output error e^T H e is no larger than
// the MSE clip's (the MSE step is among the candidates), and lower over the layer where one input channel has
// 8x the others' energy.
TEST(Gptq, HessianClipRefinementLowersEachRowsOutputError) {
  const int64_t rows = 40, cols = 67, T = 400;
  std::mt19937_64 rng(11);
  std::normal_distribution<float> nd;
  Eigen::MatrixXf X(T, cols);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t c = 0; c < cols; ++c) X(t, c) = nd(rng) * (c == 5 ? 8.f : 1.f);
  const Eigen::MatrixXf H = X.transpose() * X;
  std::vector<float> w(static_cast<size_t>(rows * cols));
  for (auto& v : w) v = nd(rng) * 0.05f;
  const std::vector<QuantKind> kinds = assign_random(rows, Ratios{}, 3);
  std::vector<float> mse(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) mse[size_t(r)] = quant_row_step(kinds[size_t(r)], w.data() + r * cols, cols, ClipMode::Mse);
  std::vector<float> refined = mse;
  refine_steps_hessian(w.data(), rows, cols, kinds, H, refined);
  auto row_err = [&](int64_t r, float step) {
    std::vector<int8_t> q(static_cast<size_t>(cols));
    quant_scheme(kinds[size_t(r)]).quantize_row(w.data() + r * cols, cols, step, q.data());
    Eigen::VectorXf e(cols);
    for (int64_t c = 0; c < cols; ++c) e(c) = w[size_t(r * cols + c)] - step * float(q[size_t(c)]);
    return double(e.dot(H * e));
  };
  double total_mse = 0, total_refined = 0;
  int changed = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const double a = row_err(r, mse[size_t(r)]), b = row_err(r, refined[size_t(r)]);
    EXPECT_LE(b, a * (1 + 1e-5)) << "row " << r;
    total_mse += a, total_refined += b, changed += refined[size_t(r)] != mse[size_t(r)];
  }
  EXPECT_GT(changed, 0);
  EXPECT_LT(total_refined, 0.97 * total_mse) << total_mse << " -> " << total_refined;
}

}  // namespace rmsmp

// GPTQ rounding: results stay on each row's level grid with its step, and the layer's output error on the
// calibration inputs is lower than with nearest rounding (the point of error compensation).
#include <gtest/gtest.h>

#include <random>

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

}  // namespace rmsmp

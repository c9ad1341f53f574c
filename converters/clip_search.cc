// Hessian-weighted clip refinement (see clip_search.h).
#include "clip_search.h"

#include <limits>

namespace rmsmp {

namespace {
// Around the MSE clip, which is the starting point: +-20% in 5% steps.
constexpr float kClipFactors[] = {0.80f, 0.85f, 0.90f, 0.95f, 1.00f, 1.05f, 1.10f, 1.15f, 1.20f};
}  // namespace

void refine_steps_hessian(const float* w, int64_t rows, int64_t cols, const std::vector<QuantKind>& kinds,
                          const Eigen::MatrixXf& H, std::vector<float>& steps) {
  using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  if (H.rows() != cols || H.cols() != cols) return;
  std::vector<double> best(size_t(rows), std::numeric_limits<double>::infinity());
  std::vector<float> best_step(steps);
  RowMat e(rows, cols);
  std::vector<int8_t> q(static_cast<size_t>(cols));
  for (float g : kClipFactors) {
    e.setZero();
    for (int64_t r = 0; r < rows; ++r) {
      const QuantKind k = kinds[size_t(r)];
      if (!quant_is_integer(k) || steps[size_t(r)] == 0.f) continue;
      const float s = steps[size_t(r)] * g;
      quant_scheme(k).quantize_row(w + r * cols, cols, s, q.data());
      for (int64_t c = 0; c < cols; ++c) e(r, c) = w[r * cols + c] - s * float(q[size_t(c)]);
    }
    const RowMat eh = e * H;
    for (int64_t r = 0; r < rows; ++r) {
      const QuantKind k = kinds[size_t(r)];
      if (!quant_is_integer(k) || steps[size_t(r)] == 0.f) continue;
      const double err = double(eh.row(r).dot(e.row(r)));
      if (err < best[size_t(r)]) best[size_t(r)] = err, best_step[size_t(r)] = steps[size_t(r)] * g;
    }
  }
  steps = best_step;
}

}  // namespace rmsmp

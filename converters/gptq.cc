// GPTQ column sweep with the upper Cholesky factor of H^-1 (the numerically stable form of the OBQ update).
#include "gptq.h"

#include <algorithm>
#include <numeric>

#include <Eigen/Cholesky>
#include <Eigen/Dense>

#include "rmsmp/error.h"

namespace rmsmp {

namespace {
using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

void sweep(Eigen::Map<RowMat>& W, const Eigen::MatrixXd& H, const std::vector<int64_t>& order,
           const std::vector<QuantKind>& kinds, const std::vector<float>& steps) {
  const int64_t rows = W.rows(), cols = W.cols();
  // Permuted copies: column j of Wp is column order[j] of W.
  RowMat Wp(rows, cols);
  Eigen::MatrixXd Hp(cols, cols);
  for (int64_t j = 0; j < cols; ++j) Wp.col(j) = W.col(order[size_t(j)]);
  for (int64_t i = 0; i < cols; ++i)
    for (int64_t j = 0; j < cols; ++j) Hp(i, j) = H(order[size_t(i)], order[size_t(j)]);
  Eigen::MatrixXd Hinv = Hp.llt().solve(Eigen::MatrixXd::Identity(cols, cols));
  Eigen::LLT<Eigen::MatrixXd> chol(Hinv);
  RMSMP_CHECK(chol.info() == Eigen::Success, ErrorCode::Internal, "gptq: H^-1 is not positive definite");
  const Eigen::MatrixXf U = Eigen::MatrixXd(chol.matrixU()).cast<float>();
  Eigen::VectorXf err(rows);
  for (int64_t c = 0; c < cols; ++c) {
    for (int64_t r = 0; r < rows; ++r) {
      if (!quant_is_integer(kinds[size_t(r)])) {
        err(r) = 0;
        continue;
      }
      const float x = Wp(r, c), step = steps[size_t(r)];
      int8_t q = 0;
      quant_scheme(kinds[size_t(r)]).quantize_row(&x, 1, step, &q);
      const float qv = step * float(q);
      err(r) = (x - qv) / U(c, c);
      Wp(r, c) = qv;
    }
    if (c + 1 < cols) Wp.rightCols(cols - c - 1).noalias() -= err * U.row(c).tail(cols - c - 1);
  }
  for (int64_t j = 0; j < cols; ++j) W.col(order[size_t(j)]) = Wp.col(j);
}
}  // namespace

void gptq_quantize(std::vector<float>& w, int64_t rows, int64_t cols, const Eigen::MatrixXf& H_in,
                   const std::vector<QuantKind>& kinds, const std::vector<float>& steps, double damp) {
  RMSMP_CHECK(H_in.rows() == cols && H_in.cols() == cols, ErrorCode::Internal, "gptq: Hessian shape mismatch");
  Eigen::MatrixXd H = H_in.cast<double>();
  Eigen::Map<RowMat> W(w.data(), rows, cols);
  // Inputs that never fire carry no information: fix their diagonal and zero their weights (as GPTQ does).
  for (int64_t c = 0; c < cols; ++c)
    if (H(c, c) == 0) H(c, c) = 1, W.col(c).setZero();
  H.diagonal().array() += damp * H.diagonal().mean();
  // Act-order: round the columns whose inputs carry the most energy first, while the most columns remain to
  // absorb their error (MiniLM-L6 default mix, SST-2 dev cosine to fp32: 0.9635 natural order, 0.9662 act-order).
  // stable_sort keeps the order, and so the file, identical on every machine.
  std::vector<int64_t> order(static_cast<size_t>(cols));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return H(a, a) > H(b, b); });
  sweep(W, H, order, kinds, steps);
}

}  // namespace rmsmp

// GPTQ column sweep with the upper Cholesky factor of H^-1 (the numerically stable form of the OBQ update).
#include "gptq.h"

#include <Eigen/Cholesky>
#include <Eigen/Dense>

#include "rmsmp/error.h"

namespace rmsmp {

void gptq_quantize(std::vector<float>& w, int64_t rows, int64_t cols, const Eigen::MatrixXf& H_in,
                   const std::vector<QuantKind>& kinds, const std::vector<float>& steps, double damp) {
  using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  RMSMP_CHECK(H_in.rows() == cols && H_in.cols() == cols, ErrorCode::Internal, "gptq: Hessian shape mismatch");
  Eigen::MatrixXd H = H_in.cast<double>();
  Eigen::Map<RowMat> W(w.data(), rows, cols);
  // Inputs that never fire carry no information: fix their diagonal and zero their weights (as GPTQ does).
  for (int64_t c = 0; c < cols; ++c)
    if (H(c, c) == 0) H(c, c) = 1, W.col(c).setZero();
  H.diagonal().array() += damp * H.diagonal().mean();
  Eigen::MatrixXd Hinv = H.llt().solve(Eigen::MatrixXd::Identity(cols, cols));
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
      const float x = W(r, c), step = steps[size_t(r)];
      int8_t q = 0;
      quant_scheme(kinds[size_t(r)]).quantize_row(&x, 1, step, &q);
      const float qv = step * float(q);
      err(r) = (x - qv) / U(c, c);
      W(r, c) = qv;
    }
    if (c + 1 < cols) W.rightCols(cols - c - 1).noalias() -= err * U.row(c).tail(cols - c - 1);
  }
}

}  // namespace rmsmp

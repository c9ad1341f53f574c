// Error-compensated rounding of a row-wise mixed layer (GPTQ, Frantar et al. 2022; the OBQ view of the
// layer-reconstruction Hessian RMSMP.md uses for precision). Every row keeps its own scheme and step; columns
// are rounded one at a time and each rounding error is spread over the not-yet-rounded columns through H^-1,
// so the result is exactly representable by the row-wise packer. Columns are taken in decreasing order of
// H's diagonal (GPTQ's act-order).
#pragma once
#include <cstdint>
#include <vector>

#include <Eigen/Core>

#include "rmsmp/quant.h"

namespace rmsmp {

// w: rows x cols, row-major; on return w[r][c] == steps[r] * q for a level q of kinds[r] (F32 rows untouched).
// H: cols x cols layer Hessian (sum of x x^T); damp: fraction of mean(diag H) added to the diagonal.
void gptq_quantize(std::vector<float>& w, int64_t rows, int64_t cols, const Eigen::MatrixXf& H,
                   const std::vector<QuantKind>& kinds, const std::vector<float>& steps, double damp = 0.01);

}  // namespace rmsmp

// Per-row clip (step) refinement by the layer's output error instead of the weights' own error.
#pragma once
#include <cstdint>
#include <vector>

#include <Eigen/Core>

#include "rmsmp/quant.h"

namespace rmsmp {

// For every integer row r, replaces steps[r] by the one among steps[r] * g, g in kClipFactors, whose nearest
// rounding has the least e^T H e (e = w_r - its rounded row, H = sum x x^T of the layer's inputs): the MSE clip
// weighs all columns alike, H weighs each by its inputs' energy and correlations. Rows with step 0 or of F32
// kind are left alone. w: rows x cols, row-major.
void refine_steps_hessian(const float* w, int64_t rows, int64_t cols, const std::vector<QuantKind>& kinds,
                          const Eigen::MatrixXf& H, std::vector<float>& steps);

}  // namespace rmsmp

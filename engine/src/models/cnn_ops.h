// The CNN ops besides groups == 1 convolution's GEMM (which is Backend::linear): shared by every backend, so
// they are written once, in plain loops whose integer results do not depend on loop order.
#pragma once
#include <cstdint>

#include "models/cnn.h"

namespace rmsmp {

// Output size of a conv/pool window along one axis.
inline int64_t cnn_out_dim(int64_t in, int64_t k, int64_t s, int64_t pad_lo, int64_t pad_hi) {
  return (in + pad_lo + pad_hi - k) / s + 1;
}

// im2col for NHWC input: row p = output pixel (oy * ow + ox), columns (ky, kx, ci) for ci < c; zero padding.
void cnn_im2col(const float* x, const CnnValue& in, const CnnNode& n, int64_t oh, int64_t ow, float* cols);
// Quantized activations, the rows of output pixels [p0, p0 + np) only, row i at cols + i * stride (a
// PatchSource's block; padding is q = 0, which is what a zero quantizes to).
void cnn_im2col_rows(const int8_t* x, const CnnValue& in, const CnnNode& n, int64_t ow, int64_t p0, int64_t np,
                     int8_t* cols, int64_t stride);

// Grouped / depthwise conv with the unpacked weights: out[p][co] = post(epilogue(sum over the group's patch)),
// integer (input quantized with `act`, which must be static here) or fp32. The input is quantized through
// be.quantize_activations (same q on every backend). Depthwise layers (u.tap_major) run a vectorised kernel.
void cnn_conv_grouped(const Backend& be, const CnnGraph::Unpacked& u, const RowMixedLinear& L, const ActQuant& act,
                      const float* x, const CnnValue& in, const CnnNode& n, const CnnValue& out,
                      const LinearPost& post, float* y, const int8_t* xq = nullptr, float xq_step = 0.f);

inline LinearPost::Act cnn_post_act(CnnAct a) {
  return a == CnnAct::Relu ? LinearPost::Act::Relu : a == CnnAct::Relu6 ? LinearPost::Act::Relu6 : LinearPost::Act::None;
}

// y = act(y + residual) in place (residual may be null).
void cnn_residual_act(float* y, const float* residual, int64_t n, CnnAct act);

void cnn_maxpool(const float* x, const CnnValue& in, const CnnNode& n, const CnnValue& out, float* y);
// Average over the window, divided by kh * kw (zero padding counted, as PyTorch's count_include_pad=True).
void cnn_avgpool(const float* x, const CnnValue& in, const CnnNode& n, const CnnValue& out, float* y);
void cnn_global_avgpool(const float* x, const CnnValue& in, float* y);

// max |x| over n values (NaN ignored, as act_quantize_row does).
float cnn_abs_max(const float* x, int64_t n);

}  // namespace rmsmp

// The encoder's fp32 ops, written in the reference backend's order and with its exp/erf (pm_expf, pm_erff
// from engine/src/core/portable_math.h, embedded before this file), so they are bit-identical to it on
// devices with fp64 (LayerNorm statistics are double there, as in the reference) and correctly rounded
// division/sqrt.
#if defined(cl_khr_fp64)
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
typedef double acc_t;
#else
typedef float acc_t;
#endif

// y[t] = LayerNorm(x[t] + residual[t]) * gamma + beta; one work-item per token. y may alias x.
__kernel void layer_norm(__global const float* x, __global const float* residual, int has_residual,
                         __global const float* gamma, __global const float* beta, float eps, int dim,
                         __global float* y) {
  const int t = get_global_id(0);
  __global const float* xr = x + (size_t)t * dim;
  __global const float* rr = residual + (size_t)t * dim;
  __global float* yr = y + (size_t)t * dim;
  acc_t mean = 0;
  for (int i = 0; i < dim; ++i) mean += (acc_t)(xr[i] + (has_residual ? rr[i] : 0.f));
  mean /= (acc_t)dim;
  acc_t var = 0;
  for (int i = 0; i < dim; ++i) {
    const float v = xr[i] + (has_residual ? rr[i] : 0.f);
    var += ((acc_t)v - mean) * ((acc_t)v - mean);
  }
  var /= (acc_t)dim;
  const float inv = (float)((acc_t)1 / sqrt(var + (acc_t)eps));
  const float fmean = (float)mean;
  for (int i = 0; i < dim; ++i) {
    const float v = xr[i] + (has_residual ? rr[i] : 0.f);
    yr[i] = (v - fmean) * inv * gamma[i] + beta[i];
  }
}

// In place, exact-erf GELU.
__kernel void gelu(__global float* x) {
  const size_t i = get_global_id(0);
  const float v = x[i];
  x[i] = 0.5f * v * (1.f + pm_erff(v * 0.70710678118654752f));
}

// Self-attention of one sequence: work-item (i, h) computes query i of head h. q/k/v/out rows have stride
// n_heads * head_dim; p is scratch of len floats per work-item. rel_stride > 0: rel_bias holds per head
// rel_stride floats, element (i - j) + len - 1 added to the scaled score (MPNet's relative position bias).
__kernel void attention(__global const float* q, __global const float* k, __global const float* v, int len,
                        int n_heads, int head_dim, __global float* p_scratch, __global const float* rel_bias,
                        int rel_stride, __global float* out) {
  const int i = get_global_id(0), h = get_global_id(1);
  const int stride = n_heads * head_dim;
  const float scale = 1.f / sqrt((float)head_dim);
  __global float* p = p_scratch + ((size_t)h * len + i) * len;
  __global const float* qi = q + (size_t)i * stride + h * head_dim;
  float mx = -INFINITY;
  for (int j = 0; j < len; ++j) {
    __global const float* kj = k + (size_t)j * stride + h * head_dim;
    float s = 0.f;
    for (int d = 0; d < head_dim; ++d) s = fma(qi[d], kj[d], s);  // fused, as the reference's std::fma
    p[j] = s * scale;
    if (rel_stride > 0) p[j] += rel_bias[(size_t)h * rel_stride + i - j + len - 1];
    mx = fmax(mx, p[j]);
  }
  float sum = 0.f;
  for (int j = 0; j < len; ++j) sum += (p[j] = pm_expf(p[j] - mx));
  __global float* oi = out + (size_t)i * stride + h * head_dim;
  for (int d = 0; d < head_dim; ++d) oi[d] = 0.f;
  for (int j = 0; j < len; ++j) {
    const float pj = p[j] / sum;
    __global const float* vj = v + (size_t)j * stride + h * head_dim;
    for (int d = 0; d < head_dim; ++d) oi[d] = fma(pj, vj[d], oi[d]);
  }
}

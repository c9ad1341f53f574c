// FPGA-style row-group kernels, in the single-work-item form FPGA OpenCL compilers pipeline (launched as
// tasks: global size 1). The paper's two cores, as two kernels the host enqueues on two queues so they run
// concurrently on one layer:
//   fpga_pot4_core   : the LUT core. PoT-4 rows, shift-and-add only: there is no multiply in this kernel.
//   fpga_fixed_core  : the DSP core. Fixed-4 / Fixed-8 rows with integer multiplies.
// Both write int32 accumulators acc[t * rows + j]; fpga_scale (the accumulate-and-scale stage) applies the
// epilogue. LANES values are consumed per inner step, fully unrolled (an FPGA compiler builds LANES PEs).
#ifndef LANES
#define LANES 16
#endif

__attribute__((reqd_work_group_size(1, 1, 1)))
__kernel void fpga_pot4_core(__global const uchar* restrict codes, int row_bytes, int rows,
                             __global const char* restrict xq, int K, int T, __global int* restrict acc_out) {
  for (int t = 0; t < T; ++t) {
    __global const char* x = xq + (size_t)t * K;
    for (int j = 0; j < rows; ++j) {
      __global const uchar* w = codes + (size_t)j * row_bytes;
      int acc = 0;
      for (int k0 = 0; k0 < K; k0 += LANES) {
        int lane_sum = 0;
#pragma unroll
        for (int l = 0; l < LANES; ++l) {
          const int k = k0 + l;
          const uint nib = k < K ? ((w[k >> 1] >> ((k & 1) << 2)) & 0xFu) : 0u;
          const uint e = nib & 7u;
          const int xv = k < K ? (int)x[k] : 0;
          const int shifted = e ? (xv << (e - 1)) : 0;  // the PE: a barrel shift
          lane_sum += (nib & 8u) ? -shifted : shifted;    // and an add/subtract
        }
        acc += lane_sum;
      }
      acc_out[(size_t)t * rows + j] = acc;
    }
  }
}

// kind: the row's QuantKind value (rmsmp/quant.h): 1 = fixed8 (one byte per value), 2 = fixed4 (nibbles).
__attribute__((reqd_work_group_size(1, 1, 1)))
__kernel void fpga_fixed_core(__global const uchar* restrict codes, int row_bytes, int rows, int kind,
                              __global const char* restrict xq, int K, int T, __global int* restrict acc_out) {
  for (int t = 0; t < T; ++t) {
    __global const char* x = xq + (size_t)t * K;
    for (int j = 0; j < rows; ++j) {
      __global const uchar* w = codes + (size_t)j * row_bytes;
      int acc = 0;
      for (int k0 = 0; k0 < K; k0 += LANES) {
        int lane_sum = 0;
#pragma unroll
        for (int l = 0; l < LANES; ++l) {
          const int k = k0 + l;
          int wv = 0;
          if (k < K) wv = kind == 1 ? (int)(char)w[k] : fixed4_decode((w[k >> 1] >> ((k & 1) << 2)) & 0xFu);
          const int xv = k < K ? (int)x[k] : 0;
          lane_sum += wv * xv;  // the PE: a DSP multiply-accumulate
        }
        acc += lane_sum;
      }
      acc_out[(size_t)t * rows + j] = acc;
    }
  }
}

// Accumulate-and-scale: y[t, perm[j]] = rowq_epilogue(acc[t, j], xstep[t], steps[j], bias).
__kernel void fpga_scale(__global const int* acc, int rows, __global const float* steps, __global const int* perm,
                         __global const float* xstep, int N, __global const float* bias, int has_bias,
                         __global float* y) {
  const int j = get_global_id(0), t = get_global_id(1);
  const int r = perm[j];
  y[(size_t)t * N + r] = rowq_epilogue(acc[(size_t)t * rows + j], xstep[t], steps[j], has_bias ? bias[r] : 0.f);
}

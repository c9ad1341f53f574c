// NDRange row-group GEMMs (CPUs, GPUs): work-item (j, t) computes stored row j of one group for token t from
// the packed codes and writes original output row perm[j]. Integer accumulation is exact; the epilogue is
// rowq_epilogue, so results are bit-identical to the reference backend.
//   codes: rows x row_bytes packed bytes; steps: rows; perm: rows (original row of stored row j)
//   xq: T x K int8 activations, xstep: T; y: T x N floats; has_bias: bias[N] in original order.

__kernel void gemm_fixed8(__global const uchar* codes, int row_bytes, __global const float* steps,
                          __global const int* perm, __global const char* xq, __global const float* xstep, int K,
                          int N, __global const float* bias, int has_bias, __global float* y) {
  const int j = get_global_id(0), t = get_global_id(1);
  __global const char* w = (__global const char*)(codes + (size_t)j * row_bytes);
  __global const char* x = xq + (size_t)t * K;
  int acc = 0;
  for (int k = 0; k < K; ++k) acc += (int)w[k] * (int)x[k];
  const int r = perm[j];
  y[(size_t)t * N + r] = rowq_epilogue(acc, xstep[t], steps[j], has_bias ? bias[r] : 0.f);
}

__kernel void gemm_fixed4(__global const uchar* codes, int row_bytes, __global const float* steps,
                          __global const int* perm, __global const char* xq, __global const float* xstep, int K,
                          int N, __global const float* bias, int has_bias, __global float* y) {
  const int j = get_global_id(0), t = get_global_id(1);
  __global const uchar* w = codes + (size_t)j * row_bytes;
  __global const char* x = xq + (size_t)t * K;
  int acc = 0;
  for (int k = 0; k < K; ++k) acc += fixed4_decode(nibble_at(w, k)) * (int)x[k];
  const int r = perm[j];
  y[(size_t)t * N + r] = rowq_epilogue(acc, xstep[t], steps[j], has_bias ? bias[r] : 0.f);
}

// PoT-4: |q| * x == x << (e - 1); the sign selects add or subtract. No multiply in the dot product.
__kernel void gemm_pot4(__global const uchar* codes, int row_bytes, __global const float* steps,
                        __global const int* perm, __global const char* xq, __global const float* xstep, int K, int N,
                        __global const float* bias, int has_bias, __global float* y) {
  const int j = get_global_id(0), t = get_global_id(1);
  __global const uchar* w = codes + (size_t)j * row_bytes;
  __global const char* x = xq + (size_t)t * K;
  int acc = 0;
  for (int k = 0; k < K; ++k) {
    const uint nib = nibble_at(w, k);
    const uint e = nib & 7u;
    const int v = e ? ((int)x[k] << (e - 1)) : 0;
    acc += (nib & 8u) ? -v : v;
  }
  const int r = perm[j];
  y[(size_t)t * N + r] = rowq_epilogue(acc, xstep[t], steps[j], has_bias ? bias[r] : 0.f);
}

// fp32 rows: sequential accumulation in k order, as the reference does.
__kernel void gemm_f32(__global const uchar* codes, int row_bytes, __global const int* perm,
                       __global const float* x, int K, int N, __global const float* bias, int has_bias,
                       __global float* y) {
  const int j = get_global_id(0), t = get_global_id(1);
  __global const float* w = (__global const float*)(codes + (size_t)j * row_bytes);
  __global const float* xr = x + (size_t)t * K;
  float acc = 0.f;
  for (int k = 0; k < K; ++k) acc += xr[k] * w[k];
  const int r = perm[j];
  y[(size_t)t * N + r] = acc + (has_bias ? bias[r] : 0.f);
}

// int8 x int8 -> int32 row-group GEMM kernels, one file per ISA (isa/gemm_s8_<isa>.cc, compiled with that
// ISA's flags only). All compute exactly the same integers as the reference dot_row.
//
// Operands (prepared by the cpu backend):
//   x:   n_tokens rows of k_padded int8 activations (q values in [-127, 127], zero padded to k_padded)
//   w:   n_rows rows of k_padded int8 weights (unpacked codes, zero padded), row stride k_padded
//   w_sum: per-row sum of w (used by kernels that shift x to unsigned: sum (x+128) w - 128 sum w == sum x w)
//   acc: n_tokens x n_rows int32 output, row stride acc_stride
// k_padded is a multiple of kGemmKAlign. Ranges make every partial sum exact in int32 (|q| <= 127).
#pragma once
#include <cstdint>

namespace rmsmp {

inline constexpr int64_t kGemmKAlign = 64;

struct GemmS8Args {
  const int8_t* x;
  int64_t n_tokens;
  const int8_t* w;
  const int32_t* w_sum;
  int64_t n_rows;
  int64_t k_padded;
  int32_t* acc;
  int64_t acc_stride;
};

using GemmS8Fn = void (*)(const GemmS8Args&);

void gemm_s8_generic(const GemmS8Args& a);
void gemm_s8_avx2(const GemmS8Args& a);        // vpmaddubsw on |x| and sign(w, x): no int16 saturation
void gemm_s8_avx512vnni(const GemmS8Args& a);  // vpdpbusd on x+128 with row-sum compensation

}  // namespace rmsmp

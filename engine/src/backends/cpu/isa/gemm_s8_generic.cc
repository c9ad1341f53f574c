// Portable int8 GEMM (baseline x86-64 / any CPU): plain loops the compiler may vectorise for SSE2.
#include "backends/cpu/gemm_s8.h"

namespace rmsmp {

void gemm_s8_generic(const GemmS8Args& a) {
  for (int64_t t = 0; t < a.n_tokens; ++t) {
    const int8_t* x = a.x + t * a.k_padded;
    for (int64_t r = 0; r < a.n_rows; ++r) {
      const int8_t* w = a.w + r * a.k_padded;
      int32_t s = 0;
      for (int64_t k = 0; k < a.k_padded; ++k) s += int32_t(x[k]) * int32_t(w[k]);
      a.acc[t * a.acc_stride + r] = s;
    }
  }
}

}  // namespace rmsmp

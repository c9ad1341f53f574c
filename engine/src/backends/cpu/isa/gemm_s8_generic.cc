// Portable int8 panel GEMM and unpacker (baseline x86-64 / any CPU): plain loops the compiler may vectorise.
#include <cstring>

#include "backends/cpu/gemm_s8.h"

namespace rmsmp {

void gemm_s8_generic(const GemmS8Args& a) {
  for (int64_t r = 0; r < a.n_rows; ++r) {
    const int8_t* w = a.w + r * a.k_padded;
    for (int64_t t = 0; t < a.n_tokens; ++t) {
      const int8_t* x = a.x + t * a.k_padded;
      int32_t s = 0;
      for (int64_t k = 0; k < a.k_padded; ++k) s += int32_t(x[k]) * int32_t(w[k]);
      a.acc[t * a.acc_stride + r] = s;
    }
  }
}

void unpack_panel_generic(QuantKind kind, const uint8_t* codes, size_t row_bytes, int64_t rows, int64_t k,
                          int64_t k_padded, int8_t* panel, int32_t* w_sum) {
  const QuantScheme& s = quant_scheme(kind);
  for (int64_t j = 0; j < rows; ++j) {
    int8_t* row = panel + j * k_padded;
    s.unpack_row(codes + size_t(j) * row_bytes, k, row);
    std::memset(row + k, 0, size_t(k_padded - k));
    int32_t sum = 0;
    for (int64_t i = 0; i < k; ++i) sum += row[i];
    w_sum[j] = sum;
  }
}

}  // namespace rmsmp

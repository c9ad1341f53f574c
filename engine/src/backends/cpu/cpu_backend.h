// CpuBackend: the reference ops, with linear() on oneDNN's sgemm (fp32 groups; oneDNN dispatches on the ISA
// at run time) and an int8 GEMM over unpacked row tiles (integer groups; bit-identical to the reference).
// Hand-tuned SIMD kernels with explicit ISA dispatch arrive with the fast CPU runtime.
#pragma once
#include "backends/reference/reference_backend.h"

namespace rmsmp {

class CpuBackend : public ReferenceBackend {
 public:
  const char* name() const override { return "cpu"; }
  void linear(const RowMixedLinear& w, const float* x, int64_t n_tokens, float* y) const override;
};

}  // namespace rmsmp

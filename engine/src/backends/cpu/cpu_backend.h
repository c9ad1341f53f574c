// CpuBackend: reference ops, with linear() on oneDNN's sgemm for fp32 groups (oneDNN dispatches on the ISA
// itself) and on our per-ISA int8 kernels (gemm_s8.h) for integer groups, chosen at run time (isa.h).
// Integer results are bit-identical to the reference backend on every ISA.
#pragma once
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>
#include <vector>

#include "backends/cpu/gemm_s8.h"
#include "backends/cpu/isa.h"
#include "backends/reference/reference_backend.h"

namespace rmsmp {

class CpuBackend : public ReferenceBackend {
 public:
  explicit CpuBackend(Isa isa);
  const char* name() const override { return name_.c_str(); }
  Isa isa() const { return isa_; }
  void linear(const RowMixedLinear& w, const float* x, int64_t n_tokens, float* y) const override;
  // The reference ops split over OpenMP threads by token (or by head): identical results for any thread count.
  void layer_norm(const float* x, const float* residual, const float* gamma, const float* beta, float eps,
                  int64_t n_tokens, int64_t dim, float* y) const override;
  void gelu(float* x, int64_t n) const override;
  void attention(const float* q, const float* k, const float* v, int64_t len, int64_t n_heads, int64_t head_dim,
                 float* out) const override;

 private:
  // A row group unpacked once to int8, rows zero-padded to a multiple of kGemmKAlign, plus row sums.
  // Cached by the group's code pointer: the weights must outlive the backend and never change (a Model
  // owns both its mapped file and its backend, which guarantees this).
  struct PreparedGroup {
    std::vector<int8_t> w;
    std::vector<int32_t> w_sum;
    int64_t k_padded = 0;
  };
  const PreparedGroup& prepared(const RowMixedLinear& w, const RowGroup& g) const;

  Isa isa_;
  GemmS8Fn gemm_;
  std::string name_;
  mutable std::shared_mutex mu_;
  mutable std::unordered_map<const uint8_t*, std::unique_ptr<PreparedGroup>> cache_;
};

}  // namespace rmsmp

// CpuBackend: linear() on oneDNN's sgemm for fp32 groups (oneDNN dispatches on the ISA itself) and on our
// per-ISA int8 panel kernels (gemm_s8.h) for integer groups, chosen at run time (isa.h); GELU and attention
// vectorised per ISA (isa/encoder_ops.h). Results are bit-identical to the reference backend on every ISA.
// No unpacked copy of the weights is kept: AVX2/generic read the packed codes in place from the model file, and
// AVX-512 VNNI reads its load-time layout (prepared.h), still 4-bit for 4-bit rows, after which the model drops
// the file's pages of those codes; resident weight memory is the packed size (0.5 byte per 4-bit weight). With
// AMX the 4-bit rows are decoded to bytes at load instead (expand_4bit below).
#pragma once
#include <string>

#include "backends/cpu/gemm_s8.h"
#include "backends/cpu/isa.h"
#include "backends/reference/reference_backend.h"

namespace rmsmp {

// act_quantize_row(x, n, aq, q) for a static aq (aq.dynamic false: one step for all n values), vectorised for
// the backend's ISA (AVX-512 k-masks, else the vector-extension clones); returns the step. Serial: callers
// split the values.
float act_quantize_static(const float* x, int64_t n, const ActQuant& aq, int8_t* q, Isa isa);

class CpuBackend : public ReferenceBackend {
 public:
  // exact_fp32: fp32 rows sum as the reference does (one chain per output, k in order; SIMD across tokens)
  // instead of oneDNN's sgemm, so an fp32 forward has the same bits on every ISA: the converters' calibration
  // uses it ("cpu-exact"), which makes a conversion byte-identical on every CPU. About 4x slower fp32 GEMMs.
  // amx (Avx512Vnni only): byte panels of 16 or more tokens go through AMX tiles (gemm_s8_amx); its name is then
  // "cpu:amx". The results are the same bits either way.
  // expand: whether prepare() decodes 4-bit rows to bytes at load (expand_4bit); -1: RMSMP_CPU_EXPAND, else
  // with AMX.
  explicit CpuBackend(Isa isa, bool exact_fp32 = false, bool amx = false, int expand = -1);
  bool amx() const { return amx_; }
  const char* name() const override { return name_.c_str(); }
  Isa isa() const { return isa_; }
  // AVX-512 VNNI: every integer group in the kernel's panel order (prepared.h); other ISAs read the file's rows.
  std::shared_ptr<const PreparedLinear> prepare(const RowMixedLinear& w) const override;
  // Whether prepare() decodes 4-bit rows to bytes at load (prepared.h, keep_nibbles false): by default with AMX.
  // A tile multiplies 16 tokens by a 1 KiB B tile in 16 cycles; decoding that tile from nibbles takes longer
  // (about 5 vector ops per 64 bytes), so at 16-128 tokens the per-call decode made the mix 15-30% slower than
  // Fixed-8 (MiniLM, 2 threads). Expanded, the mix runs as Fixed-8 does, at twice the resident bytes of its
  // 4-bit rows (a byte per weight, as ONNX Runtime's int8). RMSMP_CPU_EXPAND=0|1 overrides.
  bool expand_4bit() const;
  // AVX-512 VNNI: depthwise weights as int16 tap pairs for vpdpwssd (prepared.h); other ISAs keep the shared kernel.
  std::shared_ptr<const PreparedDepthwise> prepare_depthwise(const int8_t* w, int64_t kh, int64_t kw,
                                                             int64_t channels) const override;
  void depthwise_acc_s8(const PreparedDepthwise& w, const int8_t* const* xs, int32_t* acc) const override;
  uint32_t depthwise_row_s8(const PreparedDepthwise& w, const DepthwiseRow& r) const override;
  std::string kernel_name(const RowMixedLinear& w, const RowGroup& g) const override;
  void linear(const RowMixedLinear& w, const float* x, int64_t n_tokens, float* y) const override;
  // q/k/v: one activation quantization and one parallel loop over all three layers' row panels.
  void linear_multi(const RowMixedLinear* const* ws, size_t n, const float* x, int64_t n_tokens,
                    float* const* ys) const override;
  // GELU applied per tile, in the epilogue (same operations as gelu(), so the same bits).
  void linear_gelu(const RowMixedLinear& w, const float* x, int64_t n_tokens, float* y) const override;
  // Each token block's patches made where they are multiplied (no stored im2col matrix).
  void linear_patches(const RowMixedLinear& w, const ActQuant& act, const PatchSource& src, float xstep,
                      int64_t n_tokens, const LinearPost& post, float* y) const override;
  // Each token block quantized where it is multiplied (no pass over the whole input first).
  void linear_static(const RowMixedLinear& w, const ActQuant& act, const float* x, int64_t n_tokens,
                     const LinearPost& post, float* y) const override;
  // The integer kernels on the caller's int8 rows (no quantization pass), post fused into the epilogue.
  void linear_s8(const RowMixedLinear& w, const ActQuant& act, const int8_t* xq, float xstep, int64_t n_tokens,
                 const LinearPost& post, float* y) const override;
  // The reference ops split over OpenMP threads by token (or by head): identical results for any thread count.
  void layer_norm(const float* x, const float* residual, const float* gamma, const float* beta, float eps,
                  int64_t n_tokens, int64_t dim, float* y) const override;
  void gelu(float* x, int64_t n) const override;
  float quantize_activations(const float* x, int64_t n, const ActQuant& aq, int8_t* q) const override;
  void attention(const float* q, const float* k, const float* v, int64_t len, int64_t n_heads, int64_t head_dim,
                 float* out, const float* rel_bias = nullptr) const override;
  // Every (sequence, head) pair in one parallel region, taken dynamically: one region per layer instead of
  // one per sequence. Each head runs attention_head as above, so the same bits.
  void attention_batch(const float* q, const float* k, const float* v, const int64_t* offs, const int64_t* lens,
                       int64_t n_seqs, int64_t n_heads, int64_t head_dim, float* out,
                       const float* const* rel_bias) const override;

 private:
  void attention_one_head(const float* q, const float* k, const float* v, int64_t len, int64_t n_heads,
                          int64_t head_dim, int64_t h, float* out, const float* rel_bias) const;
  // The input of run_linears: float rows (quantized here, per token, with the layers' act) or int8 rows
  // already quantized with one step for every token (linear_s8).
  struct LinearIn {
    const float* x;
    const int8_t* q;
    float qstep;
    const PatchSource* patches = nullptr;  // instead of q: rows made on demand, with step qstep
  };
  // linear_driver.cc: every integer group's rows in tiles, over all tokens; fp32 groups through dnnl_sgemm.
  void run_linears(const RowMixedLinear* const* ws, size_t n, const LinearIn& in, int64_t n_tokens,
                   float* const* ys, bool gelu, const LinearPost& post) const;
  Isa isa_;
  bool exact_fp32_;
  bool amx_ = false;
  bool expand_ = false;
  GemmS8Fn gemm_;
  UnpackPanelFn unpack_;
  std::string name_;
};

}  // namespace rmsmp

// CpuBackend: construction, load-time preparation and the fp32 encoder ops. The linear layers' driver (tiles,
// schedules, epilogues) is linear_driver.cc.
#include "backends/cpu/cpu_backend.h"

#include <dnnl.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <mutex>
#include <set>
#include <vector>

#include "backends/cpu/isa/encoder_ops.h"
#include "backends/cpu/prepared.h"
#include "core/target_clones.h"
#include "rmsmp/error.h"

namespace rmsmp {

namespace {
GemmS8Fn gemm_for(Isa isa) {
  switch (isa) {
    case Isa::Generic: return gemm_s8_generic;
    case Isa::Avx2: return gemm_s8_avx2;
    case Isa::Avx512Vnni: return gemm_s8_avx512vnni;
  }
  return gemm_s8_generic;
}

UnpackPanelFn unpack_for(Isa isa) {
  switch (isa) {
    case Isa::Generic: return unpack_panel_generic;
    case Isa::Avx2: return unpack_panel_avx2;
    case Isa::Avx512Vnni: return unpack_panel_vnni;  // its kernel reads the VNNI panel layout (gemm_s8.h)
  }
  return unpack_panel_generic;
}

}  // namespace


namespace {
int expand_env() {  // RMSMP_CPU_EXPAND: -1 unset, else 0 or 1
  const char* e = std::getenv("RMSMP_CPU_EXPAND");
  return e && *e ? (std::string(e) == "0" ? 0 : 1) : -1;
}
}  // namespace

CpuBackend::CpuBackend(Isa isa, bool exact_fp32, bool amx, int expand)
    : isa_(isa),
      exact_fp32_(exact_fp32),
      amx_(amx && isa == Isa::Avx512Vnni),
      expand_([&] {  // the argument, else RMSMP_CPU_EXPAND, else with AMX (amx_ is set before)
        const int e = expand >= 0 ? expand : expand_env();
        return e >= 0 ? e == 1 : amx_;
      }()),
      gemm_(amx_ ? gemm_s8_amx : gemm_for(isa)),
      unpack_(unpack_for(isa)),
      name_(std::string("cpu:") + (amx_ ? "amx" : isa_name(isa)) + (exact_fp32 ? "-exact" : "")) {}

void CpuBackend::layer_norm(const float* x, const float* residual, const float* gamma, const float* beta, float eps,
                            int64_t n_tokens, int64_t dim, float* y) const {
  constexpr int64_t kChunk = 16;
  const bool simd = isa_ != Isa::Generic;
#pragma omp parallel for schedule(static) if (n_tokens > kChunk)
  for (int64_t t0 = 0; t0 < n_tokens; t0 += kChunk) {
    const int64_t nt = std::min(kChunk, n_tokens - t0);
    const float* r = residual ? residual + t0 * dim : nullptr;
    if (!simd) {
      ReferenceBackend::layer_norm(x + t0 * dim, r, gamma, beta, eps, nt, dim, y + t0 * dim);
      continue;
    }
    thread_local std::vector<float> scratch;  // grows to the widest layer seen, then stays
    if (scratch.size() < size_t(16 * dim)) scratch.resize(size_t(16 * dim));
    layer_norm_avx2(x + t0 * dim, r, gamma, beta, eps, nt, dim, y + t0 * dim, scratch.data());
  }
}

void CpuBackend::gelu(float* x, int64_t n) const {
  constexpr int64_t kChunk = 4096;
  const bool simd = isa_ != Isa::Generic;
#pragma omp parallel for schedule(static) if (n > kChunk)
  for (int64_t i0 = 0; i0 < n; i0 += kChunk) {
    if (isa_ == Isa::Avx512Vnni) gelu_avx512(x + i0, std::min(kChunk, n - i0));
    else if (simd) gelu_avx2(x + i0, std::min(kChunk, n - i0));
    else ReferenceBackend::gelu(x + i0, std::min(kChunk, n - i0));
  }
}

// Head h of one sequence (q/k/v/out at its first row), on the calling thread.
void CpuBackend::attention_one_head(const float* q, const float* k, const float* v, int64_t len, int64_t n_heads,
                                    int64_t head_dim, int64_t h, float* out, const float* rel_bias) const {
  const int64_t stride = n_heads * head_dim;
  const float* rb = rel_bias ? rel_bias + h * rel_bias_stride(len) : nullptr;
  if (isa_ == Isa::Generic) {
    attention_head(q + h * head_dim, k + h * head_dim, v + h * head_dim, len, stride, head_dim, out + h * head_dim, rb);
    return;
  }
  thread_local std::vector<float> scratch;  // grows to the longest sequence seen, then stays
  const size_t need = size_t(attention_scratch_floats(len, head_dim));
  if (scratch.size() < need) scratch.resize(need);
  (isa_ == Isa::Avx512Vnni ? attention_head_avx512 : attention_head_avx2)(
      q + h * head_dim, k + h * head_dim, v + h * head_dim, len, stride, head_dim, out + h * head_dim, scratch.data(),
      rb);
}

void CpuBackend::attention(const float* q, const float* k, const float* v, int64_t len, int64_t n_heads,
                           int64_t head_dim, float* out, const float* rel_bias) const {
#pragma omp parallel for schedule(static) if (len > 8)
  for (int64_t h = 0; h < n_heads; ++h) attention_one_head(q, k, v, len, n_heads, head_dim, h, out, rel_bias);
}

void CpuBackend::attention_batch(const float* q, const float* k, const float* v, const int64_t* offs,
                                 const int64_t* lens, int64_t n_seqs, int64_t n_heads, int64_t head_dim, float* out,
                                 const float* const* rel_bias) const {
  const int64_t H = n_heads * head_dim;
  int64_t tokens = 0;
  for (int64_t b = 0; b < n_seqs; ++b) tokens += lens[b];
#pragma omp parallel for schedule(dynamic) if (tokens > 8)
  for (int64_t i = 0; i < n_seqs * n_heads; ++i) {
    const int64_t b = i / n_heads, o = offs[b] * H;
    attention_one_head(q + o, k + o, v + o, lens[b], n_heads, head_dim, i % n_heads, out + o,
                       rel_bias ? rel_bias[b] : nullptr);
  }
}

std::shared_ptr<const PreparedLinear> CpuBackend::prepare(const RowMixedLinear& w) const {
  // RMSMP_CPU_PREPARE=0 keeps the per-call unpacking (A/B timing of the load-time layout; same results).
  static const bool off = [] {
    const char* e = std::getenv("RMSMP_CPU_PREPARE");
    return e && std::string(e) == "0";
  }();
  if (off || isa_ != Isa::Avx512Vnni || !w.has_integer_groups()) return nullptr;
  return cpu_prepare_vnni(w, !expand_4bit(), amx_);
}

bool CpuBackend::expand_4bit() const { return expand_; }

std::shared_ptr<const PreparedDepthwise> CpuBackend::prepare_depthwise(const int8_t* w, int64_t kh, int64_t kw,
                                                                       int64_t channels) const {
  if (isa_ == Isa::Avx2) return cpu_prepare_depthwise_avx2(w, kh, kw, channels);
  if (isa_ != Isa::Avx512Vnni) return nullptr;
  return cpu_prepare_depthwise_vnni(w, kh, kw, channels);
}

void CpuBackend::depthwise_acc_s8(const PreparedDepthwise& w, const int8_t* const* xs, int32_t* acc) const {
  // Only layouts this backend prepared reach here (backend.h), so the ISA says which.
  if (isa_ == Isa::Avx2) return depthwise_acc_s8_avx2(static_cast<const CpuPreparedDepthwiseAvx2&>(w), xs, acc);
  depthwise_acc_s8_vnni(static_cast<const CpuPreparedDepthwise&>(w), xs, acc);
}

uint32_t CpuBackend::depthwise_row_s8(const PreparedDepthwise& w, const DepthwiseRow& r) const {
  // RMSMP_CPU_DW_ROW=0: the per-pixel default (A/B timing; same results).
  static const bool off = [] {
    const char* e = std::getenv("RMSMP_CPU_DW_ROW");
    return e && std::string(e) == "0";
  }();
  if (off || isa_ == Isa::Avx2) return Backend::depthwise_row_s8(w, r);  // AVX2: per pixel, the shared epilogue
  const auto& p = static_cast<const CpuPreparedDepthwise&>(w);  // only ours reach here (backend.h)
  return depthwise_row_vnni(p, r);
}

std::string CpuBackend::kernel_name(const RowMixedLinear& w, const RowGroup& g) const {
  (void)w;
  if (g.kind == QuantKind::F32) return exact_fp32_ ? "exact fp32 rows (the reference's order)" : "dnnl_sgemm";
  std::string s = std::string("gemm_s8_") + isa_name(isa_);
  if (isa_ == Isa::Avx512Vnni) {
    const bool nibbles = quant_scheme(g.kind).values_per_byte == 2 && !expand_;
    s += nibbles ? " (prepared at load, 4-bit kept as nibbles)" : " (prepared at load as bytes)";
    if (amx_) s += ", AMX tiles from 16 tokens";
  } else {
    s += " (file rows unpacked per panel)";
  }
  return s;
}

void CpuBackend::linear(const RowMixedLinear& w, const float* x, int64_t n_tokens, float* y) const {
  const RowMixedLinear* ws[1] = {&w};
  float* ys[1] = {y};
  run_linears(ws, 1, LinearIn{x, nullptr, 0.f}, n_tokens, ys, false, LinearPost{});
}

void CpuBackend::linear_s8(const RowMixedLinear& w, const ActQuant& act, const int8_t* xq, float xstep,
                           int64_t n_tokens, const LinearPost& post, float* y) const {
  if (!w.all_integer_groups()) return Backend::linear_s8(w, act, xq, xstep, n_tokens, post, y);
  const RowMixedLinear* ws[1] = {&w};
  float* ys[1] = {y};
  run_linears(ws, 1, LinearIn{nullptr, xq, xstep}, n_tokens, ys, false, post);
}

void CpuBackend::linear_patches(const RowMixedLinear& w, const ActQuant& act, const PatchSource& src, float xstep,
                                int64_t n_tokens, const LinearPost& post, float* y) const {
  if (!w.all_integer_groups()) return Backend::linear_patches(w, act, src, xstep, n_tokens, post, y);
  const RowMixedLinear* ws[1] = {&w};
  float* ys[1] = {y};
  run_linears(ws, 1, LinearIn{nullptr, nullptr, xstep, &src}, n_tokens, ys, false, post);
}

void CpuBackend::linear_static(const RowMixedLinear& w, const ActQuant& act, const float* x, int64_t n_tokens,
                               const LinearPost& post, float* y) const {
  if (!w.all_integer_groups() || act.dynamic) return Backend::linear_static(w, act, x, n_tokens, post, y);
  RowMixedLinear lq = w;  // a view with the caller's quantizer (no weight copy)
  lq.act = act;
  const RowMixedLinear* ws[1] = {&lq};
  float* ys[1] = {y};
  run_linears(ws, 1, LinearIn{x, nullptr, 0.f}, n_tokens, ys, false, post);
}

void CpuBackend::linear_gelu(const RowMixedLinear& w, const float* x, int64_t n_tokens, float* y) const {
  for (const RowGroup& g : w.groups)
    if (g.kind == QuantKind::F32) {  // fp32 rows bypass the integer epilogue: linear, then the separate pass
      linear(w, x, n_tokens, y);
      gelu(y, n_tokens * w.rows);
      return;
    }
  const RowMixedLinear* ws[1] = {&w};
  float* ys[1] = {y};
  run_linears(ws, 1, LinearIn{x, nullptr, 0.f}, n_tokens, ys, true, LinearPost{});
}

void CpuBackend::linear_multi(const RowMixedLinear* const* ws, size_t n, const float* x, int64_t n_tokens,
                              float* const* ys) const {
  run_linears(ws, n, LinearIn{x, nullptr, 0.f}, n_tokens, ys, false, LinearPost{});
}

namespace {
// The same q: for the AVX-512 backend, the k-register version (masked adds instead of compare-to-vector
// arithmetic, about 2/3 of the instructions of the vector-extension clone); CNNs quantize every conv input here.
void quantize_static(const float* x, int64_t n, float inv, int max_q, int8_t* q, Isa isa) {
  if (isa == Isa::Avx512Vnni) quantize_scaled_avx512(x, n, inv, max_q, q);
  else if (isa == Isa::Avx2) quantize_scaled_avx2(x, n, inv, max_q, q);
  else quantize_scaled(x, n, inv, max_q, q);  // the target_clones version (backend.h)
}
}  // namespace

float act_quantize_static(const float* x, int64_t n, const ActQuant& aq, int8_t* q, Isa isa) {
  const int max_q = act_max_q(aq);
  if (!(aq.clip > 0.f)) {
    std::memset(q, 0, size_t(n));
    return 0.f;
  }
  const float step = aq.clip / float(max_q), inv = 1.f / step;
  quantize_static(x, n, inv, max_q, q, isa);
  return step;
}

float CpuBackend::quantize_activations(const float* x, int64_t n, const ActQuant& aq, int8_t* q) const {
  if (isa_ == Isa::Generic) return act_quantize_row(x, n, aq, q);
  if (aq.dynamic) {  // the range needs the whole tensor's max first: one pass
    if (isa_ == Isa::Avx512Vnni) return act_quantize_row_avx512(x, n, aq, q);
    thread_local std::vector<uint8_t> qu;  // the +128 copy the GEMM path uses; unused here
    if (qu.size() < size_t(n)) qu.resize(size_t(n));
    return act_quantize_row_avx2(x, n, aq, q, qu.data());
  }
  // A static clip fixes the step (as act_quantize_row computes it), so chunks quantize independently: the
  // same values as one pass, for any thread count.
  const int max_q = act_max_q(aq);
  if (!(aq.clip > 0.f)) {
    std::memset(q, 0, size_t(n));
    return 0.f;
  }
  const float step = aq.clip / float(max_q), inv = 1.f / step;
  constexpr int64_t kChunk = 16384;
  const Isa isa = isa_;
#pragma omp parallel for schedule(static) if (n > 4 * kChunk)
  for (int64_t i0 = 0; i0 < n; i0 += kChunk) quantize_static(x + i0, std::min(kChunk, n - i0), inv, max_q, q + i0, isa);
  return step;
}

}  // namespace rmsmp

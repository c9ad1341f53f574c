// CpuBackend::linear. fp32 groups: dnnl_sgemm into a scratch, scattered through perm. Integer groups: the
// prepared int8 rows multiplied by the ISA kernel in tiles of kRowTile rows spread over OpenMP threads, then the
// shared epilogue. Each output is computed by one thread in a fixed order, so results do not depend on the
// thread count.
#include "backends/cpu/cpu_backend.h"

#include <dnnl.h>

#include <cstdlib>
#include <cstring>
#include <iostream>

#include "rmsmp/error.h"

namespace rmsmp {

namespace {
constexpr int64_t kRowTile = 32;

GemmS8Fn gemm_for(Isa isa) {
  switch (isa) {
    case Isa::Generic: return gemm_s8_generic;
    case Isa::Avx2: return gemm_s8_avx2;
    case Isa::Avx512Vnni: return gemm_s8_avx512vnni;
  }
  return gemm_s8_generic;
}

bool verbose_dispatch() {
  static const bool v = [] {
    const char* e = std::getenv("RMSMP_VERBOSE");
    return e && std::strstr(e, "dispatch") != nullptr;
  }();
  return v;
}
}  // namespace


CpuBackend::CpuBackend(Isa isa) : isa_(isa), gemm_(gemm_for(isa)), name_(std::string("cpu:") + isa_name(isa)) {}

const CpuBackend::PreparedGroup& CpuBackend::prepared(const RowMixedLinear& w, const RowGroup& g) const {
  {
    std::shared_lock<std::shared_mutex> lock(mu_);
    auto it = cache_.find(g.codes);
    if (it != cache_.end()) return *it->second;
  }
  auto p = std::make_unique<PreparedGroup>();
  const int64_t K = w.cols;
  p->k_padded = (K + kGemmKAlign - 1) / kGemmKAlign * kGemmKAlign;
  p->w.assign(size_t(g.rows * p->k_padded), 0);
  p->w_sum.assign(size_t(g.rows), 0);
  const QuantScheme& s = quant_scheme(g.kind);
  const size_t rb = quant_row_bytes(g.kind, K);
  for (int64_t j = 0; j < g.rows; ++j) {
    int8_t* row = p->w.data() + j * p->k_padded;
    s.unpack_row(g.codes + size_t(j) * rb, K, row);
    int32_t sum = 0;
    for (int64_t k = 0; k < K; ++k) sum += row[k];
    p->w_sum[size_t(j)] = sum;
  }
  if (verbose_dispatch())
    std::cerr << "[rmsmp] dispatch " << w.name << ": " << s.name << " x " << g.rows << " rows, K " << K
              << " -> gemm_s8_" << isa_name(isa_) << "\n";
  std::unique_lock<std::shared_mutex> lock(mu_);
  auto [it, inserted] = cache_.emplace(g.codes, std::move(p));
  return *it->second;
}

void CpuBackend::layer_norm(const float* x, const float* residual, const float* gamma, const float* beta, float eps,
                            int64_t n_tokens, int64_t dim, float* y) const {
  constexpr int64_t kChunk = 16;
#pragma omp parallel for schedule(static) if (n_tokens > kChunk)
  for (int64_t t0 = 0; t0 < n_tokens; t0 += kChunk)
    ReferenceBackend::layer_norm(x + t0 * dim, residual ? residual + t0 * dim : nullptr, gamma, beta, eps,
                                 std::min(kChunk, n_tokens - t0), dim, y + t0 * dim);
}

void CpuBackend::gelu(float* x, int64_t n) const {
  constexpr int64_t kChunk = 4096;
#pragma omp parallel for schedule(static) if (n > kChunk)
  for (int64_t i0 = 0; i0 < n; i0 += kChunk) ReferenceBackend::gelu(x + i0, std::min(kChunk, n - i0));
}

void CpuBackend::attention(const float* q, const float* k, const float* v, int64_t len, int64_t n_heads,
                           int64_t head_dim, float* out) const {
  const int64_t stride = n_heads * head_dim;
#pragma omp parallel for schedule(static) if (len > 8)
  for (int64_t h = 0; h < n_heads; ++h)
    attention_head(q + h * head_dim, k + h * head_dim, v + h * head_dim, len, stride, head_dim, out + h * head_dim);
}

void CpuBackend::linear(const RowMixedLinear& w, const float* x, int64_t n_tokens, float* y) const {
  const int64_t K = w.cols, N = w.rows, T = n_tokens;
  std::vector<int8_t> xq, xpad;
  std::vector<float> xstep;
  act_quantize_layer_input(w, x, n_tokens, xq, xstep);
  int64_t off = 0;
  for (const RowGroup& g : w.groups) {
    const int32_t* perm = w.perm + off;
    off += g.rows;
    if (g.rows == 0) continue;
    if (g.kind == QuantKind::F32) {
      if (verbose_dispatch() && T > 0) {
        static std::once_flag once;
        std::call_once(once, [] { std::cerr << "[rmsmp] dispatch fp32 groups -> dnnl_sgemm\n"; });
      }
      std::vector<float> tmp(size_t(T * g.rows));
      dnnl_status_t st = dnnl_sgemm('N', 'T', T, g.rows, K, 1.f, x, K, reinterpret_cast<const float*>(g.codes), K, 0.f,
                                    tmp.data(), g.rows);
      RMSMP_CHECK(st == dnnl_success, ErrorCode::Internal, "dnnl_sgemm failed with status " << int(st));
      for (int64_t t = 0; t < T; ++t)
        for (int64_t j = 0; j < g.rows; ++j) y[t * N + perm[j]] = tmp[t * g.rows + j] + (w.bias ? w.bias[perm[j]] : 0.f);
      continue;
    }
    const PreparedGroup& pg = prepared(w, g);
    const int64_t Kp = pg.k_padded;
    if (xpad.empty()) {  // activations padded once per layer, shared by its integer groups
      xpad.assign(size_t(T * Kp), 0);
      for (int64_t t = 0; t < T; ++t) std::memcpy(xpad.data() + t * Kp, xq.data() + t * K, size_t(K));
    }
    std::vector<int32_t> acc(size_t(T * g.rows));
    const int64_t n_tiles = (g.rows + kRowTile - 1) / kRowTile;
#pragma omp parallel for schedule(static)
    for (int64_t tile = 0; tile < n_tiles; ++tile) {
      const int64_t j0 = tile * kRowTile, nj = std::min(kRowTile, g.rows - j0);
      gemm_(GemmS8Args{xpad.data(), T, pg.w.data() + j0 * Kp, pg.w_sum.data() + j0, nj, Kp, acc.data() + j0, g.rows});
      for (int64_t t = 0; t < T; ++t)
        for (int64_t j = j0; j < j0 + nj; ++j) {
          const int32_t r = perm[j];
          y[t * N + r] = rowq_epilogue(acc[size_t(t * g.rows + j)], xstep[size_t(t)], g.steps[j], w.bias ? w.bias[r] : 0.f);
        }
    }
  }
}

}  // namespace rmsmp

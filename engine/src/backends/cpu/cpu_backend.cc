// CpuBackend::linear. fp32 groups: dnnl_sgemm into a scratch, scattered through perm. Integer groups: one
// OpenMP loop over tiles of kRowTile stored rows from every group; a tile unpacks its packed rows into a
// thread-local panel, multiplies it by all tokens with the ISA kernel and applies the shared epilogue (scales,
// bias) straight into y. Each output is computed by one thread in a fixed order, so results do not depend on
// the thread count.
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

UnpackPanelFn unpack_for(Isa isa) { return isa == Isa::Generic ? unpack_panel_generic : unpack_panel_avx2; }

bool verbose_dispatch() {
  static const bool v = [] {
    const char* e = std::getenv("RMSMP_VERBOSE");
    return e && std::strstr(e, "dispatch") != nullptr;
  }();
  return v;
}
}  // namespace


CpuBackend::CpuBackend(Isa isa)
    : isa_(isa), gemm_(gemm_for(isa)), unpack_(unpack_for(isa)), name_(std::string("cpu:") + isa_name(isa)) {}

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
  const bool simd = isa_ != Isa::Generic;
#pragma omp parallel for schedule(static) if (n > kChunk)
  for (int64_t i0 = 0; i0 < n; i0 += kChunk) {
    if (simd) gelu_avx2(x + i0, std::min(kChunk, n - i0));
    else ReferenceBackend::gelu(x + i0, std::min(kChunk, n - i0));
  }
}

void CpuBackend::attention(const float* q, const float* k, const float* v, int64_t len, int64_t n_heads,
                           int64_t head_dim, float* out) const {
  const int64_t stride = n_heads * head_dim;
  const bool simd = isa_ != Isa::Generic;
#pragma omp parallel for schedule(static) if (len > 8)
  for (int64_t h = 0; h < n_heads; ++h) {
    if (!simd) {
      attention_head(q + h * head_dim, k + h * head_dim, v + h * head_dim, len, stride, head_dim, out + h * head_dim);
      continue;
    }
    thread_local std::vector<float> scratch;  // grows to the longest sequence seen, then stays
    const size_t need = size_t((len + 8) * (head_dim + 8) + 8);
    if (scratch.size() < need) scratch.resize(need);
    attention_head_avx2(q + h * head_dim, k + h * head_dim, v + h * head_dim, len, stride, head_dim, out + h * head_dim,
                        scratch.data());
  }
}

void CpuBackend::linear(const RowMixedLinear& w, const float* x, int64_t n_tokens, float* y) const {
  const int64_t K = w.cols, N = w.rows, T = n_tokens;
  const int64_t Kp = (K + kGemmKAlign - 1) / kGemmKAlign * kGemmKAlign;
  // Per calling thread, reused across calls (no allocation in steady state).
  thread_local std::vector<int8_t> xq, xpad;
  thread_local std::vector<uint8_t> xu;
  thread_local std::vector<float> xstep, tmp, ys;
  act_quantize_layer_input(w, x, n_tokens, xq, xstep);

  struct Tile {
    const RowGroup* g;
    int64_t j0, nj;
  };
  std::vector<Tile> tiles;
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
      tmp.resize(size_t(T * g.rows));
      dnnl_status_t st = dnnl_sgemm('N', 'T', T, g.rows, K, 1.f, x, K, reinterpret_cast<const float*>(g.codes), K, 0.f,
                                    tmp.data(), g.rows);
      RMSMP_CHECK(st == dnnl_success, ErrorCode::Internal, "dnnl_sgemm failed with status " << int(st));
      for (int64_t t = 0; t < T; ++t)
        for (int64_t j = 0; j < g.rows; ++j) y[t * N + perm[j]] = tmp[t * g.rows + j] + (w.bias ? w.bias[perm[j]] : 0.f);
      continue;
    }
    if (verbose_dispatch()) {
      static std::mutex mu;
      std::lock_guard<std::mutex> lock(mu);
      static std::set<std::string> seen;
      if (seen.insert(w.name + quant_scheme(g.kind).name).second)
        std::cerr << "[rmsmp] dispatch " << w.name << ": " << quant_scheme(g.kind).name << " x " << g.rows
                  << " rows, K " << K << " -> gemm_s8_" << isa_name(isa_) << " (panels of " << kRowTile << " rows)\n";
    }
    for (int64_t j0 = 0; j0 < g.rows; j0 += kRowTile) tiles.push_back({&g, j0, std::min(kRowTile, g.rows - j0)});
  }
  if (tiles.empty() || T == 0) return;

  // One parallel region: activations padded (signed and +128 copies, shared by all integer groups), then the
  // tiles, each writing its rows' outputs contiguously in stored order (ys), then the scatter to original row
  // order by token. Writing y through perm from the tiles directly would make threads share cache lines.
  xpad.resize(size_t(T * Kp));
  xu.resize(size_t(T * Kp));
  ys.resize(size_t(T * N));
  int8_t* xp = xpad.data();
  uint8_t* xup = xu.data();
  float* ysp = ys.data();
  const int8_t* xqp = xq.data();
  const float* xs = xstep.data();
  std::vector<int64_t> group_off(w.groups.size());
  for (size_t gi = 0, o = 0; gi < w.groups.size(); o += size_t(w.groups[gi].rows), ++gi) group_off[gi] = int64_t(o);
#pragma omp parallel
  {
#pragma omp for schedule(static)
    for (int64_t t = 0; t < T; ++t) {
      std::memcpy(xp + t * Kp, xqp + t * K, size_t(K));
      std::memset(xp + t * Kp + K, 0, size_t(Kp - K));
      for (int64_t k = 0; k < K; ++k) xup[t * Kp + k] = uint8_t(xqp[t * K + k] ^ 0x80);  // q + 128
      std::memset(xup + t * Kp + K, 128, size_t(Kp - K));
    }
#pragma omp for schedule(dynamic, 1)
    for (size_t i = 0; i < tiles.size(); ++i) {
      const Tile& tl = tiles[i];
      const RowGroup& g = *tl.g;
      thread_local std::vector<int8_t> panel;
      thread_local std::vector<int32_t> w_sum, acc;
      panel.resize(size_t(kRowTile * Kp));
      w_sum.resize(size_t(kRowTile));
      acc.resize(size_t(T * kRowTile));
      const size_t rb = quant_row_bytes(g.kind, K);
      unpack_(g.kind, g.codes + size_t(tl.j0) * rb, rb, tl.nj, K, Kp, panel.data(), w_sum.data());
      gemm_(GemmS8Args{xp, xup, T, panel.data(), w_sum.data(), tl.nj, Kp, quant_scheme(g.kind).max_q, acc.data(), tl.nj});
      const int64_t s0 = group_off[size_t(tl.g - w.groups.data())] + tl.j0;  // stored index of the tile's first row
      for (int64_t t = 0; t < T; ++t)
        for (int64_t j = 0; j < tl.nj; ++j) {
          const int32_t r = w.perm[s0 + j];
          ysp[t * N + s0 + j] = rowq_epilogue(acc[size_t(t * tl.nj + j)], xs[t], g.steps[tl.j0 + j], w.bias ? w.bias[r] : 0.f);
        }
    }
#pragma omp for schedule(static)
    for (int64_t t = 0; t < T; ++t) {
      int64_t s = 0;
      for (const RowGroup& g : w.groups) {
        if (g.kind != QuantKind::F32)  // fp32 groups were written to y by dnnl_sgemm above
          for (int64_t j = 0; j < g.rows; ++j) y[t * N + w.perm[s + j]] = ysp[t * N + s + j];
        s += g.rows;
      }
    }
  }
}

}  // namespace rmsmp

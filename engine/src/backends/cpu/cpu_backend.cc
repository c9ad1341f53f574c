// CpuBackend::linear. fp32 groups: dnnl_sgemm into a scratch, scattered through perm. Integer groups: rows
// unpacked to int8 in tiles of kRowTile, int32 dots (exactly the reference's integers), the shared epilogue.
// Tiles are spread over OpenMP threads; each output element is computed by one thread in a fixed order, so
// results do not depend on the thread count.
#include "backends/cpu/cpu_backend.h"

#include <dnnl.h>

#include <stdexcept>
#include <vector>

#include "rmsmp/error.h"

namespace rmsmp {

namespace {
constexpr int64_t kRowTile = 32;

// GCC clones this for AVX2 and baseline x86-64 and picks one at load time (ifunc); each clone is
// auto-vectorised. Integer sums are exact, so every clone gives identical results.
__attribute__((target_clones("avx2", "default")))
int32_t dot_i8(const int8_t* a, const int8_t* b, int64_t n) {
  int32_t acc = 0;
  for (int64_t i = 0; i < n; ++i) acc += int32_t(a[i]) * int32_t(b[i]);
  return acc;
}
}  // namespace

std::unique_ptr<Backend> make_backend(const std::string& name) {
  if (name == "cpu") return std::make_unique<CpuBackend>();
  if (name == "reference") return std::make_unique<ReferenceBackend>();
  throw std::invalid_argument("unknown backend '" + name + "' (known: cpu, reference)");
}

void CpuBackend::linear(const RowMixedLinear& w, const float* x, int64_t n_tokens, float* y) const {
  const int64_t K = w.cols, N = w.rows, T = n_tokens;
  std::vector<int8_t> xq;
  std::vector<float> xstep;
  act_quantize_layer_input(w, x, n_tokens, xq, xstep);
  int64_t off = 0;
  for (const RowGroup& g : w.groups) {
    const int32_t* perm = w.perm + off;
    if (g.kind == QuantKind::F32) {
      std::vector<float> tmp(size_t(T * g.rows));
      dnnl_status_t st = dnnl_sgemm('N', 'T', T, g.rows, K, 1.f, x, K, reinterpret_cast<const float*>(g.codes), K, 0.f,
                                    tmp.data(), g.rows);
      RMSMP_CHECK(st == dnnl_success, ErrorCode::Internal, "dnnl_sgemm failed with status " << int(st));
      for (int64_t t = 0; t < T; ++t)
        for (int64_t j = 0; j < g.rows; ++j) y[t * N + perm[j]] = tmp[t * g.rows + j] + (w.bias ? w.bias[perm[j]] : 0.f);
    } else {
      const QuantScheme& s = quant_scheme(g.kind);
      const size_t rb = quant_row_bytes(g.kind, K);
      const int64_t n_tiles = (g.rows + kRowTile - 1) / kRowTile;
#pragma omp parallel
      {
        std::vector<int8_t> wq(size_t(kRowTile * K));
#pragma omp for schedule(static)
        for (int64_t tile = 0; tile < n_tiles; ++tile) {
          const int64_t j0 = tile * kRowTile, nj = std::min(kRowTile, g.rows - j0);
          for (int64_t j = 0; j < nj; ++j) s.unpack_row(g.codes + size_t(j0 + j) * rb, K, wq.data() + j * K);
          for (int64_t t = 0; t < T; ++t) {
            const int8_t* xt = xq.data() + t * K;
            for (int64_t j = 0; j < nj; ++j) {
              const int32_t r = perm[j0 + j];
              y[t * N + r] = rowq_epilogue(dot_i8(wq.data() + j * K, xt, K), xstep[t], g.steps[j0 + j],
                                           w.bias ? w.bias[r] : 0.f);
            }
          }
        }
      }
    }
    off += g.rows;
  }
}

}  // namespace rmsmp

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
#include "backends/cpu/prepared.h"
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

UnpackPanelFn unpack_for(Isa isa) {
  switch (isa) {
    case Isa::Generic: return unpack_panel_generic;
    case Isa::Avx2: return unpack_panel_avx2;
    case Isa::Avx512Vnni: return unpack_panel_vnni;  // its kernel reads the VNNI panel layout (gemm_s8.h)
  }
  return unpack_panel_generic;
}

bool verbose_dispatch() {
  static const bool v = [] {
    const char* e = std::getenv("RMSMP_VERBOSE");
    return e && std::strstr(e, "dispatch") != nullptr;
  }();
  return v;
}
}  // namespace


CpuBackend::CpuBackend(Isa isa, bool exact_fp32)
    : isa_(isa),
      exact_fp32_(exact_fp32),
      gemm_(gemm_for(isa)),
      unpack_(unpack_for(isa)),
      name_(std::string("cpu:") + isa_name(isa) + (exact_fp32 ? "-exact" : "")) {}

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
    const size_t need = size_t(attention_scratch_floats(len, head_dim));
    if (scratch.size() < need) scratch.resize(need);
    (isa_ == Isa::Avx512Vnni ? attention_head_avx512 : attention_head_avx2)(
        q + h * head_dim, k + h * head_dim, v + h * head_dim, len, stride, head_dim, out + h * head_dim, scratch.data());
  }
}

std::shared_ptr<const PreparedLinear> CpuBackend::prepare(const RowMixedLinear& w) const {
  // RMSMP_CPU_PREPARE=0 keeps the per-call unpacking (A/B timing of the load-time layout; same results).
  static const bool off = [] {
    const char* e = std::getenv("RMSMP_CPU_PREPARE");
    return e && std::string(e) == "0";
  }();
  if (off || isa_ != Isa::Avx512Vnni || !w.has_integer_groups()) return nullptr;
  return cpu_prepare_vnni(w);
}

void CpuBackend::linear(const RowMixedLinear& w, const float* x, int64_t n_tokens, float* y) const {
  const RowMixedLinear* ws[1] = {&w};
  float* ys[1] = {y};
  run_linears(ws, 1, x, n_tokens, ys, false);
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
  run_linears(ws, 1, x, n_tokens, ys, true);
}

void CpuBackend::linear_multi(const RowMixedLinear* const* ws, size_t n, const float* x, int64_t n_tokens,
                              float* const* ys) const {
  run_linears(ws, n, x, n_tokens, ys, false);
}

void CpuBackend::run_linears(const RowMixedLinear* const* ws, size_t n, const float* x, int64_t n_tokens,
                             float* const* ys, bool gelu) const {
  if (n == 0) return;
  // The input is quantized once for all layers, so they must agree on width and activation quantization
  // (q/k/v of a BERT layer do: they share their input and its calibration); otherwise one at a time.
  for (size_t l = 1; l < n; ++l) {
    const ActQuant &a = ws[0]->act, &b = ws[l]->act;
    if (ws[l]->cols != ws[0]->cols || a.bits != b.bits || a.dynamic != b.dynamic || a.clip != b.clip) {
      for (size_t m = 0; m < n; ++m) run_linears(&ws[m], 1, x, n_tokens, &ys[m], gelu);
      return;
    }
  }
  const int64_t K = ws[0]->cols, T = n_tokens;
  const int64_t Kp = (K + kGemmKAlign - 1) / kGemmKAlign * kGemmKAlign;
  const ActQuant act = ws[0]->act;

  struct Tile {
    size_t layer;
    const RowGroup* g;
    const CpuPreparedLinear::Group* pg;  // this backend's prepared rows of g, or null (unpack per call)
    int64_t stored0;  // stored index of the group's first row in its layer
    int64_t j0, nj;
  };
  // Per calling thread, reused across calls. NB: inside the parallel region below, a thread_local named there
  // would be the worker's own (empty) instance, so the region only uses pointers taken before it.
  thread_local std::vector<Tile> tiles;
  thread_local std::vector<int64_t> ys_off;  // stored-order outputs of every layer, one buffer
  tiles.clear();
  ys_off.assign(n + 1, 0);
  for (size_t l = 0; l < n; ++l) {
    const RowMixedLinear& w = *ws[l];
    ys_off[l + 1] = ys_off[l] + T * w.rows;
    const auto* prep = dynamic_cast<const CpuPreparedLinear*>(w.prepared.get());
    if (prep && (prep->isa != isa_ || prep->groups.size() != w.groups.size())) prep = nullptr;  // not ours
    int64_t off = 0;
    for (size_t gi = 0; gi < w.groups.size(); ++gi) {
      const RowGroup& g = w.groups[gi];
      const int64_t stored0 = off;
      off += g.rows;
      if (g.rows == 0) continue;
      if (g.kind == QuantKind::F32) {
        if (verbose_dispatch() && T > 0) {
          static std::once_flag once;
          std::call_once(once, [] { std::cerr << "[rmsmp] dispatch fp32 groups -> dnnl_sgemm\n"; });
        }
        thread_local std::vector<float> tmp;
        tmp.resize(size_t(T * g.rows));
        const float* wf = reinterpret_cast<const float*>(g.codes);
        if (exact_fp32_) {
          float* tp = tmp.data();
          const Isa isa = isa_;
          // Blocks of 64 rows over the threads; each output is one lane's chain, so any split gives the same bits.
#pragma omp parallel for schedule(static)
          for (int64_t r0 = 0; r0 < g.rows; r0 += 64) {
            const int64_t nr = std::min<int64_t>(64, g.rows - r0);
            std::vector<float> xt(size_t(K * 16 + 16));
            if (isa == Isa::Avx512Vnni) linear_f32_exact_avx512(x, T, K, wf + r0 * K, nr, tp + r0, g.rows, xt.data());
            else if (isa == Isa::Avx2) linear_f32_exact_avx2(x, T, K, wf + r0 * K, nr, tp + r0, g.rows, xt.data());
            else
              for (int64_t t = 0; t < T; ++t)
                for (int64_t r = r0; r < r0 + nr; ++r) {
                  float acc = 0.f;
                  for (int64_t k = 0; k < K; ++k) acc += x[t * K + k] * wf[r * K + k];
                  tp[t * g.rows + r] = acc;
                }
          }
        } else {
          dnnl_status_t st = dnnl_sgemm('N', 'T', T, g.rows, K, 1.f, x, K, wf, K, 0.f, tmp.data(), g.rows);
          RMSMP_CHECK(st == dnnl_success, ErrorCode::Internal, "dnnl_sgemm failed with status " << int(st));
        }
        const int32_t* perm = w.perm + stored0;
        for (int64_t t = 0; t < T; ++t)
          for (int64_t j = 0; j < g.rows; ++j)
            ys[l][t * w.rows + perm[j]] = tmp[size_t(t * g.rows + j)] + (w.bias ? w.bias[perm[j]] : 0.f);
        continue;
      }
      if (verbose_dispatch()) {
        static std::mutex mu;
        std::lock_guard<std::mutex> lock(mu);
        static std::set<std::string> seen;
        if (seen.insert(w.name + quant_scheme(g.kind).name).second)
          std::cerr << "[rmsmp] dispatch " << w.name << ": " << quant_scheme(g.kind).name << " x " << g.rows
                    << " rows, K " << K << " -> gemm_s8_" << isa_name(isa_) << " (panels of " << kRowTile
                    << " rows" << (prep ? ", prepared at load" : ", unpacked per call")
                    << (n > 1 ? ", fused with the other layers of this input" : "") << ")\n";
      }
      for (int64_t j0 = 0; j0 < g.rows; j0 += kRowTile) tiles.push_back({l, &g, prep ? &prep->groups[gi] : nullptr, stored0, j0, std::min(kRowTile, g.rows - j0)});
    }
  }
  if (tiles.empty() || T == 0) return;

  // Per calling thread, reused across calls (no allocation in steady state); see the NB above.
  thread_local std::vector<int8_t> xpad;
  thread_local std::vector<uint8_t> xu;
  thread_local std::vector<float> xstep, ysto;
  thread_local std::vector<int32_t> xsum;
  xpad.resize(size_t(T * Kp));
  xu.resize(size_t(T * Kp));
  xstep.resize(size_t(T));
  xsum.resize(size_t(T));
  ysto.resize(size_t(ys_off[n]));
  int8_t* xp = xpad.data();
  uint8_t* xup = xu.data();
  float* xs = xstep.data();
  int32_t* xsm = xsum.data();
  float* yst = ysto.data();
  const Tile* tile_list = tiles.data();
  const size_t n_tiles = tiles.size();
  const int64_t* yoff = ys_off.data();
  const bool simd = isa_ != Isa::Generic, need_xsum = isa_ == Isa::Avx512Vnni;
  // One parallel region: per token, quantize the input into its padded signed and +128 copies; then the tiles,
  // each writing its rows' outputs as one contiguous T x nj block (layer l's block of stored rows [s0, s0 + nj)
  // starts at ysto[yoff[l] + s0 * T]); then the scatter to original row order by token. Writing y through perm
  // from the tiles directly would make threads share cache lines; writing ysto token-major made every tile
  // store 128-byte pieces of T rows far apart (store misses took ~70% of the epilogue).
#pragma omp parallel
  {
#pragma omp for schedule(static)
    for (int64_t t = 0; t < T; ++t) {
      int8_t* qrow = xp + t * Kp;
      uint8_t* urow = xup + t * Kp;
      if (simd) {
        xs[t] = act_quantize_row_avx2(x + t * K, K, act, qrow, urow);
      } else {
        xs[t] = act_quantize_row(x + t * K, K, act, qrow);
        for (int64_t k = 0; k < K; ++k) urow[k] = uint8_t(qrow[k] ^ 0x80);  // q + 128
      }
      std::memset(qrow + K, 0, size_t(Kp - K));
      std::memset(urow + K, 128, size_t(Kp - K));
      if (need_xsum) {  // only the VNNI kernel's compensation reads it
        int32_t sum = 0;
        for (int64_t k = 0; k < K; ++k) sum += qrow[k];
        xsm[t] = sum;
      }
    }
#pragma omp for schedule(dynamic, 1)
    for (size_t i = 0; i < n_tiles; ++i) {
      const Tile& tl = tile_list[i];
      const RowMixedLinear& w = *ws[tl.layer];
      const RowGroup& g = *tl.g;
      thread_local std::vector<int8_t> panel;
      thread_local std::vector<int32_t> w_sum, acc;
      thread_local std::vector<float> bias;
      panel.resize(size_t(kRowTile * Kp));
      w_sum.resize(size_t(kRowTile));
      acc.resize(size_t(T * kRowTile));
      bias.resize(size_t(kRowTile));
      const int8_t* wpanel = panel.data();
      if (tl.pg) {  // prepared at load (VNNI layout): 8-bit blocks are the panel, 4-bit ones expand by vpshufb
        const uint8_t* src = tl.pg->data.get() + (tl.j0 / 16) * tl.pg->block_bytes;  // j0 is a multiple of 32
        if (tl.pg->nibbles)
          expand_panel_vnni4(src, (tl.nj + 15) / 16, Kp, tl.pg->lut, reinterpret_cast<uint8_t*>(panel.data()));
        else
          wpanel = reinterpret_cast<const int8_t*>(src);
      } else {
        const size_t rb = quant_row_bytes(g.kind, K);
        unpack_(g.kind, g.codes + size_t(tl.j0) * rb, rb, tl.nj, K, Kp, panel.data(), w_sum.data());
      }
      gemm_(GemmS8Args{xp, xup, T, wpanel, w_sum.data(), xsm, tl.nj, Kp, quant_scheme(g.kind).max_q, acc.data(),
                       tl.nj});
      const int64_t s0 = tl.stored0 + tl.j0;  // stored index of the tile's first row
      for (int64_t j = 0; j < tl.nj; ++j) bias[size_t(j)] = w.bias ? w.bias[w.perm[s0 + j]] : 0.f;
      float* out = yst + yoff[tl.layer] + s0 * T;  // the tile's own T x nj block (see the scatter)
      if (simd) {
        epilogue_avx2(acc.data(), T, tl.nj, xs, g.steps + tl.j0, bias.data(), out, tl.nj);
        if (gelu) (isa_ == Isa::Avx512Vnni ? gelu_avx512 : gelu_avx2)(out, T * tl.nj);
      } else {
        for (int64_t t = 0; t < T; ++t)
          for (int64_t j = 0; j < tl.nj; ++j)
            out[t * tl.nj + j] = rowq_epilogue(acc[size_t(t * tl.nj + j)], xs[t], g.steps[tl.j0 + j], bias[size_t(j)]);
        if (gelu) ReferenceBackend::gelu(out, T * tl.nj);
      }
    }
#pragma omp for schedule(static)
    for (int64_t t = 0; t < T; ++t)
      for (size_t i = 0; i < n_tiles; ++i) {  // fp32 groups have no tiles: dnnl_sgemm wrote them above
        const Tile& tl = tile_list[i];
        const RowMixedLinear& w = *ws[tl.layer];
        const int64_t s0 = tl.stored0 + tl.j0;
        const float* src = yst + yoff[tl.layer] + s0 * T + t * tl.nj;
        float* dst = ys[tl.layer] + t * w.rows;
        const int32_t* perm = w.perm + s0;
        for (int64_t j = 0; j < tl.nj; ++j) dst[perm[j]] = src[j];
      }
  }
}

float CpuBackend::quantize_activations(const float* x, int64_t n, const ActQuant& aq, int8_t* q) const {
  if (isa_ == Isa::Generic) return act_quantize_row(x, n, aq, q);
  // A static clip fixes the step, so chunks quantize independently (the same values as one pass, any thread
  // count); a dynamic range needs the whole tensor's max first: one pass.
  constexpr int64_t kChunk = 16384;
  if (aq.dynamic || n <= 4 * kChunk) {
    thread_local std::vector<uint8_t> qu;  // the +128 copy the GEMM path uses; unused here
    if (qu.size() < size_t(n)) qu.resize(size_t(n));
    return act_quantize_row_avx2(x, n, aq, q, qu.data());
  }
  float step = 0.f;
#pragma omp parallel for schedule(static)
  for (int64_t i0 = 0; i0 < n; i0 += kChunk) {
    alignas(32) uint8_t qu[kChunk];
    const float s = act_quantize_row_avx2(x + i0, std::min(kChunk, n - i0), aq, q + i0, qu);
    if (i0 == 0) step = s;  // every chunk returns the same step (static clip)
  }
  return step;
}

}  // namespace rmsmp

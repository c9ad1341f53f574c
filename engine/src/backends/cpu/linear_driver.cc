// CpuBackend::run_linears: the driver behind linear, linear_multi, linear_gelu and linear_s8.
//
// fp32 groups: dnnl_sgemm (or the exact-summation rows of cpu-exact) into a scratch, scattered through perm.
// Integer groups: tiles of kRowTile rows, of one group (unpacked per call) or of the load-time layout of
// prepared.h (rows in original order, several schemes per block; byte blocks read in place, nibble blocks
// expanded); a tile's panel is multiplied by a block of tokens with the ISA kernel (gemm_s8.h), then the shared
// epilogue (scales, bias), GELU or the post ops (residual, ReLU) write the outputs. Without GELU the tiles
// leave int32 sums and one pass per token block applies the epilogue and the post ops: straight into y for a
// prepared layer (its side rows then overwrite their holes), through the scheme permutation otherwise.
//
// Two schedules, chosen by shape; both compute each output in one thread with the same operations, so results
// are identical for either schedule and any thread count:
//  - rows:   few tokens (an encoder's batch at short lengths, a CNN's last stages). The tokens are quantized
//            once; threads share the tiles (dynamic), each tile over every token, into a stored-order buffer that
//            is scattered to original row order by token at the end. Three loops, two barriers.
//  - tokens: many tokens (a CNN's early stages: 3136 pixels for 64 rows). Each thread takes an equal contiguous
//            range of tokens and, in blocks of kTokenBlock, quantizes them and runs every tile over them,
//            writing straight into y. No barrier until the end; a thread's activations and accumulators stay in
//            L1/L2; the tile count no longer caps the parallelism (64 rows are 2-3 tiles for 2 threads).
#include <dnnl.h>
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <limits>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/isa/encoder_ops.h"
#include "backends/cpu/prepared.h"
#include "core/target_clones.h"
#include "rmsmp/error.h"

namespace rmsmp {

namespace {
constexpr int64_t kRowTile = 32;
constexpr int64_t kEpilogueTokens = 16;  // the rows schedule's epilogue: tokens per block
constexpr int64_t kTokenBlock = 64;
constexpr int64_t kTokensMaxRows = 1024;
// Layers with a residual and at least this many rows finish their sums in the pass, not in the kernel: with
// the mix decoded at load (no side rows) ResNet-50's 256-row 1x1 convs with a residual took 749 against 539 us
// in the kernel (per-node minima, 2 threads), its 512-row ones 398 against 295 (a 16-token tile reads the
// residual and writes y a row's width apart per token, against one stream per token in the pass).
constexpr int64_t kKernelResidualMaxRows = 256;
constexpr int64_t kPanelCache = int64_t(1) << 20;  // bytes of expanded panels a thread keeps for one call

bool verbose_dispatch() {
  static const bool v = [] {
    const char* e = std::getenv("RMSMP_VERBOSE");
    return e && std::strstr(e, "dispatch") != nullptr;
  }();
  return v;
}

// RMSMP_CPU_SCHEDULE=rows|tokens pins the schedule (A/B timing; same results); unset: by shape.
int schedule_override() {
  static const int v = [] {
    const char* e = std::getenv("RMSMP_CPU_SCHEDULE");
    if (!e) return 0;
    if (std::string(e) == "rows") return 1;
    if (std::string(e) == "tokens") return 2;
    return 0;
  }();
  return v;
}

// The most tokens for which nibble blocks are decoded in the kernel: kNibbleFusedTokens, or RMSMP_NIBBLE_FUSED
// (0: never; A/B timing, same results).
int64_t nibble_fused_tokens() {
  static const int64_t v = [] {
    const char* e = std::getenv("RMSMP_NIBBLE_FUSED");
    return e ? std::max<int64_t>(0, std::atoll(e)) : kNibbleFusedTokens;
  }();
  return v;
}

// RMSMP_CPU_KERNEL_EPILOGUE=0 keeps every layer's sums in memory for the epilogue pass (A/B timing of the VNNI
// kernels' in-register epilogue, GemmEpilogue; same results).
bool kernel_epilogue_enabled() {
  static const bool v = [] {
    const char* e = std::getenv("RMSMP_CPU_KERNEL_EPILOGUE");
    return !(e && std::string(e) == "0");
  }();
  return v;
}

// Per-thread scratch only grows: resizing a vector that a smaller layer's call had shrunk value-initialised
// (memset) the difference on every call; q/k/v, attention-output and FFN layers alternate sizes (4% of
// MiniLM-L6 at 1 x 16 tokens was that memset).
template <class V>
inline void grow(V& v, size_t n) {
  if (v.size() < n) v.resize(n);
}

// A caller-quantized row into the kernels' two forms: q (zero padded to Kp), q + 128 (padded with 128); returns
// sum q. Local restrict pointers so the loop vectorises (through the captured references it was a byte loop).
RMSMP_CLONES int32_t load_s8_row(const int8_t* __restrict src, int64_t K, int64_t Kp, int8_t* __restrict q,
                                 uint8_t* __restrict u) {
  int32_t sum = 0;
  for (int64_t k = 0; k < K; ++k) {
    q[k] = src[k];
    u[k] = uint8_t(uint8_t(src[k]) ^ 0x80u);
    sum += src[k];
  }
  for (int64_t k = K; k < Kp; ++k) q[k] = 0, u[k] = 128;
  return sum;
}

// The VNNI kernel's compensation sums (only that kernel reads them, so every caller runs on AVX-512 VNNI).
inline int32_t row_sum(const int8_t* q, int64_t K) {
  int32_t s;
  row_sums_vnni(q, K, 1, &s);
  return s;
}

// One token's outputs of one layer in original row order: dst[i] = src[off[i] (+ t * step[i])] for i < n, then
// the post ops. Sequential writes and residual reads; the reads gather from a hot, stored-order buffer (a
// scatter through perm wrote y in random order, and those stores were the driver's main cost on CNNs).
// Offsets are int32 (a 16-lane gather; run_linears checks that every output index fits).
RMSMP_CLONES void gather_rows(const float* __restrict src, const int32_t* __restrict off,
                              const int32_t* __restrict step, int32_t t, int64_t n, float* __restrict dst) {
  if (step) {
    for (int64_t i = 0; i < n; ++i) dst[i] = src[off[i] + t * step[i]];
  } else {
    for (int64_t i = 0; i < n; ++i) dst[i] = src[off[i]];
  }
}

// The same gather from a tile block's int32 sums, with the shared epilogue on the way (rowq_epilogue's
// operations: float(acc) * (x_step * w_step) + bias; wstep and bias in original row order): the sums go to y
// in one pass, instead of an epilogue into a stored-order float block and a gather from it.
RMSMP_CLONES void gather_epilogue(const int32_t* __restrict acc, const int32_t* __restrict off,
                                  const int32_t* __restrict step, int32_t t, int64_t n, float xstep,
                                  const float* __restrict wstep, const float* __restrict bias,
                                  float* __restrict dst) {
  if (step) {
    for (int64_t i = 0; i < n; ++i) dst[i] = float(acc[off[i] + t * step[i]]) * (xstep * wstep[i]) + bias[i];
  } else {
    for (int64_t i = 0; i < n; ++i) dst[i] = float(acc[off[i]]) * (xstep * wstep[i]) + bias[i];
  }
}

typedef float F32x16 __attribute__((vector_size(64)));  // GCC vector extensions: zmm, 2 ymm or 4 xmm per clone
typedef int32_t I32x16 __attribute__((vector_size(64)));
typedef uint32_t U32x16 __attribute__((vector_size(64)));

// Sums of tb rows of K quantized values, K apart (the VNNI kernel's compensation for rows read in place).
inline void row_sums(const int8_t* q, int64_t K, int64_t tb, int32_t* sum) { row_sums_vnni(q, K, tb, sum); }

// tb rows of K values, K apart, into rows Kp apart, zero padded (the VNNI kernel's x; it reads no +128 copy).
RMSMP_CLONES void pad_rows(const int8_t* __restrict src, int64_t K, int64_t tb, int64_t Kp, int8_t* __restrict dst) {
  for (int64_t t = 0; t < tb; ++t) {
    for (int64_t k = 0; k < K; ++k) dst[t * Kp + k] = src[t * K + k];
    for (int64_t k = K; k < Kp; ++k) dst[t * Kp + k] = 0;
  }
}

// The rows schedule's main tiles of a prepared layer, tokens [t0, t1): tile k's int32 sums (rows [R k, R k + nj),
// R = nj = kRowTile except the last tile's rest) sit at base + R k T + t nj, as run_gemm leaves them; outputs
// go to y rows `rows` apart. Tile by tile over the tokens, with rowq_epilogue's operations (float(acc) * (xs *
// ws) + bias; contraction is off), so the same bits as epilogue_rows per tile and token, without a call per 32
// outputs (at BERT-base 1 x 128 those calls were most of the epilogue's 8%).
RMSMP_CLONES void epilogue_main_tiles(const int32_t* __restrict base, int64_t T, int64_t t0, int64_t t1, int64_t rows,
                                      const float* __restrict xstep, const float* __restrict ws,
                                      const float* __restrict bias, float* __restrict y) {
  for (int64_t j0 = 0; j0 < rows; j0 += kRowTile) {
    const int64_t nj = rows - j0 < kRowTile ? rows - j0 : kRowTile;
    for (int64_t t = t0; t < t1; ++t) {
      const int32_t* a = base + j0 * T + t * nj;
      float* dst = y + t * rows + j0;
      const float xs = xstep[t];
      for (int64_t j = 0; j < nj; ++j) dst[j] = float(a[j]) * (xs * ws[j0 + j]) + bias[j0 + j];
    }
  }
}

// bias: the layer's original-order biases.
inline void side_epilogue(const int32_t* acc, const int32_t* orig, int64_t n, float xstep, const float* wstep,
                          const float* bias, float* dst) {
  for (int64_t i = 0; i < n; ++i) dst[orig[i]] = float(acc[i]) * (xstep * wstep[i]) + bias[orig[i]];
}

// ... and returns abs_max_bits of the written row when asked (0 otherwise).
uint32_t gather_post(const float* src, const int32_t* off, const int32_t* step, int32_t t, int64_t n,
                     const float* residual, LinearPost::Act act, bool want_max, float* dst) {
  gather_rows(src, off, step, t, n, dst);
  apply_post(dst, residual, n, act);
  return want_max ? abs_max_bits(dst, n) : 0u;
}

// The side rows' bytes into their holes of main block b expanded to bytes at dst (16 rows x Kp, VNNI quads: row
// i's 4 bytes of quad q at 64 q + 4 i); side blocks are byte blocks of the same layout (prepared.h).
void fill_holes(const CpuPreparedLinear& p, int64_t b, int64_t Kp, uint8_t* dst) {
  for (int64_t i = 0; i < 16 && b * 16 + i < p.rows; ++i) {
    const int32_t s = p.hole_side[size_t(b * 16 + i)];
    if (s < 0) continue;
    const uint8_t* src = p.data.get() + p.blocks[size_t(p.main_blocks() + s / 16)].offset + 4 * (s % 16);
    for (int64_t q = 0; q < Kp / 4; ++q) std::memcpy(dst + 64 * q + 4 * i, src + 64 * q, 4);
  }
}

// Up to kRowTile rows of one layer: either rows [j0, j0 + nj) of one group, unpacked per call, or rows of the
// layer's prepared layout (blocks blk0 and the next): main rows [j0, j0 + nj) in original order, or side rows.
struct Tile {
  size_t layer;
  const RowGroup* g;               // unprepared: the group
  const CpuPreparedLinear* prep;   // prepared: the layout
  int64_t j0, nj;
  int64_t blk0;                    // prepared: the tile's first block in prep->blocks
  int64_t slot0;                   // the tile's first row in its layer's stored-order output buffers
  const int32_t* orig;             // nj original row indices (-1: a hole of the prepared layout, prepared.h)
  const float* wstep;              // nj weight steps
  int max_w;                       // largest |q| of the tile's scheme (AVX2's unsigned path; 127 when mixed)
};

// Up to two runs of weight bytes (a tile's two 16-row blocks, or its packed rows).
struct WeightBytes {
  const uint8_t* p[2] = {nullptr, nullptr};
  int64_t bytes[2] = {0, 0};
};

// Token scratch of one block: signed rows, their +128 copies (zero / 128 padded to Kp), steps and sums. x is
// what the kernel reads: q, or the caller's quantized rows in place when they need no padding or copy.
struct TokenRows {
  int8_t* q;
  uint8_t* u;
  float* step;
  int32_t* sum;
  const int8_t* x;
};

// Work items [0, n) split among a team: each member owns an equal contiguous range and takes its items in
// order (its outputs stay in its cache, and it knows its next item, to prefetch); a member whose range is done
// takes items another has not started, from the same counters, so a faster thread does not wait at the end of
// the region (the two vCPUs of these hosts often run at different speeds). Set up by the calling thread before
// the parallel region; items go to whoever claims them, so callers must give the same results for any split.
class WorkRanges {
 public:
  void reset(int64_t n, int team) {
    team_ = team;
    if (c_.size() < size_t(team)) c_ = std::vector<Counter>(size_t(team));
    for (int i = 0; i < team; ++i) {
      c_[size_t(i)].next.store(n * i / team, std::memory_order_relaxed);
      c_[size_t(i)].end = n * (i + 1) / team;
    }
  }
  // The next item for member id: its own range first, then the others' in turn; -1 when none is left. Covers
  // every range even when the team came out smaller than asked.
  int64_t claim(int64_t id) {
    for (int k = 0; k < team_; ++k) {
      Counter& c = c_[size_t((id + k) % team_)];
      if (c.next.load(std::memory_order_relaxed) >= c.end) continue;
      const int64_t b = c.next.fetch_add(1, std::memory_order_relaxed);
      if (b < c.end) return b;
    }
    return -1;
  }
  // The item member id would claim next from its own range (a prefetch hint; -1 when its range is done).
  int64_t peek(int64_t id) const {
    if (id >= team_) return -1;
    const Counter& c = c_[size_t(id)];
    const int64_t b = c.next.load(std::memory_order_relaxed);
    return b < c.end ? b : -1;
  }

 private:
  struct alignas(64) Counter {
    std::atomic<int64_t> next{0};
    int64_t end = 0;
  };
  std::vector<Counter> c_;
  int team_ = 1;
};

// The tokens schedule's block size: a multiple of 8 (the VNNI kernel's token step) between tb / 2 and 1.5 tb
// tokens, chosen so that the threads' ranges of blocks (WorkRanges' split) carry tokens as equal as it can.
// Plain blocks of tb = 64 left ResNet-50's 14 x 14 stage (196 pixels) at 128 tokens for one thread and 68 for
// the other; blocks of 104 give 104 and 92. Any block size gives the same outputs.
int64_t balanced_token_block(int64_t T, int64_t threads, int64_t tb) {
  int64_t best = tb, best_load = std::numeric_limits<int64_t>::max();
  for (int64_t per = 1;; ++per) {
    const int64_t size = ((T + per * threads - 1) / (per * threads) + 7) / 8 * 8;
    if (size < tb / 2 || size < 8) break;
    if (size > tb * 3 / 2) continue;
    const int64_t n = (T + size - 1) / size;
    int64_t load = 0;  // the busiest thread's tokens
    for (int64_t i = 0; i < threads; ++i) {
      const int64_t b0 = n * i / threads, b1 = n * (i + 1) / threads;
      load = std::max(load, std::min(T, b1 * size) - std::min(T, b0 * size));
    }
    if (load < best_load) best = size, best_load = load;
  }
  return best;
}

}  // namespace

void CpuBackend::run_linears(const RowMixedLinear* const* ws, size_t n, const LinearIn& in, int64_t n_tokens,
                             float* const* ys, bool gelu, const LinearPost& post) const {
  if (n == 0) return;
  // The input is quantized once for all layers, so they must agree on width and activation quantization
  // (q/k/v of a BERT layer do: they share their input and its calibration); otherwise one at a time.
  for (size_t l = 1; l < n; ++l) {
    const ActQuant &a = ws[0]->act, &b = ws[l]->act;
    if (ws[l]->cols != ws[0]->cols || a.bits != b.bits || a.dynamic != b.dynamic || a.clip != b.clip) {
      for (size_t m = 0; m < n; ++m) run_linears(&ws[m], 1, in, n_tokens, &ys[m], gelu, post);
      return;
    }
  }
  RMSMP_CHECK(post.empty() || (n == 1 && !gelu), ErrorCode::Internal, "post ops apply to one plain linear");
  if (in.patches && isa_ != Isa::Avx512Vnni) {  // only the VNNI paths make rows on demand: store them here
    thread_local std::vector<int8_t> rows_all;
    const int64_t Kc = ws[0]->cols;
    if (rows_all.size() < size_t(n_tokens * Kc)) rows_all.resize(size_t(n_tokens * Kc));
    int8_t* ra = rows_all.data();  // (a thread_local named inside the region would be each worker's own)
    const PatchSource* src = in.patches;
#pragma omp parallel for schedule(static) if (n_tokens * Kc > 65536)
    for (int64_t t0 = 0; t0 < n_tokens; t0 += 64) src->rows(t0, std::min<int64_t>(64, n_tokens - t0), ra + t0 * Kc, Kc);
    return run_linears(ws, n, LinearIn{nullptr, ra, in.qstep}, n_tokens, ys, gelu, post);
  }
  const int64_t K = ws[0]->cols, T = n_tokens;
  const int64_t Kp = gemm_k_padded(K, isa_ == Isa::Avx512Vnni, amx_, isa_ == Isa::Avx2);
  const ActQuant act = ws[0]->act;

  // Per calling thread, reused across calls. NB: inside the parallel regions below, a thread_local named there
  // would be the worker's own (empty) instance, so they only use pointers taken before them.
  thread_local std::vector<Tile> tiles;
  // Layer l's rows are rows [lcol[l], lcol[l + 1]) of all layers together: its columns in a token block
  // (tokens schedule), and its T x rows part of the stored-order buffer at T * lcol[l] (rows schedule).
  // A prepared layer's buffer columns are its main rows (original order) and then its side rows.
  thread_local std::vector<int64_t> lcol;
  thread_local std::vector<const CpuPreparedLinear*> preps;  // per layer; null: unprepared
  thread_local std::vector<size_t> ltile;                     // layer l's tiles: [ltile[l], ltile[l + 1])
  // Few tokens with AVX-512 VBMI: nibble blocks are decoded inside the kernel (gemm_s8_avx512vbmi_nib) rather
  // than expanded into a panel that the kernel reads back (at BERT-base 1 x 16 the expansion was 15% of the
  // samples).
  // With AMX, 16 tokens fill a tile: expanding the block for the tiles costs less than decoding it per quad
  // (gemm suite, 16 x 768 x 3072 and 16 x 3072 x 768: 0.15-0.18 against 0.16-0.27 ms).
  const bool nib_fused = isa_ == Isa::Avx512Vnni && n_tokens <= nibble_fused_tokens() && has_vbmi() &&
                         !(amx_ && n_tokens >= 16);
  // Expanded nibble blocks take their side rows' bytes into the holes (prepared.h), so an all-integer prepared
  // layer runs no side tiles and no overwrite pass: at MiniLM-L6 8 x 128 the side tiles and the holes computed
  // as zeros made the mix 11% slower than uniform Fixed-8 (Zen 4).
  thread_local std::vector<char> fills_v;
  fills_v.assign(n, 0);
  tiles.clear();
  lcol.assign(n + 1, 0);
  preps.assign(n, nullptr);
  ltile.assign(n + 1, 0);
  for (size_t l = 0; l < n; ++l) {
    const RowMixedLinear& w = *ws[l];
    const auto* prep = dynamic_cast<const CpuPreparedLinear*>(w.prepared.get());
    if (prep && (prep->isa != isa_ || prep->k_padded != Kp)) prep = nullptr;  // not ours
    preps[l] = prep;
    lcol[l + 1] = lcol[l] + (prep ? prep->rows + prep->side_rows : w.rows);
    const bool fill = prep && prep->side_rows > 0 && isa_ == Isa::Avx512Vnni && !nib_fused && !amx_ &&
                      w.all_integer_groups();
    fills_v[l] = fill;
    if (prep) {
      const float* main_steps = fill ? prep->row_steps.data() : prep->steps.data();
      for (int64_t j0 = 0; j0 < prep->rows; j0 += kRowTile)
        tiles.push_back({l, nullptr, prep, j0, std::min(kRowTile, prep->rows - j0), j0 / 16, j0,
                         prep->orig.data() + j0, main_steps + j0, 127});
      for (int64_t s0 = 0; !fill && s0 < prep->side_rows; s0 += kRowTile)  // after the main tiles: they win in goff
        tiles.push_back({l, nullptr, prep, s0, std::min(kRowTile, prep->side_rows - s0),
                         prep->main_blocks() + s0 / 16, prep->rows + s0, prep->orig.data() + prep->rows + s0,
                         prep->steps.data() + prep->rows + s0, 127});
    }
    int64_t off = 0;
    for (size_t gi = 0; gi < w.groups.size(); ++gi) {
      const RowGroup& g = w.groups[gi];
      const int64_t stored0 = off;
      off += g.rows;
      if (g.rows == 0) continue;
      if (g.kind == QuantKind::F32) {
        RMSMP_CHECK(in.x, ErrorCode::Internal, "fp32 rows of " << w.name << " need the float input");
        if (verbose_dispatch() && T > 0) {
          static std::once_flag once;
          std::call_once(once, [] { std::cerr << "[rmsmp] dispatch fp32 groups -> dnnl_sgemm\n"; });
        }
        thread_local std::vector<float> tmp;
        grow(tmp, size_t(T * g.rows));
        const float* wf = reinterpret_cast<const float*>(g.codes);
        const float* x = in.x;
        float* tp = tmp.data();
        const int32_t* perm = w.perm + stored0;
        const int64_t rows_g = g.rows, wrows = w.rows;
        float* yl = ys[l];
        const float* bias = w.bias;
        // Stored rows [r0, r1) of the scratch into y in original order, with their biases.
        auto scatter = [=](int64_t r0, int64_t r1) {
          for (int64_t t = 0; t < T; ++t)
            for (int64_t j = r0; j < r1; ++j) yl[t * wrows + perm[j]] = tp[t * rows_g + j] + (bias ? bias[perm[j]] : 0.f);
        };
        if (exact_fp32_) {
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
          scatter(0, rows_g);
          continue;
        }
        // dnnl_sgemm on a slice of rows per thread, in our parallel region (inside one, oneDNN runs
        // sequentially), each thread then adding the bias and scattering its own rows: at a few tokens,
        // oneDNN's own threading of these small GEMMs and the serial scatter left the threads waiting for
        // most of the fp32 engine's time.
        const int nth = omp_in_parallel() ? 1 : omp_get_max_threads();
        std::atomic<int> failed{0};
#pragma omp parallel num_threads(nth)
        {
          const int64_t nt = omp_get_num_threads(), id = omp_get_thread_num();
          const int64_t per = (rows_g + nt - 1) / nt;
          const int64_t r0 = std::min(rows_g, (per * id + 15) / 16 * 16);
          const int64_t r1 = id + 1 == nt ? rows_g : std::min(rows_g, (per * (id + 1) + 15) / 16 * 16);
          if (r1 > r0) {
            if (dnnl_sgemm('N', 'T', T, r1 - r0, K, 1.f, x, K, wf + r0 * K, K, 0.f, tp + r0, rows_g) != dnnl_success)
              failed = 1;
            scatter(r0, r1);
          }
        }
        RMSMP_CHECK(!failed, ErrorCode::Internal, "dnnl_sgemm failed on " << w.name);
        continue;
      }
      if (verbose_dispatch()) {
        static std::mutex mu;
        std::lock_guard<std::mutex> lock(mu);
        static std::set<std::string> seen;
        if (seen.insert(w.name + quant_scheme(g.kind).name).second)
          std::cerr << "[rmsmp] dispatch " << w.name << ": " << quant_scheme(g.kind).name << " x " << g.rows
                    << " rows, K " << K << " -> gemm_s8_" << isa_name(isa_) << " (panels of " << kRowTile
                    << " rows" << (prep ? ", prepared at load in original row order" : ", unpacked per call")
                    << (n > 1 ? ", fused with the other layers of this input" : "")
                    << (in.q ? ", input quantized by the caller" : "") << ")\n";
      }
      if (prep) continue;  // its tiles are above
      for (int64_t j0 = 0; j0 < g.rows; j0 += kRowTile)
        tiles.push_back({l, &g, nullptr, j0, std::min(kRowTile, g.rows - j0), 0, stored0 + j0, w.perm + stored0 + j0,
                         g.steps + j0, quant_scheme(g.kind).max_q});
    }
    ltile[l + 1] = tiles.size();
  }
  if (tiles.empty() || T == 0) return;

  const bool simd = isa_ != Isa::Generic, need_xsum = isa_ == Isa::Avx512Vnni;
  const Isa isa = isa_;
  // The VNNI kernel reads only the signed rows and their sums, so a caller's quantized input of a width that
  // needs no padding is read where it is (a CNN's pre-quantized pixels: no copy per token).
  const bool in_place = in.q && need_xsum && Kp == K;
  // Float input with one static step (linear_static): a token block is quantized as one run of values.
  const bool block_quant = !in.q && !in.patches && need_xsum && Kp == K && !act.dynamic;
  // Token t of the input into row r of a token block: quantized (or copied), padded, with its sum.
  auto load_token = [&, simd, need_xsum](int64_t t, const TokenRows& b, int64_t r) {
    int8_t* qrow = b.q + r * Kp;
    uint8_t* urow = b.u + r * Kp;
    if (in_place) {
      b.sum[r] = row_sum(in.q + t * K, K);
      b.step[r] = in.qstep;
      return;
    }
    if (in.patches) {  // VNNI only (above): the signed row and its sum
      in.patches->rows(t, 1, qrow, Kp);
      std::memset(qrow + K, 0, size_t(Kp - K));
      b.sum[r] = row_sum(qrow, K);
      b.step[r] = in.qstep;
      return;
    }
    if (in.q) {
      b.sum[r] = load_s8_row(in.q + t * K, K, Kp, qrow, urow);
      b.step[r] = in.qstep;
      return;
    }
    if (isa == Isa::Avx512Vnni) {  // 16 lanes, and no uint8 copy: the VNNI kernel reads q and its sum only
      b.step[r] = act_quantize_row_avx512(in.x + t * K, K, act, qrow);
      std::memset(qrow + K, 0, size_t(Kp - K));
      b.sum[r] = row_sum(qrow, K);
      return;
    }
    if (simd) {
      b.step[r] = act_quantize_row_avx2(in.x + t * K, K, act, qrow, urow);
    } else {
      b.step[r] = act_quantize_row(in.x + t * K, K, act, qrow);
      for (int64_t k = 0; k < K; ++k) urow[k] = uint8_t(qrow[k] ^ 0x80);
    }
    std::memset(qrow + K, 0, size_t(Kp - K));
    std::memset(urow + K, 128, size_t(Kp - K));
    if (need_xsum) b.sum[r] = row_sum(qrow, K);  // only the VNNI kernel's compensation reads it
  };
  // One tile over tb tokens of a block: the panel, the kernel, the epilogue into out (tb x nj, row stride
  // out_stride) with the tile's bias, then GELU when asked. panel/w_sum/acc/bias are the calling thread's scratch.
  // A tile's weights as the kernel reads them: its two 16-row VNNI halves (w_hi null: contiguous) and, for the
  // panels that AVX2/generic unpack per call (AVX2: 16-row quad blocks; generic: row-major), their row sums.
  // panel/w_sum: scratch of kRowTile * Kp bytes / kRowTile.
  // nib: halves left as nibbles for the fused kernel to decode in registers (null: bytes, lo/hi).
  struct TileWeights {
    const int8_t* lo;
    const int8_t* hi;
    const int32_t* sum;
    const CpuPreparedLinear::Block* nib[2] = {nullptr, nullptr};
  };
  const char* fills = fills_v.data();
  // A layer's side rows in this call: none where they fill their holes.
  // (Pointers, not the thread_local vectors: named inside a parallel region those are the worker's own.)
  const CpuPreparedLinear* const* prs = preps.data();
  auto side_of = [fills, prs](size_t l) { return fills[l] || !prs[l] ? int64_t(0) : prs[l]->side_rows; };
  auto tile_weights = [&](const Tile& tl, int8_t* panel, int32_t* w_sum) {
    TileWeights tw{panel, nullptr, w_sum};
    if (tl.prep) {  // prepared at load (VNNI layout): byte blocks are read in place, nibble ones expand by vpshufb
      const int8_t* half[2] = {nullptr, nullptr};
      for (int64_t h = 0; h < 2 && 16 * h < tl.nj; ++h) {
        const CpuPreparedLinear::Block& blk = tl.prep->blocks[size_t(tl.blk0 + h)];
        const uint8_t* src = tl.prep->data.get() + blk.offset;
        if (blk.n_luts > 0 && nib_fused) {
          tw.nib[h] = &blk;
        } else if (blk.n_luts > 0) {
          uint8_t* dst = reinterpret_cast<uint8_t*>(panel) + h * 16 * Kp;
          const uint8_t* luts[CpuPreparedLinear::kMaxBlockLuts];
          for (int i = 0; i < blk.n_luts; ++i) luts[i] = tl.prep->luts[size_t(blk.lut[i])].data();
          expand_panel_vnni4(src, Kp, luts, blk.mask, blk.n_luts, dst);
          if (fills[tl.layer]) fill_holes(*tl.prep, tl.blk0 + h, Kp, dst);
          half[h] = reinterpret_cast<const int8_t*>(dst);
        } else {
          half[h] = reinterpret_cast<const int8_t*>(src);
        }
      }
      tw.lo = half[0];
      tw.hi = half[1];
    } else {
      const RowGroup& g = *tl.g;
      const size_t rb = quant_row_bytes(g.kind, K);
      unpack_(g.kind, g.codes + size_t(tl.j0) * rb, rb, tl.nj, K, Kp, panel, w_sum);
    }
    return tw;
  };
  // Where a tile's stored weights are (at most two runs of bytes): what the kernel prefetches for the next tile.
  auto tile_bytes = [&](const Tile& tl) {
    WeightBytes wb;
    if (tl.prep) {
      for (int64_t h = 0; h < 2 && 16 * h < tl.nj; ++h) {
        const CpuPreparedLinear::Block& blk = tl.prep->blocks[size_t(tl.blk0 + h)];
        wb.p[h] = tl.prep->data.get() + blk.offset;
        wb.bytes[h] = (blk.n_luts > 0 ? 8 : 16) * Kp;
      }
    } else {
      const size_t rb = quant_row_bytes(tl.g->kind, K);
      wb.p[0] = tl.g->codes + size_t(tl.j0) * rb;
      wb.bytes[0] = int64_t(rb) * tl.nj;
    }
    return wb;
  };
  // One tile over tb tokens of a block with its weights: the kernel, the epilogue into out (tb x nj, row stride
  // out_stride) with the tile's bias, then GELU when asked. acc/bias are the calling thread's scratch.
  // The kernel for a tile's weights: the fused nibble kernel where tile_weights left nibbles.
  auto gemm_tile = [&](const Tile& tl, const TileWeights& tw, GemmS8Args& ga) {
    if (!tw.nib[0] && !tw.nib[1]) return gemm_(ga);
    for (int h = 0; h < 2; ++h) {
      const CpuPreparedLinear::Block* blk = tw.nib[h];
      if (!blk) continue;
      ga.nib[h] = tl.prep->data.get() + blk->offset;
      ga.nib_n[h] = blk->n_luts;
      for (int i = 0; i < blk->n_luts; ++i) {
        ga.nib_luts[h][i] = tl.prep->luts[size_t(blk->lut[i])].data();
        ga.nib_mask[h][i] = blk->mask[i];
      }
    }
    gemm_s8_avx512vbmi_nib(ga);
  };
  auto run_tile_with = [&, simd, isa](const Tile& tl, const TileWeights& tw, const TokenRows& b, int64_t tb,
                                      int32_t* acc, float* bias, float* out, int64_t out_stride) {
    const RowMixedLinear& w = *ws[tl.layer];
    GemmS8Args ga{b.x, b.u, tb, tw.lo, tw.sum, b.sum, tl.nj, Kp, tl.max_w, acc, tl.nj};
    ga.w_hi = tw.hi;
    gemm_tile(tl, tw, ga);
    for (int64_t j = 0; j < tl.nj; ++j) bias[j] = w.bias && tl.orig[j] >= 0 ? w.bias[tl.orig[j]] : 0.f;  // holes: 0
    if (simd) {
      epilogue_avx2(acc, tb, tl.nj, b.step, tl.wstep, bias, out, out_stride);
    } else {
      for (int64_t t = 0; t < tb; ++t)
        for (int64_t j = 0; j < tl.nj; ++j)
          out[t * out_stride + j] = rowq_epilogue(acc[t * tl.nj + j], b.step[t], tl.wstep[j], bias[j]);
    }
    if (!gelu) return;
    auto gelu_n = [&](float* p, int64_t m) {
      if (isa == Isa::Avx512Vnni) gelu_avx512(p, m);
      else if (simd) gelu_avx2(p, m);
      else ReferenceBackend::gelu(p, m);
    };
    if (out_stride == tl.nj) return gelu_n(out, tb * tl.nj);
    for (int64_t t = 0; t < tb; ++t) gelu_n(out + t * out_stride, tl.nj);
  };
  // The kernel alone, its sums into acc (row stride acc_stride): the fused path's tiles (gather_epilogue).
  auto run_gemm = [&](const Tile& tl, const TileWeights& tw, const TokenRows& b, int64_t tb, int32_t* acc,
                      int64_t acc_stride, WeightBytes prefetch = {}, const GemmEpilogue* epi = nullptr) {
    GemmS8Args ga{b.x, b.u, tb, tw.lo, tw.sum, b.sum, tl.nj, Kp, tl.max_w, acc, acc_stride};
    ga.w_hi = tw.hi;
    ga.epi = epi;
    for (int h = 0; h < 2; ++h) {
      ga.prefetch[h] = prefetch.p[h];
      ga.prefetch_bytes[h] = prefetch.bytes[h];
    }
    gemm_tile(tl, tw, ga);
  };
  auto run_tile = [&](const Tile& tl, const TokenRows& b, int64_t tb, int8_t* panel, int32_t* w_sum, int32_t* acc,
                      float* bias, float* out, int64_t out_stride) {
    run_tile_with(tl, tile_weights(tl, panel, w_sum), b, tb, acc, bias, out, out_stride);
  };
  const Tile* tile_list = tiles.data();
  const size_t n_tiles = tiles.size();
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  const int pin = schedule_override();
  thread_local std::vector<char> all_int_v;
  all_int_v.resize(n);
  bool every_int = true;
  for (size_t l = 0; l < n; ++l) {
    all_int_v[l] = ws[l]->all_integer_groups();
    every_int = every_int && all_int_v[l];
  }
  const char* all_int = all_int_v.data();
  // The tokens schedule writes every row of y from its token blocks, so it needs layers without fp32 rows. By
  // shape: at least a full block per thread, and at most kTokensMaxRows rows (each thread expands every panel
  // once per block; for BERT-base's 2304 q/k/v rows that re-expansion cost more than the rows schedule's
  // imbalance, measured at 1 x 128: 55 against 48 ms).
  const bool by_tokens =
      every_int && (pin ? pin == 2 : T >= kTokenBlock * threads && lcol[n] <= kTokensMaxRows);

  // Where each original row's output sits in the stored-order buffers (gather_post's offsets), per layer:
  // tokens schedule: column lcol[l] + stored index of a token-block row of total_rows floats;
  // rows schedule: tile block start * T + offset in the tile, plus t * nj of that tile (nj_of).
  const int64_t total_rows = lcol[n];
  RMSMP_CHECK(T * total_rows < (int64_t(1) << 31), ErrorCode::InvalidArgument,
              "linear layers of " << ws[0]->name << ": " << T * total_rows << " outputs in one call (at most 2^31 - 1)");
  // goff/gnj and the per-row steps wso serve the unprepared layers' gathers only: with every layer prepared
  // (a model's load prepares them) they are not built, an O(rows) scalar setup per call that was 4% of BERT-base
  // at 1 x 16 tokens.
  bool all_prepared = true;
  for (size_t l = 0; l < n; ++l) all_prepared = all_prepared && preps[l] != nullptr;
  thread_local std::vector<int32_t> goff, gnj;
  goff.assign(all_prepared ? 0 : size_t(total_rows), 0);
  gnj.assign(all_prepared ? 0 : size_t(total_rows), 0);  // 0: an fp32 row (no tile)
  for (size_t i = 0; i < (all_prepared ? 0 : n_tiles); ++i) {
    const Tile& tl = tiles[i];
    for (int64_t j = 0; j < tl.nj; ++j) {
      if (tl.orig[j] < 0) continue;  // a hole: its row is a side or fp32 row
      const size_t k = size_t(lcol[tl.layer] + tl.orig[j]);
      goff[k] = int32_t(by_tokens ? lcol[tl.layer] + tl.slot0 + j : tl.slot0 * T + j);
      gnj[k] = int32_t(tl.nj);
    }
  }
  const int32_t* gof = goff.data();
  const int32_t* gst = gnj.data();
  const int64_t* lc = lcol.data();
  // Fused epilogue (every row integer): tiles leave int32 sums and one pass per token (block) applies the
  // epilogue, then GELU or the post ops, into y; per original row its weight step and bias.
  const bool fused = every_int;
  auto gelu_rows = [this, isa](float* p, int64_t m) {  // in place, as gelu() (the same operations per element)
    if (isa == Isa::Avx512Vnni) gelu_avx512(p, m);
    else if (isa != Isa::Generic) gelu_avx2(p, m);
    else ReferenceBackend::gelu(p, m);
  };
  thread_local std::vector<float> wso, bso;
  if (fused) {
    wso.assign(all_prepared ? 0 : size_t(total_rows), 0.f);
    bso.assign(size_t(total_rows), 0.f);
    for (size_t i = 0; i < (all_prepared ? 0 : n_tiles); ++i) {
      const Tile& tl = tiles[i];
      for (int64_t j = 0; j < tl.nj; ++j)
        if (tl.orig[j] >= 0) wso[size_t(lcol[tl.layer] + tl.orig[j])] = tl.wstep[j];
    }
    for (size_t l = 0; l < n; ++l)
      if (ws[l]->bias) std::copy(ws[l]->bias, ws[l]->bias + ws[l]->rows, bso.begin() + lcol[l]);
  }
  const float* wsp = wso.data();
  const float* bsp = bso.data();
  const CpuPreparedLinear* const* pr = preps.data();
  const size_t* lt = ltile.data();

  const bool want_max = post.abs_max != nullptr;
  uint32_t amax = 0;  // max over the threads' maxima (post.abs_max)
  // Layers whose tiles finish their sums in the VNNI kernel's registers (GemmEpilogue): prepared, so the rows
  // are in original order, with no GELU pass and no range to reduce. A narrow conv's epilogue pass over int32
  // sums in memory cost as much as its GEMM (EfficientNet-Lite0's 1x1 convs at 112 x 112: 16 or 32 input
  // channels per output): 7-45% less per conv. Side rows (prepared.h: 8-bit rows of a layer of more than 256
  // rows with 4-bit ones) keep their sums in memory and overwrite their holes' outputs after the block's tiles
  // (side_rows_finish_avx512: gathers and scatters; an element-by-element version of it had made
  // EfficientNet-Lite0's 480- and 672-row convs 40% slower, this one makes them 4-7% faster). Not for layers
  // with a residual and side rows or kKernelResidualMaxRows rows or more (ResNet-50's 256-1024-row 1x1 convs
  // with one were 1.3-1.7x slower in the kernel).
  thread_local std::vector<char> in_kernel_v;
  in_kernel_v.assign(n, 0);
  for (size_t l = 0; l < n; ++l)
    in_kernel_v[l] = kernel_epilogue_enabled() && isa == Isa::Avx512Vnni && preps[l] && !gelu && !want_max &&
                     (!post.residual || (side_of(l) == 0 && ws[l]->rows < kKernelResidualMaxRows));
  const char* in_kernel = in_kernel_v.data();
  // The pass's epilogue: the AVX-512 one where the kernels are (the same bits; 0.52-0.63 of the portable one's time).
  const auto rows_epilogue = isa == Isa::Avx512Vnni ? epilogue_rows_avx512 : epilogue_rows;
  if (by_tokens) {
    // Token blocks of up to kTokenBlock tokens, fewer for wide layers: a block's outputs (tb x total_rows
    // floats) stay within 256 KiB.
    const int64_t tb_max = balanced_token_block(
        T, threads, std::max<int64_t>(8, std::min<int64_t>(kTokenBlock, 65536 / total_rows) / 8 * 8));
    // Blocks split by WorkRanges (each thread's own range first, then stealing).
    const int64_t n_blocks = (T + tb_max - 1) / tb_max;
    thread_local WorkRanges ranges_tl;
    WorkRanges* ranges = &ranges_tl;
    ranges->reset(n_blocks, threads);
#pragma omp parallel num_threads(threads)
    {
      const int64_t nt = omp_get_num_threads(), id = omp_get_thread_num();
      thread_local std::vector<int8_t> bq, panel;
      thread_local std::vector<uint8_t> bu;
      thread_local std::vector<float> bstep;
      thread_local std::vector<int32_t> bsum, w_sum, bacc;
      grow(bq, size_t(tb_max * Kp));
      grow(bu, size_t(tb_max * Kp));
      grow(bstep, size_t(tb_max));
      grow(bsum, size_t(tb_max));
      grow(panel, size_t(kRowTile * Kp));
      grow(w_sum, size_t(kRowTile));
      grow(bacc, size_t(tb_max * total_rows));
      TokenRows b{bq.data(), bu.data(), bstep.data(), bsum.data(), bq.data()};
      // Every tile's weights once per call and thread when they fit in kPanelCache bytes (a thread runs every
      // tile over each of its token blocks; re-expanding them per block cost 5% of ResNet-50), else per block.
      thread_local std::vector<int8_t> pcache;
      thread_local std::vector<int32_t> scache;
      thread_local std::vector<TileWeights> wcache;
      const bool cached = int64_t(n_tiles) * kRowTile * Kp <= kPanelCache && n_blocks > nt;
      if (cached) {
        grow(pcache, n_tiles * size_t(kRowTile * Kp));
        grow(scache, n_tiles * size_t(kRowTile));
        grow(wcache, n_tiles);
        for (size_t i = 0; i < n_tiles; ++i)
          wcache[i] = tile_weights(tile_list[i], pcache.data() + i * size_t(kRowTile * Kp), scache.data() + i * kRowTile);
      }
      uint32_t mx = 0;
      for (int64_t bi = ranges->claim(id); bi >= 0; bi = ranges->claim(id)) {
        const int64_t t0 = bi * tb_max, tb = std::min(tb_max, T - t0);
        const bool uniform_step = in_place || in.patches || (in.q && need_xsum) || block_quant;  // one step for all
        if (in_place) {
          b.x = in.q + t0 * K;
          row_sums(b.x, K, tb, b.sum);
          std::fill(b.step, b.step + tb, in.qstep);
        } else if (in.patches) {  // a block of patches made here, in L1 (VNNI only, above)
          in.patches->rows(t0, tb, b.q, Kp);
          if (Kp > K)
            for (int64_t r = 0; r < tb; ++r) std::memset(b.q + r * Kp + K, 0, size_t(Kp - K));
          row_sums(b.q, Kp, tb, b.sum);
          std::fill(b.step, b.step + tb, in.qstep);
        } else if (in.q && need_xsum) {  // quantized rows that need padding: one copy per block
          pad_rows(in.q + t0 * K, K, tb, Kp, b.q);
          row_sums(b.q, Kp, tb, b.sum);
          std::fill(b.step, b.step + tb, in.qstep);
        } else if (block_quant) {
          const float st = act_quantize_static(in.x + t0 * K, tb * K, act, b.q, isa);
          row_sums(b.q, K, tb, b.sum);
          std::fill(b.step, b.step + tb, st);
        } else {
          for (int64_t r = 0; r < tb; ++r) load_token(t0 + r, b, r);
        }
        {  // (by_tokens implies every_int, so the tokens schedule is always fused)
          for (size_t i = 0; i < n_tiles; ++i) {
            const Tile& tl = tile_list[i];
            const TileWeights tw = cached ? wcache[i] : tile_weights(tl, panel.data(), w_sum.data());
            if (!in_kernel[tl.layer]) {
              run_gemm(tl, tw, b, tb, bacc.data() + lc[tl.layer] + tl.slot0, total_rows);
              continue;
            }
            const RowMixedLinear& w = *ws[tl.layer];
            const int64_t rows = w.rows, o = t0 * rows + tl.j0;  // main tiles: j0 is the original row
            if (tl.slot0 >= rows) {  // a side tile: its sums to memory, finished below
              run_gemm(tl, tw, b, tb, bacc.data() + lc[tl.layer] + tl.slot0, total_rows);
              continue;
            }
            const GemmEpilogue epi{b.step, tl.wstep, w.bias ? w.bias + tl.j0 : nullptr,
                                   post.residual ? post.residual + o : nullptr, rows, post.act,
                                   post.q_only && post.q_out ? nullptr : ys[tl.layer] + o,
                                   post.q_out ? post.q_out + o : nullptr, post.q_inv, post.q_max,
                                   uniform_step};
            run_gemm(tl, tw, b, tb, nullptr, 0, {}, &epi);
          }
          for (size_t l = 0; l < n; ++l) {
            const CpuPreparedLinear* pp = pr[l];
            if (!in_kernel[l] || side_of(l) == 0) continue;
            const RowMixedLinear& w = *ws[l];
            const int64_t rows = w.rows, o = t0 * rows;
            side_rows_finish_avx512(bacc.data() + lc[l] + rows, total_rows, tb, pp->side_rows, pp->orig.data() + rows,
                                    pp->steps.data() + rows, w.bias, post.act,
                                    post.q_only && post.q_out ? nullptr : ys[l] + o,
                                    post.q_out ? post.q_out + o : nullptr, post.q_inv, post.q_max, rows, b.step);
          }
          for (size_t l = 0; l < n; ++l) {
            const CpuPreparedLinear* pp = pr[l];
            if (!pp || in_kernel[l]) continue;
            // Prepared: the whole block at once, its sums already in original order.
            const int64_t rows = ws[l]->rows;
            float* dst = ys[l] + t0 * rows;
            const int32_t* a = bacc.data() + lc[l];
            const float* res = post.residual ? post.residual + t0 * rows : nullptr;
            // Side rows' sums over their holes' (the same token's step), then one pass with every row's step.
            int32_t* aw = bacc.data() + lc[l];
            const int32_t* so = pp->orig.data() + rows;
            for (int64_t t = 0; t < tb; ++t)
              for (int64_t s = 0; s < side_of(l); ++s) aw[t * total_rows + so[s]] = aw[t * total_rows + rows + s];
            const float* rs = pp->row_steps.data();
            if (!gelu) {
              mx = std::max(mx, rows_epilogue(a, total_rows, tb, rows, b.step, rs, bsp + lc[l], res, post.act,
                                               want_max, post.q_only && post.q_out ? nullptr : dst,
                                               post.q_out ? post.q_out + t0 * rows : nullptr,
                                               post.q_inv, post.q_max));
              continue;
            }
            rows_epilogue(a, total_rows, tb, rows, b.step, rs, bsp + lc[l], nullptr, LinearPost::Act::None, false,
                          dst, nullptr, 0.f, 127);
            gelu_rows(dst, tb * rows);  // post ops never come with GELU
          }
          for (size_t l = 0; l < n; ++l)
            for (int64_t t = 0; t < tb; ++t) {
              if (pr[l]) break;  // done above
              const int64_t rows = ws[l]->rows;
              float* dst = ys[l] + (t0 + t) * rows;
              const int32_t* a = bacc.data() + t * total_rows + lc[l];
              {
                // gof's offsets count from the block row's start (they include lcol[l])
                gather_epilogue(a - lc[l], gof + lc[l], nullptr, 0, rows, b.step[t], wsp + lc[l], bsp + lc[l], dst);
              }
              if (gelu) gelu_rows(dst, rows);
              apply_post(dst, post.residual ? post.residual + (t0 + t) * rows : nullptr, rows, post.act);
              if (want_max) mx = std::max(mx, abs_max_bits(dst, rows));
              store_q_out(post, dst, rows, (t0 + t) * rows);
            }
        }
      }
#pragma omp critical(rmsmp_linear_amax)
      amax = std::max(amax, mx);
    }
    if (want_max) *post.abs_max = amax;
    return;
  }

  // Rows schedule. Per calling thread, reused across calls (no allocation in steady state).
  thread_local std::vector<int8_t> xpad;
  thread_local std::vector<uint8_t> xu;
  thread_local std::vector<float> xstep, ysto;
  thread_local std::vector<int32_t> xsum;
  grow(xpad, size_t(T * Kp));
  grow(xu, size_t(T * Kp));
  grow(xstep, size_t(T));
  grow(xsum, size_t(T));
  thread_local std::vector<int32_t> asto;  // the fused path's int32 sums, laid out as ysto
  if (fused) grow(asto, size_t(T * total_rows));
  else grow(ysto, size_t(T * total_rows));
  const TokenRows all{xpad.data(), xu.data(), xstep.data(), xsum.data(), in_place ? in.q : xpad.data()};
  thread_local WorkRanges tile_ranges_tl;
  WorkRanges* tile_ranges = &tile_ranges_tl;
  tile_ranges->reset(int64_t(n_tiles), threads);
  float* yst = ysto.data();
  int32_t* ast = asto.data();
  // Each tile writes its rows' outputs as one contiguous T x nj block (layer l's block of stored rows
  // [s0, s0 + nj) starts at ysto[T * lcol[l] + s0 * T]); then the scatter to original row order by token. Writing y
  // through perm from the tiles directly would make threads share cache lines; writing ysto token-major made
  // every tile store 128-byte pieces of T rows far apart (store misses took ~70% of the epilogue).
  // A few tokens (an encoder at batch 1 x 16: 12 K values) quantize faster on this thread than a barrier
  // after a shared loop costs on these hosts; more are shared.
  const bool load_here = T * K <= 65536;
  // Prepared plain layers (no GELU, post ops, handoff or range) finish their main tiles in the kernel's
  // registers (GemmEpilogue) straight into y; only their side rows wait for the pass after the barrier, which
  // is skipped when no layer needs it. At BERT-base 1 x 16 the separate pass was 4% of the time.
  thread_local std::vector<char> rows_in_kernel_v;
  rows_in_kernel_v.assign(n, 0);
  bool need_pass = false;
  for (size_t l = 0; l < n; ++l) {
    // With post ops or int8 outputs only where the layer has no side rows (their outputs would need the post
    // ops after the pass's overwrite) and, with a residual, as the tokens schedule (kKernelResidualMaxRows):
    // a CNN's convs at 7 x 7 (49 tokens, this schedule) then write their int8 outputs from the tiles.
    rows_in_kernel_v[l] = kernel_epilogue_enabled() && isa == Isa::Avx512Vnni && fused && pr[l] && !gelu &&
                          !want_max &&
                          ((post.empty() && !post.q_out) ||
                           (side_of(l) == 0 && (!post.residual || ws[l]->rows < kKernelResidualMaxRows)));
    need_pass = need_pass || !rows_in_kernel_v[l] || side_of(l) > 0;
  }
  const char* rows_in_kernel = rows_in_kernel_v.data();
  if (load_here)
    for (int64_t t = 0; t < T; ++t) load_token(t, all, t);
#pragma omp parallel num_threads(threads)
  {
    if (!load_here) {
#pragma omp for schedule(static)
      for (int64_t t = 0; t < T; ++t) load_token(t, all, t);
    }
    // Tiles split by WorkRanges: a thread knows its next tile and has its weights fetched from memory while it
    // multiplies this one (at a few tokens the weights stream from DRAM, and their expansion stalled on it).
    const int64_t id = omp_get_thread_num();
    const float* st = all.step;
    const bool uniform = std::all_of(st, st + T, [&](float v) { return v == st[0]; });  // (GemmEpilogue::x_uniform)
    for (int64_t i = tile_ranges->claim(id); i >= 0; i = tile_ranges->claim(id)) {
      const Tile& tl = tile_list[i];
      thread_local std::vector<int8_t> panel;
      thread_local std::vector<int32_t> w_sum, acc;
      thread_local std::vector<float> bias;
      grow(panel, size_t(kRowTile * Kp));
      grow(w_sum, size_t(kRowTile));
      grow(acc, size_t(T * kRowTile));
      grow(bias, size_t(kRowTile));
      const int64_t next = tile_ranges->peek(id);
      const WeightBytes pf = next >= 0 ? tile_bytes(tile_list[next]) : WeightBytes{};
      if (fused && rows_in_kernel[tl.layer] && tl.slot0 < pr[tl.layer]->rows) {  // a main tile: rows j0 + i
        const RowMixedLinear& w = *ws[tl.layer];
        const GemmEpilogue epi{all.step, tl.wstep, w.bias ? w.bias + tl.j0 : nullptr,
                               post.residual ? post.residual + tl.j0 : nullptr, w.rows, post.act,
                               post.q_only && post.q_out ? nullptr : ys[tl.layer] + tl.j0,
                               post.q_out ? post.q_out + tl.j0 : nullptr, post.q_inv, post.q_max, uniform};
        run_gemm(tl, tile_weights(tl, panel.data(), w_sum.data()), all, T, nullptr, 0, pf, &epi);
      } else if (fused)
        run_gemm(tl, tile_weights(tl, panel.data(), w_sum.data()), all, T, ast + T * lc[tl.layer] + tl.slot0 * T, tl.nj,
                 pf);
      else
        run_tile(tl, all, T, panel.data(), w_sum.data(), acc.data(), bias.data(),
                 yst + T * lc[tl.layer] + tl.slot0 * T, tl.nj);
    }
    if (need_pass) {
#pragma omp barrier
    // Per token, each layer's outputs in original order. A layer with fp32 rows (dnnl_sgemm wrote them above)
    // takes the tile-by-tile scatter instead, which leaves those rows alone; post ops never reach here.
    // Tokens in blocks of up to kEpilogueTokens (at least 4 blocks per thread): a prepared layer's main tiles
    // are read tile by tile over the block (each tile's sums for those tokens are contiguous), not token by
    // token across every tile (at BERT-base 8 x 128 that walked 96 pages per token, 9% of the time).
    uint32_t mx = 0;
    const int64_t eb = std::max<int64_t>(1, std::min<int64_t>(kEpilogueTokens, T / (4 * int64_t(threads))));
#pragma omp for schedule(static)
    for (int64_t t0 = 0; t0 < T; t0 += eb)
    for (size_t l = 0; l < n; ++l) {
      if (fused && rows_in_kernel[l] && side_of(l) == 0) continue;  // finished in the kernel, post ops included
      const int64_t t1 = std::min(T, t0 + eb);
      if (fused && pr[l] && !rows_in_kernel[l])  // in-kernel layers: main rows written by their tiles
        epilogue_main_tiles(ast + T * lc[l], T, t0, t1, pr[l]->rows, all.step,
                            (fills[l] ? pr[l]->row_steps : pr[l]->steps).data(),
                            bsp + lc[l], ys[l]);
      for (int64_t t = t0; t < t1; ++t) {
        const RowMixedLinear& w = *ws[l];
        if (fused) {
          float* dst = ys[l] + t * w.rows;
          if (const CpuPreparedLinear* pp = pr[l]) {  // main rows written above; side rows over their holes
            // Side tiles follow the layer's main tiles (ceil(rows / kRowTile) of them).
            for (size_t i = lt[l] + size_t((pp->rows + kRowTile - 1) / kRowTile); i < lt[l + 1]; ++i) {
              const Tile& tl = tile_list[i];
              side_epilogue(ast + T * lc[l] + tl.slot0 * T + t * tl.nj, tl.orig, tl.nj, all.step[t], tl.wstep,
                            bsp + lc[l], dst);
            }
          } else {
            gather_epilogue(ast + T * lc[l], gof + lc[l], gst + lc[l], int32_t(t), w.rows, all.step[t],
                            wsp + lc[l], bsp + lc[l], dst);
          }
          if (gelu) gelu_rows(dst, w.rows);
          apply_post(dst, post.residual ? post.residual + t * w.rows : nullptr, w.rows, post.act);
          if (want_max) mx = std::max(mx, abs_max_bits(dst, w.rows));
          store_q_out(post, dst, w.rows, t * w.rows);
          continue;
        }
        if (all_int[l]) {
          mx = std::max(mx, gather_post(yst + T * lc[l], gof + lc[l], gst + lc[l], int32_t(t), w.rows,
                                        post.residual ? post.residual + t * w.rows : nullptr, post.act, want_max,
                                        ys[l] + t * w.rows));
          store_q_out(post, ys[l] + t * w.rows, w.rows, t * w.rows);
          continue;
        }
        for (size_t i = 0; i < n_tiles; ++i) {
          const Tile& tl = tile_list[i];
          if (tl.layer != l) continue;
          const float* src = yst + T * lc[l] + tl.slot0 * T + t * tl.nj;
          for (int64_t j = 0; j < tl.nj; ++j)
            if (tl.orig[j] >= 0) ys[l][t * w.rows + tl.orig[j]] = src[j];
        }
      }
    }
#pragma omp critical(rmsmp_linear_amax)
    amax = std::max(amax, mx);
    }
  }
  if (want_max) *post.abs_max = amax;
}

}  // namespace rmsmp

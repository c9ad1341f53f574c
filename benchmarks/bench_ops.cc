// Micro-benchmarks of the row-wise linear op: every scheme in the table x backend, on BERT/MiniLM shapes.
// Prints Google Benchmark's table (use --benchmark_format=json for machine-readable output). Backends: cpu
// (best ISA; RMSMP_CPU_ISA pins one), reference, and the OpenCL backend in both kernel styles.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "backends/backend.h"
#include "quant/row_mixed.h"

namespace rmsmp {
namespace {

struct Layer {
  std::vector<uint8_t> codes;
  std::vector<float> steps, bias, x, y;
  std::vector<int32_t> perm;
  RowMixedLinear lin;
};

Layer make_layer(QuantKind kind, int64_t tokens, int64_t rows, int64_t cols) {
  Layer L;
  std::mt19937_64 rng(1);
  std::normal_distribution<float> nd;
  std::vector<float> w(static_cast<size_t>(rows * cols));
  for (auto& v : w) v = nd(rng);
  const size_t rb = quant_row_bytes(kind, cols);
  L.codes.resize(size_t(rows) * rb);
  L.steps.resize(size_t(rows));
  for (int64_t r = 0; r < rows; ++r)
    L.steps[size_t(r)] = quant_quantize_pack_row_ref(kind, w.data() + r * cols, cols, ClipMode::MaxAbs, L.codes.data() + size_t(r) * rb);
  L.perm.resize(size_t(rows));
  for (int64_t r = 0; r < rows; ++r) L.perm[size_t(r)] = int32_t(r);
  L.bias.assign(size_t(rows), 0.1f);
  L.x.resize(size_t(tokens * cols));
  for (auto& v : L.x) v = nd(rng);
  L.y.resize(size_t(tokens * rows));
  L.lin.rows = rows, L.lin.cols = cols;
  L.lin.groups = {{kind, rows, L.codes.data(), L.steps.data()}};
  L.lin.perm = L.perm.data();
  L.lin.bias = L.bias.data();
  return L;
}

void BM_Linear(benchmark::State& st, const char* backend, QuantKind kind) {
  const int64_t tokens = st.range(0), rows = st.range(1), cols = st.range(2);
  Layer L = make_layer(kind, tokens, rows, cols);
  auto be = make_backend(backend);
  be->linear(L.lin, L.x.data(), tokens, L.y.data());  // warm-up: prepares / uploads the weights once
  for (auto _ : st) {
    be->linear(L.lin, L.x.data(), tokens, L.y.data());
    benchmark::DoNotOptimize(L.y.data());
  }
  st.counters["GMAC/s"] = benchmark::Counter(double(tokens * rows * cols), benchmark::Counter::kIsIterationInvariantRate,
                                             benchmark::Counter::kIs1000);
}

// One sequence's self-attention (every head), as the encoder calls it: q, k, v rows of the whole hidden state.
void BM_Attention(benchmark::State& st, const char* backend) {
  const int64_t len = st.range(0), heads = st.range(1), hd = st.range(2), H = heads * hd;
  std::mt19937_64 rng(2);
  std::normal_distribution<float> nd;
  std::vector<float> q(size_t(len * H)), k(q.size()), v(q.size()), out(q.size());
  for (auto* t : {&q, &k, &v})
    for (auto& x : *t) x = nd(rng);
  auto be = make_backend(backend);
  for (auto _ : st) {
    be->attention(q.data(), k.data(), v.data(), len, heads, hd, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  st.counters["GFLOP/s"] = benchmark::Counter(double(4 * len * len * H), benchmark::Counter::kIsIterationInvariantRate,
                                              benchmark::Counter::kIs1000);
}

void register_all() {
  for (const char* be : {"cpu", "reference"}) {  // BERT-base and MiniLM heads at 128 and 384 tokens
    auto* b = benchmark::RegisterBenchmark((std::string("attention/") + be).c_str(), BM_Attention, be);
    b->Args({128, 12, 64})->Args({128, 12, 32})->Args({384, 12, 64})->Unit(benchmark::kMicrosecond);
  }

  // opencl / opencl-fpga: the first OpenCL device (PoCL on CPU hosts; a GPU where one is installed). They
  // include the per-call activation upload and output download of the host-pointer Backend interface.
  for (const char* be : {"cpu", "reference", "opencl", "opencl-fpga"})
    for (const auto& s : kQuantSchemes) {
      const std::string bn = be;
      if (bn == "opencl-fpga" && s.kind == QuantKind::F32) continue;  // fp32 rows use the NDRange kernel there
      auto* b = benchmark::RegisterBenchmark((std::string("linear/") + be + "/" + s.name).c_str(), BM_Linear, be, s.kind);
      b->Args({16, 384, 384})->Args({128, 1536, 384})->Args({128, 384, 1536})->Unit(benchmark::kMicrosecond);
      if (bn != "cpu") b->Iterations(3);
    }
}

}  // namespace
}  // namespace rmsmp

int main(int argc, char** argv) {
  rmsmp::register_all();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}

// Micro-benchmarks of the row-wise linear op: every scheme in the table x backend, on BERT/MiniLM shapes.
// Prints Google Benchmark's table (use --benchmark_format=json for machine-readable output). Backends: cpu
// (best ISA; RMSMP_CPU_ISA pins one), reference, and the OpenCL backend in both kernel styles.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "backends/backend.h"
#include "backends/registry.h"
#include "quant/row_mixed.h"
#include "synthetic_linear.h"

namespace rmsmp {
void register_kernel_benchmarks();  // bench_kernels.cc: below the Backend interface

namespace {

// One layer of a single scheme from the shared builder (benchmarks/cases), with its input and output.
struct Layer {
  cases::SyntheticLinear w;
  std::vector<float> x, y;
};

Layer make_layer(QuantKind kind, int64_t tokens, int64_t rows, int64_t cols) {
  cases::SyntheticOptions so;
  so.permute = false, so.bias = 0.1f;
  Layer L{cases::make_synthetic_linear({{kind, rows}}, cols, so), {}, {}};
  std::mt19937_64 rng(2);
  std::normal_distribution<float> nd;
  L.x.resize(size_t(tokens * cols));
  for (auto& v : L.x) v = nd(rng);
  L.y.resize(size_t(tokens * rows));
  return L;
}

void BM_Linear(benchmark::State& st, const char* backend, QuantKind kind) {
  const int64_t tokens = st.range(0), rows = st.range(1), cols = st.range(2);
  Layer L = make_layer(kind, tokens, rows, cols);
  auto be = make_backend(backend);
  be->linear(L.w.lin, L.x.data(), tokens, L.y.data());  // warm-up: prepares / uploads the weights once
  for (auto _ : st) {
    be->linear(L.w.lin, L.x.data(), tokens, L.y.data());
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

  // "cpu" and every other backend of the table that runs here (registry.h). opencl / opencl-fpga: the first
  // OpenCL device (PoCL on CPU hosts; a GPU where one is installed); they include the per-call activation
  // upload and output download of the host-pointer Backend interface.
  static std::vector<std::string> names = {"cpu"};
  for (const BackendKind& k : backend_kinds())
    if (!k.alias && k.available()) names.push_back(k.name);
  for (const std::string& bn : names)
    for (const auto& s : kQuantSchemes) {
      const char* be = bn.c_str();
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
  rmsmp::register_kernel_benchmarks();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}

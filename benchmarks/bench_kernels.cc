// Micro-benchmarks below the Backend interface, for the AVX-512 VNNI path (skipped on other CPUs):
//   vnni_tiles/T/K/N: gemm_s8_avx512vnni alone on a VNNI panel of N rows (prepared order), T tokens of K int8
//     values, sums stored; GMAC/s against the `rmsmp-bench --suite peak` loop's rate (one thread).
//   avx2_tiles/T/K/N/max_w: gemm_s8_avx2 alone on row-major panels of 32 rows (as the driver unpacks them per call)
//     with weights up to max_w (64: PoT-4's unsigned path, 7: Fixed-4's int16 sums, 127: Fixed-8's sign path).
//   epilogue_rows/{portable,avx512}: the pass over int32 sums of ResNet-50's 56 x 56 residual convs (3136 tokens
//     x 256 rows in blocks of 64: residual, float and int8 outputs, ReLU), epilogue_rows against
//     epilogue_rows_avx512 (the same bits).
#include <benchmark/benchmark.h>

#include <array>
#include <random>
#include <vector>

#include "backends/backend.h"
#include "backends/cpu/gemm_s8.h"
#include "backends/cpu/isa.h"

namespace rmsmp {
namespace {

bool vnni_here() { return isa_supported(Isa::Avx512Vnni); }

void BM_VnniTiles(benchmark::State& st) {
  if (!vnni_here()) return st.SkipWithError("no AVX-512 VNNI on this CPU");
  const int64_t T = st.range(0), K = st.range(1), N = st.range(2);
  std::mt19937 rng(3);
  std::vector<int8_t> x(size_t(T * K)), w(size_t(N * K));
  for (auto& v : x) v = int8_t(int(rng() % 255) - 127);
  for (auto& v : w) v = int8_t(rng());  // a VNNI panel holds w + 128 as bytes: any byte is a weight
  std::vector<int32_t> x_sum(static_cast<size_t>(T)), acc(static_cast<size_t>(T * N));
  for (int64_t t = 0; t < T; ++t)
    for (int64_t k = 0; k < K; ++k) x_sum[size_t(t)] += x[size_t(t * K + k)];
  GemmS8Args a{};
  a.x = x.data(), a.n_tokens = T, a.x_sum = x_sum.data(), a.k_padded = K, a.max_w = 127, a.acc_stride = N;
  for (auto _ : st) {
    for (int64_t r = 0; r < N; r += 32) {  // the drivers' tiles of 32 rows
      a.w = w.data() + r * K, a.n_rows = std::min<int64_t>(32, N - r), a.acc = acc.data() + r;
      gemm_s8_avx512vnni(a);
    }
    benchmark::DoNotOptimize(acc.data());
  }
  st.counters["GMAC/s"] = benchmark::Counter(double(T * K * N), benchmark::Counter::kIsIterationInvariantRate,
                                             benchmark::Counter::kIs1000);
}

void BM_Avx2Tiles(benchmark::State& st) {
  if (!isa_supported(Isa::Avx2)) return st.SkipWithError("no AVX2 on this CPU");
  const int64_t T = st.range(0), K = st.range(1), N = st.range(2), max_w = st.range(3);
  std::mt19937 rng(5);
  std::vector<int8_t> x(size_t(T * K)), w(size_t(N * K));
  std::vector<uint8_t> xu(x.size());
  for (size_t i = 0; i < x.size(); ++i) x[i] = int8_t(int(rng() % 255) - 127), xu[i] = uint8_t(x[i] + 128);
  for (auto& v : w) v = int8_t(int(rng() % (2 * max_w + 1)) - int(max_w));
  std::vector<int32_t> w_sum(static_cast<size_t>(N)), acc(static_cast<size_t>(T * N));
  for (int64_t r = 0; r < N; ++r)
    for (int64_t k = 0; k < K; ++k) w_sum[size_t(r)] += w[size_t(r * K + k)];
  GemmS8Args a{};
  a.x = x.data(), a.xu = xu.data(), a.n_tokens = T, a.k_padded = K, a.max_w = int(max_w), a.acc_stride = N;
  for (auto _ : st) {
    for (int64_t r = 0; r < N; r += 32) {
      a.w = w.data() + r * K, a.w_sum = w_sum.data() + r, a.n_rows = std::min<int64_t>(32, N - r),
      a.acc = acc.data() + r;
      gemm_s8_avx2(a);
    }
    benchmark::DoNotOptimize(acc.data());
  }
  st.counters["GMAC/s"] = benchmark::Counter(double(T * K * N), benchmark::Counter::kIsIterationInvariantRate,
                                             benchmark::Counter::kIs1000);
}

void BM_EpilogueRows(benchmark::State& st, bool avx512) {
  if (avx512 && !vnni_here()) return st.SkipWithError("no AVX-512 VNNI on this CPU");
  const int64_t T = 3136, N = 256, B = 64;
  std::mt19937 rng(4);
  std::vector<int32_t> acc(size_t(B * N));
  for (auto& v : acc) v = int32_t(rng() % 20001) - 10000;
  std::vector<float> res(size_t(T * N), 0.5f), y(res.size()), xs(size_t(T), 0.01f), ws(size_t(N), 0.02f),
      bias(size_t(N), 0.1f);
  std::vector<int8_t> q(res.size());
  const auto pass = avx512 ? epilogue_rows_avx512 : epilogue_rows;
  for (auto _ : st) {
    for (int64_t t = 0; t < T; t += B)  // one block's sums, as the tokens schedule leaves them
      pass(acc.data(), N, B, N, xs.data() + t, ws.data(), bias.data(), res.data() + t * N, LinearPost::Act::Relu,
           false, y.data() + t * N, q.data() + t * N, 10.f, 127);
    benchmark::DoNotOptimize(q.data());
  }
}

}  // namespace

void register_kernel_benchmarks() {
  // ResNet-50's conv shapes per token block (K = C_in x taps, N = C_out) and one 7 x 7 stage conv (49 tokens).
  benchmark::RegisterBenchmark("vnni_tiles", BM_VnniTiles)
      ->Args({64, 64, 256})->Args({64, 128, 512})->Args({64, 576, 64})->Args({64, 1152, 128})
      ->Args({49, 4608, 512})->Unit(benchmark::kMicrosecond);
  // MiniLM-L6 / BERT-base linear shapes at 128 and 16 tokens, per weight range.
  auto* avx2 = benchmark::RegisterBenchmark("avx2_tiles", BM_Avx2Tiles)->Unit(benchmark::kMicrosecond);
  for (int64_t max_w : {64, 7, 127})
    for (auto tkn : std::vector<std::array<int64_t, 3>>{{128, 384, 1536}, {128, 1536, 384}, {16, 768, 3072}})
      avx2->Args({tkn[0], tkn[1], tkn[2], max_w});
  benchmark::RegisterBenchmark("epilogue_rows/portable", BM_EpilogueRows, false)->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("epilogue_rows/avx512", BM_EpilogueRows, true)->Unit(benchmark::kMicrosecond);
}

}  // namespace rmsmp

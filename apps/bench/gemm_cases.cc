// GEMM suite: one linear layer at M tokens x K -> N, our row-group layer (prepared at load as a model's are;
// activation quantization, every row group's integer GEMM and the epilogue included) beside oneDNN's fp32 and u8s8s32 GEMMs on the same shape.
#include <dnnl.h>
#include <omp.h>

#include <random>

#include "backends/backend.h"
#include "bench/bench_cases.h"
#include "bench/bench_report.h"
#include "bench/peak.h"
#include "quant/row_mixed.h"
#include "rmsmp/error.h"

namespace rmsmp::bench {

namespace {

// A layer with the given (kind, rows) groups, rows permuted as a converter would store them.
struct Layer {
  std::vector<std::vector<uint8_t>> codes;
  std::vector<std::vector<float>> steps;
  std::vector<float> bias;
  std::vector<int32_t> perm;
  RowMixedLinear lin;
};

Layer make_layer(const std::vector<std::pair<QuantKind, int64_t>>& groups, int64_t k, uint64_t seed) {
  Layer L;
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> nd(0.f, 0.02f);
  int64_t rows = 0;
  for (const auto& g : groups) rows += g.second;
  std::vector<float> w(static_cast<size_t>(k));
  for (const auto& [kind, n] : groups) {
    const size_t rb = quant_row_bytes(kind, k);
    L.codes.emplace_back(size_t(n) * rb);
    L.steps.emplace_back(size_t(n));
    for (int64_t r = 0; r < n; ++r) {
      for (auto& v : w) v = nd(rng);
      L.steps.back()[size_t(r)] = quant_quantize_pack_row_ref(kind, w.data(), k, ClipMode::MaxAbs, L.codes.back().data() + size_t(r) * rb);
    }
  }
  L.perm.resize(size_t(rows));
  for (int64_t r = 0; r < rows; ++r) L.perm[size_t(r)] = int32_t(r);
  std::shuffle(L.perm.begin(), L.perm.end(), rng);
  L.bias.assign(size_t(rows), 0.01f);
  L.lin.name = "bench";
  L.lin.rows = rows, L.lin.cols = k;
  for (size_t i = 0; i < groups.size(); ++i)
    L.lin.groups.push_back({groups[i].first, groups[i].second, L.codes[i].data(), L.steps[i].data()});
  L.lin.perm = L.perm.data();
  L.lin.bias = L.bias.data();
  return L;
}

// Row counts of the default mix: 5% Fixed-8 and 30% Fixed-4 rounded, PoT-4 the rest.
std::vector<std::pair<QuantKind, int64_t>> mix_groups(int64_t n) {
  const int64_t n8 = std::max<int64_t>(1, (n * 5 + 50) / 100), n4 = (n * 30 + 50) / 100;
  return {{QuantKind::Pow2x4, n - n8 - n4}, {QuantKind::Fixed4, n4}, {QuantKind::Fixed8, n8}};
}

}  // namespace

std::vector<nlohmann::json> run_gemm(const std::string& engine, const std::string& device,
                                     const std::vector<GemmShape>& shapes, int threads, int repeats,
                                     double int8_peak, double fp32_peak) {
  omp_set_num_threads(threads);
  std::vector<nlohmann::json> out;
  for (const GemmShape& s : shapes) {
    std::mt19937_64 rng(7);
    std::normal_distribution<float> nd;
    std::vector<float> x(size_t(s.m * s.k)), y(size_t(s.m * s.n));
    for (auto& v : x) v = nd(rng);
    std::vector<double> ms;
    bool is_int8 = true;
    if (engine.rfind("rmsmp-", 0) == 0) {
      std::vector<std::pair<QuantKind, int64_t>> groups;
      if (engine == "rmsmp-fp32") groups = {{QuantKind::F32, s.n}}, is_int8 = false;
      else if (engine == "rmsmp-fixed8") groups = {{QuantKind::Fixed8, s.n}};
      else if (engine == "rmsmp-mix") groups = mix_groups(s.n);
      else RMSMP_FAIL(ErrorCode::InvalidArgument, "unknown gemm engine '" << engine << "'");
      Layer L = make_layer(groups, s.k, 11);
      auto be = make_backend(device);
      L.lin.prepared = be->prepare(L.lin);  // as a model's load does: the layout its kernels stream
      ms = time_calls([&] { be->linear(L.lin, x.data(), s.m, y.data()); }, repeats, 2);
    } else if (engine == "onednn-fp32") {
      is_int8 = false;
      std::vector<float> w(size_t(s.n * s.k));
      for (auto& v : w) v = nd(rng);
      ms = time_calls([&] {
        RMSMP_CHECK(dnnl_sgemm('N', 'T', s.m, s.n, s.k, 1.f, x.data(), s.k, w.data(), s.k, 0.f, y.data(), s.n) == dnnl_success,
                    ErrorCode::Internal, "dnnl_sgemm failed");
      }, repeats, 2);
    } else if (engine == "onednn-int8") {
      std::vector<uint8_t> a(size_t(s.m * s.k));
      std::vector<int8_t> b(size_t(s.n * s.k));
      std::vector<int32_t> c(size_t(s.m * s.n));
      for (auto& v : a) v = uint8_t(rng() & 0x7F);
      for (auto& v : b) v = int8_t(int(rng() % 255) - 127);
      const int32_t co = 0;
      ms = time_calls([&] {
        RMSMP_CHECK(dnnl_gemm_u8s8s32('N', 'T', 'F', s.m, s.n, s.k, 1.f, a.data(), s.k, 0, b.data(), s.k, 0, 0.f,
                                      c.data(), s.n, &co) == dnnl_success,
                    ErrorCode::Internal, "dnnl_gemm_u8s8s32 failed");
      }, repeats, 2);
    } else {
      RMSMP_FAIL(ErrorCode::InvalidArgument, "unknown gemm engine '" << engine << "'");
    }
    nlohmann::json r = {{"suite", "gemm"}, {"engine", engine}, {"device", engine.rfind("onednn", 0) == 0 ? "cpu" : device},
                        {"shape", std::to_string(s.m) + "x" + std::to_string(s.k) + "x" + std::to_string(s.n)},
                        {"m", s.m}, {"k", s.k}, {"n", s.n}, {"batch", 1}, {"seq", s.m}, {"threads", threads}};
    put_timings(r, ms);
    const double gops = 2.0 * double(s.m * s.n * s.k) / (r["median_ms"].get<double>() * 1e6);
    r["gops"] = gops;
    const double peak = is_int8 ? int8_peak : fp32_peak;
    if (peak > 0) r["fraction_of_peak"] = gops / (2 * peak);
    out.push_back(r);
  }
  return out;
}

std::vector<nlohmann::json> run_peaks(int threads, int repeats) {
  const Isa isa = isa_best();
  const Peak i8 = measure_int8_peak(isa, threads, repeats), f32 = measure_fp32_peak(isa, threads, repeats);
  return {{{"suite", "peak"}, {"engine", "peak-int8"}, {"shape", i8.loop}, {"threads", threads}, {"gmacs", i8.gmacs},
           {"median_ms", 0}, {"device", "cpu"}},
          {{"suite", "peak"}, {"engine", "peak-fp32"}, {"shape", f32.loop}, {"threads", threads}, {"gmacs", f32.gmacs},
           {"median_ms", 0}, {"device", "cpu"}}};
}

}  // namespace rmsmp::bench

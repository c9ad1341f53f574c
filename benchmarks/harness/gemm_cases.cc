// GEMM suite: one linear layer at M tokens x K -> N, our row-group layer (prepared at load as a model's are;
// activation quantization, every row group's integer GEMM and the epilogue included) beside oneDNN's fp32 and u8s8s32 GEMMs on the same shape.
#include <dnnl.h>
#include <omp.h>

#include <random>

#include "backends/backend.h"
#include "harness/bench_cases.h"
#include "harness/bench_report.h"
#include "harness/peak.h"
#include "quant/row_mixed.h"
#include "rmsmp/error.h"
#include "synthetic_linear.h"

namespace rmsmp::bench {

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
      else if (engine == "rmsmp-mix") groups = cases::mix_groups(s.n);
      else RMSMP_FAIL(ErrorCode::InvalidArgument, "unknown gemm engine '" << engine << "'");
      cases::SyntheticOptions so;
      so.seed = 11, so.sigma = 0.02f, so.bias = 0.01f, so.name = "bench";
      cases::SyntheticLinear L = cases::make_synthetic_linear(groups, s.k, so);
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
  const Isa isa = isa_selected();  // RMSMP_CPU_ISA=avx2 on an AVX-512 host: the loop the AVX2 kernels are held to
  const Peak i8 = measure_int8_peak(isa, threads, repeats), f32 = measure_fp32_peak(isa, threads, repeats);
  return {{{"suite", "peak"}, {"engine", "peak-int8"}, {"shape", i8.loop}, {"threads", threads}, {"gmacs", i8.gmacs},
           {"median_ms", 0}, {"device", "cpu"}},
          {{"suite", "peak"}, {"engine", "peak-fp32"}, {"shape", f32.loop}, {"threads", threads}, {"gmacs", f32.gmacs},
           {"median_ms", 0}, {"device", "cpu"}}};
}

}  // namespace rmsmp::bench

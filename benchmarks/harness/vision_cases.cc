// Vision suite: one image (batch 1) through the public VisionModel API, preprocessed input given (decoding
// and resizing are not timed). Records: images_per_s, the model's GMACs and the conv layers' average bits.
#include <omp.h>

#include <random>

#include "harness/bench_cases.h"
#include "harness/bench_report.h"
#include "rmsmp/vision.h"

namespace rmsmp::bench {

std::vector<nlohmann::json> run_vision(const std::string& engine, const std::string& device, const E2eCase& c,
                                       int threads, int repeats) {
  omp_set_num_threads(threads);
  LoadOptions lo;
  lo.backend = device;
  auto model = VisionModel::load(c.model_path, lo);
  const VisionInfo& vi = model->info();
  std::mt19937 rng(5);
  std::normal_distribution<float> nd;
  std::vector<float> x(size_t(vi.height * vi.width * vi.channels));
  for (auto& v : x) v = nd(rng);
  const auto ms = time_calls([&] { model->logits(x.data(), int64_t(x.size())); }, repeats, 1);
  nlohmann::json r = {{"suite", "vision"}, {"engine", engine}, {"device", vi.backend}, {"model", c.model},
                      {"weights", c.weights}, {"batch", 1}, {"seq", vi.height}, {"threads", threads},
                      {"gmacs", vi.gmacs}, {"model_bytes", vi.file_bytes}, {"avg_weight_bits", vi.avg_weight_bits}};
  put_timings(r, ms);
  r["images_per_s"] = 1e3 / r["median_ms"].get<double>();
  const std::string suffix = "-static.rmsmp";  // rmsmp-bench --act-range static names its conversions so
  const std::string& p = c.model_path;
  r["act_range"] = p.size() >= suffix.size() && p.compare(p.size() - suffix.size(), suffix.size(), suffix) == 0
                       ? "static"
                       : "dynamic";
  return {r};
}

}  // namespace rmsmp::bench

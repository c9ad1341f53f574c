// End-to-end suite: pooled embeddings through the public API (Model + Context, as a service would call it)
// for batches of equal-length random-id sequences. Memory: VmRSS / VmHWM of this process after the case.
#include <fstream>
#include <random>

#include "harness/bench_cases.h"
#include "harness/bench_report.h"
#include "rmsmp/context.h"
#include "rmsmp/model.h"

namespace rmsmp::bench {

namespace {
double proc_status_mb(const char* key) {
  std::ifstream f("/proc/self/status");
  for (std::string l; std::getline(f, l);)
    if (l.rfind(key, 0) == 0) return std::stod(l.substr(std::string(key).size() + 1)) / 1024.0;  // kB
  return 0;
}
}  // namespace

std::vector<nlohmann::json> run_e2e(const std::string& engine, const std::string& device, const E2eCase& c,
                                    const std::vector<int>& batches, const std::vector<int>& seqs, int threads,
                                    int repeats) {
  LoadOptions lo;
  lo.backend = device;
  auto model = Model::load(c.model_path, lo);
  ContextOptions co;
  co.threads = threads;
  Context ctx(model, co);
  std::mt19937 rng(5);
  std::vector<nlohmann::json> out;
  for (int seq : seqs) {
    for (int b : batches) {
      std::vector<Tokenized> batch(static_cast<size_t>(b));
      for (auto& t : batch) {
        t.ids.resize(size_t(seq));
        t.type_ids.assign(size_t(seq), 0);
        for (auto& id : t.ids) id = int32_t(1000 + rng() % 20000);  // ordinary word pieces in both vocabularies
        t.ids.front() = 101, t.ids.back() = 102;                    // [CLS] ... [SEP] (BERT uncased ids)
      }
      const auto ms = time_calls([&] { ctx.embed(batch); }, repeats, 1);
      nlohmann::json r = {{"suite", "e2e"}, {"engine", engine}, {"device", model->info().backend}, {"model", c.model},
                          {"weights", c.weights}, {"batch", b}, {"seq", seq}, {"threads", threads},
                          {"model_bytes", model->info().file_bytes}, {"avg_weight_bits", model->info().avg_weight_bits}};
      put_timings(r, ms);
      r["tokens_per_s"] = double(b) * seq / (r["median_ms"].get<double>() * 1e-3);
      r["rss_mb"] = proc_status_mb("VmRSS:");
      r["peak_rss_mb"] = proc_status_mb("VmHWM:");
      out.push_back(r);
    }
  }
  return out;
}

}  // namespace rmsmp::bench

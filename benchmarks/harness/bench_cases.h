// rmsmp-bench suites. Each runs inside one process and returns records (bench_report.h); the driver runs
// every (engine, model) in separate processes and merges them.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "synthetic_linear.h"

namespace rmsmp::bench {

using GemmShape = cases::GemmShape;  // tokens x in-features -> out-features (benchmarks/cases)

// Engines: rmsmp-fp32 | rmsmp-fixed8 | rmsmp-mix (65/30/5 row groups, counted as the converter does: cases::mix_groups) on `device` (a backend name),
// onednn-fp32 (dnnl_sgemm) | onednn-int8 (dnnl_gemm_u8s8s32; no activation quantization in its time).
// int8 engines' fraction_of_peak is against int8_peak_gmacs, fp32 against fp32_peak_gmacs (0: omitted).
std::vector<nlohmann::json> run_gemm(const std::string& engine, const std::string& device,
                                     const std::vector<GemmShape>& shapes, int threads, int repeats,
                                     double int8_peak_gmacs, double fp32_peak_gmacs);

// Peak records: engine "peak-int8" and "peak-fp32" with gmacs and the loop used.
std::vector<nlohmann::json> run_peaks(int threads, int repeats);

struct E2eCase {
  std::string model;       // minilm-l6 | bert-base
  std::string model_path;  // converted .rmsmp for this engine
  std::string weights;     // "real" | "random"
};
// Pooled embeddings of `batch` random-id sequences of `seq` tokens (packed batch, one Context reused).
std::vector<nlohmann::json> run_e2e(const std::string& engine, const std::string& device, const E2eCase& c,
                                    const std::vector<int>& batches, const std::vector<int>& seqs, int threads,
                                    int repeats);

// Vision: batch-1 latency of a converted CNN (VisionModel) on a random preprocessed image; "seq" holds the
// input height so the Markdown tables can share the e2e layout.
std::vector<nlohmann::json> run_vision(const std::string& engine, const std::string& device, const E2eCase& c,
                                       int threads, int repeats);

}  // namespace rmsmp::bench

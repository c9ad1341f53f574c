// rmsmp-convert's engine: HF BERT checkpoint -> .rmsmp file with RMSMP (or baseline) row assignment.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "calibration.h"
#include "row_assign.h"

namespace rmsmp {

inline constexpr const char* kConverterVersion = "0.1.0";

struct ConvertOptions {
  std::string in_dir, out_path;
  std::string scheme = "rmsmp";  // rmsmp | fp32 | fixed8 | fixed4 | pot4 | layerwise | random
  Ratios ratios;
  ClipMode clip = ClipMode::Mse;
  // --clip hessian: the MSE clip, then each row's step refined by its layer-output error e^T H e (clip_search.h);
  // needs the calibration H, so it applies where rows are rounded with gptq.
  bool clip_hessian = false;
  SchemeRule rule = SchemeRule::Variance;
  // --allocation: false (uniform, the paper's): every layer gets the same ratios, the hardware constraint of
  // one row-parallel layout. true (global, rmsmp only): the Fixed-8 rows are one ranking across all unpinned
  // layers by 4-bit error per weight, within the same total 8-bit weight budget; the other rows of each layer
  // split Fixed-4 : PoT-4 in the ratios' proportion.
  bool global_allocation = false;
  int act_bits = 8;  // 8: dynamic per-token; 4: static per-layer clip from calibration
  bool gptq = false; // error-compensated rounding through the calibration Hessian (gptq.h); needs calibration
  // Optional: statistics already computed for this checkpoint and calib_sentences (the demo reuses them
  // across conversions); when null, convert_checkpoint calibrates itself if the scheme needs it.
  std::shared_ptr<const CalibrationResult> calibration;
  std::vector<std::string> calib_sentences;
  std::string calib_source;     // file name, for provenance
  uint64_t seed = 20211011;     // random baseline
  nlohmann::json ratio_provenance;  // how the ratios were derived (--ratios auto: device, cores, assumptions)
  // Word-embedding table: "fp32", or row-quantized "fixed8" | "fixed4" (per-row step, --clip). Empty:
  // default_embeddings(scheme). Only the word table: positions and types are small.
  std::string embeddings;
  int64_t max_seq_length = 0;   // > 0: overrides the checkpoint's (sentence-transformers) limit, <= max positions
  std::string command_line;     // for provenance
  // QAT plans (qat_plan.h). plan_path: take every row's scheme, step and value from this plan (the trainer's
  // output) and its fp32 tensors over the checkpoint's; no assignment, no rounding of our own. export_plan_path:
  // also write the conversion's rows as a plan (the trainer's starting point).
  std::string plan_path, export_plan_path;
};

// Returns the report (per-layer rows per scheme, score statistics, bits; model totals). Throws rmsmp::Error.
nlohmann::json convert_checkpoint(const ConvertOptions& opt, const std::function<void(const std::string&)>& log = {});

// Calibration statistics for a checkpoint, to share between several conversions (ConvertOptions::calibration).
std::shared_ptr<const CalibrationResult> calibrate_checkpoint(const std::string& in_dir,
                                                              const std::vector<std::string>& sentences);

// fp32 for --scheme fp32, fixed8 for the uniform fixed8 baseline, fixed4 for every other scheme (MiniLM-L6 with
// the default mix: 13.1 MB = 0.58 bytes per parameter, SST-2 dev 77.98 vs 78.10 with fp32 embeddings).
inline const char* default_embeddings(const std::string& scheme) {
  return scheme == "fp32" ? "fp32" : scheme == "fixed8" ? "fixed8" : "fixed4";
}

// All valid --scheme values.
const std::vector<std::string>& convert_scheme_names();
// The table's integer schemes (fixed8, fixed4, pot4, ...), in table order: the uniform baselines that the demo
// and the comparison tables convert beside RMSMP.
const std::vector<std::string>& uniform_baseline_schemes();

}  // namespace rmsmp

// rmsmp-convert's engine: HF BERT checkpoint -> .rmsmp file with RMSMP (or baseline) row assignment.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "row_assign.h"

namespace rmsmp {

inline constexpr const char* kConverterVersion = "0.1.0";

struct ConvertOptions {
  std::string in_dir, out_path;
  std::string scheme = "rmsmp";  // rmsmp | fp32 | fixed8 | fixed4 | pot4 | layerwise | random
  Ratios ratios;
  ClipMode clip = ClipMode::MaxAbs;
  SchemeRule rule = SchemeRule::Variance;
  int act_bits = 8;  // 8: dynamic per-token; 4: static per-layer clip from calibration
  std::vector<std::string> calib_sentences;
  std::string calib_source;     // file name, for provenance
  uint64_t seed = 20211011;     // random baseline
  std::string command_line;     // for provenance
};

// Returns the report (per-layer rows per scheme, score statistics, bits; model totals). Throws rmsmp::Error.
nlohmann::json convert_checkpoint(const ConvertOptions& opt, const std::function<void(const std::string&)>& log = {});

// All valid --scheme values.
const std::vector<std::string>& convert_scheme_names();

}  // namespace rmsmp

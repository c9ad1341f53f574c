// Per-layer row assignment and packing shared by the BERT and CNN converters: one plan per row-wise layer,
// the scheme's assignment (rmsmp, the baselines), then packing grouped by scheme into the model file.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <Eigen/Core>
#include <nlohmann/json.hpp>

#include "convert.h"
#include "io/model_format.h"
#include "quant/row_mixed.h"
#include "row_assign.h"

namespace rmsmp {

// What a conversion needs, from its options; validates scheme, activation bits and ratios (InvalidArgument).
struct ConvertNeeds {
  bool is_fp32 = false, need_h = false, use_gptq = false, need_calib = false;
};
ConvertNeeds check_convert_options(const ConvertOptions& opt);

// The header's "quantization" fields both converters share (scheme, ratios, clip, rules, rounding, activation
// bits and mode, the random seed, the layer-wise list); `h_inputs` says what H sums over, the act_mode strings
// how 8- and 4-bit activations are quantized. Callers add their own fields.
nlohmann::json quantization_json(const ConvertOptions& opt, const ConvertNeeds& n, const std::string& h_inputs,
                                 const std::string& act_mode8, const std::string& act_mode4,
                                 const nlohmann::json& layerwise_info);
// The conversion report: "model" (out, scheme, avg bits, file bytes, seconds since t0, plus `extra`),
// "quantization", "provenance", "layers".
nlohmann::json conversion_report(const ConvertOptions& opt, double avg_bits, double seconds, const nlohmann::json& q,
                                 const nlohmann::json& prov, const nlohmann::json& layers,
                                 const nlohmann::json& extra = nlohmann::json::object());

struct LayerPlan {
  std::string name;
  int64_t rows = 0, cols = 0;
  // Set: every row of this layer takes this scheme whatever --scheme says (fp32 models stay fp32); the layer
  // is outside the layer-wise budget. The CNN converter pins the first conv and the classifier this way.
  std::optional<QuantKind> pinned;
  RowScores scores;
  bool has_scores = false;  // set before plan_layers: these scores are used as they are
  std::vector<QuantKind> assign;
};

// Scores (when the scheme needs H) and assigns every plan per opt.scheme; returns the layer-wise baseline's
// list of Fixed-8 layers (null for other schemes).
nlohmann::json plan_layers(std::vector<LayerPlan>& plans, const ConvertOptions& opt,
                           const std::function<const std::vector<float>&(const LayerPlan&)>& weights,
                           const std::function<const Eigen::MatrixXf&(const LayerPlan&)>& hessian);

// One layer's rows as they are packed: w (rows x cols, row-major) with w[r][c] == steps[r] * q for a level q of
// kinds[r] (F32 rows: the weights as given). The packer re-rounds w with the same steps, which gives back q.
struct QuantizedRows {
  std::vector<QuantKind> kinds;
  std::vector<float> steps, w;
};

// Steps from the scores where they exist (the ones the assignment measured), else from `clip`; values rounded
// with GPTQ through `gptq_h` (gptq.h) when given, else each to its nearest level.
QuantizedRows quantize_rows(const std::vector<float>& w, int64_t rows, int64_t cols, const std::vector<QuantKind>& assign,
                            ClipMode clip, const RowScores* scores, const Eigen::MatrixXf* gptq_h,
                            bool clip_hessian = false);

// One layer as it is packed: its rows (quantize_rows), bias, shape, input quantizer, and the scores that chose
// its rows (reported per group; may be null).
struct LinearToPack {
  std::string name;
  const QuantizedRows* rows = nullptr;
  const std::vector<float>* bias = nullptr;
  int64_t n_rows = 0, n_cols = 0;
  ActQuant act;
  const RowScores* scores = nullptr;
};
// Packs one layer's rows grouped by scheme into the writer; adds its "linears" entry and fills its report
// entry (the entry as models/row_mixed_writer.h writes it).
void pack_linear_rows(ModelWriter& mw, const LinearToPack& l, nlohmann::json& linears, nlohmann::json& report_layer);

// A lookup table (the word embeddings) with every row in `kind` (an integer scheme), per-row steps from `clip`,
// nearest rounding.
QuantizedRows quantize_table(const std::vector<float>& w, int64_t rows, int64_t cols, QuantKind kind, ClipMode clip);
// Packs it into the header's "tables" section: {rows, cols, perm, groups} as a linear's, without bias or act.
// Rows are looked up, not multiplied: row r is float(q) * step (bind_row_mixed_table, models/row_mixed_binding.h).
void pack_table_rows(ModelWriter& mw, const std::string& name, const QuantizedRows& qr, int64_t rows, int64_t cols,
                     nlohmann::json& tables, nlohmann::json& report);

}  // namespace rmsmp

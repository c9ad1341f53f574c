// Writes the header entries that row_mixed_binding.h binds: a row-wise mixed layer ("linears" entry) or a
// row-quantized table ("tables" entry), with their tensors. The converters call this, so the entry's fields,
// tensor names and activation modes are spelled only here and in the binder:
//   { "rows", "cols", "perm": <name>.perm (I32 [rows], stored -> original row),
//     "bias": <name>.bias (F32 [rows]; linears only),
//     "groups": [ { "scheme", "rows", "codes": <name>.g_<scheme>.codes (U8 [rows, row bytes]),
//                   "steps": <name>.g_<scheme>.steps (F32 [rows]; null for fp32) } ... ] (stored order),
//     "act": { "bits", "mode": dynamic | static | dynamic_tensor, "clip", "signed": false after a ReLU }
//            (linears only) }
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "quant/row_mixed.h"

namespace rmsmp {

class ModelWriter;

// One stored row group: its rows' original indices, packed codes (row after row) and steps.
struct PackedRowGroup {
  QuantKind kind;
  std::vector<int32_t> rows;
  std::vector<uint8_t> codes;
  std::vector<float> steps;
};

// The "act" entry of a linear, and its mode's name.
nlohmann::json act_to_json(const ActQuant& a);

// Adds the tensors of a layer (bias non-null) or table (bias null) to mw and returns its header entry; groups
// in stored order; act is written for layers only.
nlohmann::json write_row_mixed(ModelWriter& mw, const std::string& name, int64_t rows, int64_t cols,
                               const std::vector<PackedRowGroup>& groups, const float* bias, const ActQuant& act);

}  // namespace rmsmp

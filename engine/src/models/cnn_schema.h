// The CNN graph's header object ("architecture", format in cnn.h) in both directions, with typed structs: the
// converter builds a CnnSchema and writes it (cnn_schema_to_json); the loader (cnn_bind) and the FPGA cost
// model read it (cnn_schema_from_json), which checks everything that does not need the weights: value shapes,
// the order of definitions, windows against shapes, residuals, groups, the output. The field names are spelled
// only in cnn_schema.cc.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "models/cnn.h"

namespace rmsmp {

struct CnnSchema {
  std::string name;
  int64_t num_classes = 0;
  std::vector<std::string> labels;  // empty, or one per class
  CnnInput input;
  std::string input_note;               // where the preprocessing numbers come from (informative)
  std::vector<CnnValue> values;         // value 0 is the input image
  std::vector<CnnNode> nodes;           // in execution order; a conv's `layer` indexes layer_names
  std::vector<std::string> layer_names; // each conv's "linears" entry, in node order
  int output = 0;
};

nlohmann::json cnn_schema_to_json(const CnnSchema& s);
// Throws InvalidFile (or Unsupported for an unknown op) naming `where` and the node.
CnnSchema cnn_schema_from_json(const nlohmann::json& architecture, const std::string& where);

}  // namespace rmsmp

// QAT plans (qat_plan.h) of vision models: what `rmsmp-convert --export-plan` writes for a CNN and
// converters/train/qat_cnn.py reads, trains and writes back for `rmsmp-convert --plan`. Per conv NAME (the
// file's "linears" key):
//   NAME.weight [cout, cols], NAME.bias [cout]  the fp32 teacher: BatchNorm folded, cols in (ky, kx, ci) order
//                                                as the engine stores them (models/cnn.h); the trainer never
//                                                changes these, and --plan checks them against the checkpoint
//   NAME.weight.rmsmp_{dequant,kind,step}       the quantized rows (qat_plan.h's invariants)
//   NAME.bias.rmsmp_quant [cout]                 the quantized model's bias (bias-corrected by the converter,
//                                                trained after)
//   NAME.rmsmp_act [3]                           the input's quantizer: bits (8 or 4); clip (> 0: static, step =
//                                                clip / max_q; 0: per tensor, each image's max |x|); 1 when the
//                                                input follows a ReLU (the unsigned grid, quant/row_mixed.h)
//   __metadata__ "architecture": the CNN graph (models/cnn.h), "act", "source", "history".
#pragma once
#include <map>
#include <string>
#include <vector>

#include "layer_plan.h"
#include "quant/row_mixed.h"
#include "vision_arch.h"

namespace rmsmp {

struct VisionPlanLayers {  // one entry per spec.convs[i]
  std::vector<QuantizedRows> rows;
  std::vector<std::vector<float>> biases;
  std::vector<ActQuant> acts;
  std::map<std::string, std::string> metadata;
};

void write_vision_plan(const std::string& path, const CnnModelSpec& spec, const VisionPlanLayers& layers);
// Throws InvalidFile naming the plan and the tensor when a conv is missing, shaped otherwise, holds another
// teacher than `spec` (a plan of another checkpoint), or an activation quantizer the engine cannot run.
VisionPlanLayers read_vision_plan(const std::string& path, const CnnModelSpec& spec);

}  // namespace rmsmp

// QAT plan: the file rmsmp-convert and the quantization-aware training tool (converters/train/qat_encoder.py)
// exchange. `rmsmp-convert --export-plan P` writes the post-training result; the trainer reads it, trains, and
// writes the same format; `rmsmp-convert --plan P` packs it bit-exactly (no assignment, no rounding of its own).
//
// Format: a safetensors file, every tensor F32, with canonical engine names (hf_checkpoint.h):
//   NAME                      every fp32 tensor of the checkpoint (embeddings, LayerNorms, biases, and the
//                             linears' fp32 weights: the teacher's on export, the trainer's latent ones after QAT)
//   W.rmsmp_dequant [rows, cols]  for each row-quantized tensor W ("encoder.0.q.weight", "embeddings.word"): the
//                             values the model computes with, steps[r] * q for a level q of kinds[r]
//   W.rmsmp_kind    [rows]    the row's QuantKind code (quant.h: 0 fp32, 1 fixed8, 2 fixed4, 3 pot4)
//   W.rmsmp_step    [rows]    the row's step
//   __metadata__: "format": "rmsmp-qat-plan/1", "architecture": the BertConfig JSON, "act": how activations
//                 are quantized ("dynamic per-token int8"), "source": the checkpoint folder, "history": what
//                 produced the plan (converter options, then each training run).
// Invariants checked on read: names unique, kinds known, steps finite and > 0 (0 only for an all-zero row),
// every dequantized value within 1e-6 (relative) of steps[r] * q for the level q the scheme rounds it to.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "layer_plan.h"
#include "safetensors.h"

namespace rmsmp {

inline constexpr const char* kQatPlanFormat = "rmsmp-qat-plan/1";

struct QatPlan {
  F32TensorMap fp32;                                // NAME -> (shape, values)
  std::map<std::string, QuantizedRows> quantized;   // W -> rows (shape in rows_cols)
  std::map<std::string, std::pair<int64_t, int64_t>> rows_cols;
  std::map<std::string, std::string> metadata;
};

void write_qat_plan(const std::string& path, const QatPlan& plan);
// Throws InvalidFile naming the file, tensor and row that break the format's invariants.
QatPlan read_qat_plan(const std::string& path);

}  // namespace rmsmp

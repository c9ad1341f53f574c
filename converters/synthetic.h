// Known BERT-family shapes and synthetic checkpoints of those shapes with random weights, for timing
// (rmsmp-bench's BERT-base) and for cost models (rmsmp-fpga --arch). Random weights are fine for speed, never
// for accuracy: nothing measured on them is reported as accuracy.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace rmsmp {

struct BertArch {
  const char* name;  // "minilm-l6", "bert-base"
  int64_t vocab, hidden, layers, heads, ffn, max_positions;
  int64_t linear_params() const { return layers * (4 * hidden * hidden + 2 * hidden * ffn); }
};

const std::vector<BertArch>& bert_archs();
const BertArch& bert_arch(const std::string& name);  // throws InvalidArgument listing the known names

// Writes an HF-style folder (config.json, vocab.txt, model.safetensors; BERT init: N(0, 0.02) weights, unit
// LayerNorm) to `dir`. vocab_txt: a vocab.txt to copy (its line count must equal arch.vocab); empty: synthetic
// tokens "[PAD] [UNK] [CLS] [SEP] [MASK] tok5 tok6 ...". Deterministic for a given seed.
void write_random_bert_checkpoint(const std::string& dir, const BertArch& arch, uint64_t seed = 1,
                                  const std::string& vocab_txt = {});

// Writes a torchvision-style ResNet state dict (resnet18 | resnet34 | resnet50: conv1, bn1, layerS.B.*, fc;
// 1000 classes) with He-normal conv weights and identity BatchNorm statistics (gamma 1, beta 0, mean 0, var 1)
// to `path` (.safetensors). For timing only (rmsmp-bench --suite vision). Deterministic for a given seed.
void write_random_resnet_checkpoint(const std::string& path, const std::string& arch, uint64_t seed = 1);

}  // namespace rmsmp

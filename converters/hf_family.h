// One Hugging Face encoder family as rmsmp-convert reads it: its names for the engine's canonical tensors
// (models/encoder_tensors.h), what its config.json says in its own keys, and the few ways it differs from BERT
// (position offset, token types, relative position bias, template, classification head). Each family is one
// file, converters/hf_<family>.cc; hf_checkpoint.cc reads any family through this description only. A new
// family of the same shape touches three files: its hf_<family>.cc, its line in hf_families() (hf_family.cc)
// and the source list of converters/CMakeLists.txt; then a golden script and a test.
#pragma once
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rmsmp/tokenizer/tokenizer.h"

namespace rmsmp {

struct HfFamily {
  std::vector<std::string> model_types;  // config.json "model_type" values it reads
  std::string model_prefix;              // state-dict prefix of the base model ("bert."), also read without it
  // Canonical embedding names -> the family's (without the prefix), and per encoder layer
  // "<layers>.<l>.<parts[part]>.<weight|bias>" for the parts q k v attn_out ffn_in ffn_out ln_attn ln_ffn.
  std::map<std::string, std::string> fixed;
  std::string layers;
  std::map<std::string, std::string> parts;
  // RoBERTa's positions: HF position ids start at pad_token_id + 1; the rows before are dropped at conversion.
  bool position_offset = false;
  bool token_types = true;            // false: one zero row (the family has no token-type embeddings)
  tok::Template tmpl = tok::Template::Bert;
  // The sequence-classification head on the first token: pooler module (under the prefix when
  // pooler_prefixed) with its activation, then the classifier module (no prefix).
  std::string head_pooler, head_classifier, head_activation = "tanh";
  bool pooler_prefixed = false;
  // The family's config.json keys rewritten into BERT's (hidden_size, num_hidden_layers, ...) and its checks;
  // `where` names the file in errors. Null: BERT's keys already.
  void (*normalize_config)(nlohmann::json& cfg, const std::string& where) = nullptr;
  // Extra "architecture" entries (MPNet's relative attention), from the raw config. Null: none.
  void (*architecture_extras)(const nlohmann::json& cfg, nlohmann::json& arch) = nullptr;
};

// The families rmsmp-convert reads, and the one for a model_type (Unsupported, listing them, otherwise).
const std::vector<const HfFamily*>& hf_families();
const HfFamily& hf_family(const std::string& model_type, const std::string& where);

// Families that others start from (hf_<family>.cc; the registry in hf_family.cc declares the rest itself).
const HfFamily& hf_bert_family();
const HfFamily& hf_roberta_family();  // RoBERTa, XLM-R, CamemBERT

// HF position ids of a position-offset family start here (RoBERTa: pad_token_id + 1).
inline int64_t hf_position_offset(const nlohmann::json& cfg) { return cfg.value("pad_token_id", int64_t(1)) + 1; }

}  // namespace rmsmp

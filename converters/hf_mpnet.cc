// MPNet (model_type "mpnet"): the post-LayerNorm encoder under its names, no token types (one zero row),
// RoBERTa's positions, template and head, plus the relative position bias shared by every layer
// (transformers' MPNet: max_distance 128, fixed in relative_position_bucket).
#include "hf_family.h"

namespace rmsmp {

namespace {
void normalize(nlohmann::json& cfg, const std::string&) {
  cfg["type_vocab_size"] = 1;
  cfg["hidden_act"] = cfg.value("hidden_act", "gelu");
}
void extras(const nlohmann::json& cfg, nlohmann::json& arch) {
  arch["relative_attention"] = {{"num_buckets", cfg.value("relative_attention_num_buckets", 32)}, {"max_distance", 128}};
}
}  // namespace

const HfFamily& hf_mpnet_family() {
  static const HfFamily f = [] {
    HfFamily h = hf_roberta_family();
    h.model_types = {"mpnet"};
    h.model_prefix = "mpnet.";
    h.fixed = {{"embeddings.word", "embeddings.word_embeddings.weight"},
               {"embeddings.position", "embeddings.position_embeddings.weight"},
               {"embeddings.ln.gamma", "embeddings.LayerNorm.weight"},
               {"embeddings.ln.beta", "embeddings.LayerNorm.bias"},
               {"encoder.relative_bias", "encoder.relative_attention_bias.weight"}};
    h.layers = "encoder.layer";
    h.parts = {{"q", "attention.attn.q"},        {"k", "attention.attn.k"},   {"v", "attention.attn.v"},
               {"attn_out", "attention.attn.o"}, {"ffn_in", "intermediate.dense"}, {"ffn_out", "output.dense"},
               {"ln_attn", "attention.LayerNorm"}, {"ln_ffn", "output.LayerNorm"}};
    h.token_types = false;
    h.normalize_config = normalize;
    h.architecture_extras = extras;
    return h;
  }();
  return f;
}

}  // namespace rmsmp

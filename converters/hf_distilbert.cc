// DistilBERT (model_type "distilbert"): the same post-LayerNorm encoder under its own names and config keys,
// no token-type table (one zero row), and DistilBertForSequenceClassification's pre_classifier (ReLU) head.
#include "hf_family.h"

#include "rmsmp/error.h"

namespace rmsmp {

namespace {
void normalize(nlohmann::json& cfg, const std::string& where) {
  RMSMP_CHECK(cfg.value("activation", "gelu") == "gelu", ErrorCode::Unsupported,
              where << ": DistilBERT activation '" << cfg.value("activation", "") << "' (only gelu)");
  cfg["hidden_size"] = cfg.at("dim");
  cfg["num_hidden_layers"] = cfg.at("n_layers");
  cfg["num_attention_heads"] = cfg.at("n_heads");
  cfg["intermediate_size"] = cfg.at("hidden_dim");
  cfg["type_vocab_size"] = 1;
  cfg["layer_norm_eps"] = 1e-12;
  cfg["hidden_act"] = "gelu";
}
}  // namespace

const HfFamily& hf_distilbert_family() {
  static const HfFamily f = [] {
    HfFamily h;
    h.model_types = {"distilbert"};
    h.model_prefix = "distilbert.";
    h.fixed = {{"embeddings.word", "embeddings.word_embeddings.weight"},
               {"embeddings.position", "embeddings.position_embeddings.weight"},
               {"embeddings.ln.gamma", "embeddings.LayerNorm.weight"},
               {"embeddings.ln.beta", "embeddings.LayerNorm.bias"}};
    h.layers = "transformer.layer";
    h.parts = {{"q", "attention.q_lin"},      {"k", "attention.k_lin"},  {"v", "attention.v_lin"},
               {"attn_out", "attention.out_lin"}, {"ffn_in", "ffn.lin1"}, {"ffn_out", "ffn.lin2"},
               {"ln_attn", "sa_layer_norm"},  {"ln_ffn", "output_layer_norm"}};
    h.token_types = false;
    h.head_pooler = "pre_classifier", h.head_classifier = "classifier", h.head_activation = "relu";
    h.normalize_config = normalize;
    return h;
  }();
  return f;
}

}  // namespace rmsmp

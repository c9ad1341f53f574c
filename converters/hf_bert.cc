// BERT (model_type "bert"): the names every other family is measured against.
#include "hf_family.h"

namespace rmsmp {

const HfFamily& hf_bert_family() {
  static const HfFamily f = [] {
    HfFamily h;
    h.model_types = {"bert"};
    h.model_prefix = "bert.";
    h.fixed = {{"embeddings.word", "embeddings.word_embeddings.weight"},
               {"embeddings.position", "embeddings.position_embeddings.weight"},
               {"embeddings.token_type", "embeddings.token_type_embeddings.weight"},
               {"embeddings.ln.gamma", "embeddings.LayerNorm.weight"},
               {"embeddings.ln.beta", "embeddings.LayerNorm.bias"}};
    h.layers = "encoder.layer";
    h.parts = {{"q", "attention.self.query"},        {"k", "attention.self.key"},
               {"v", "attention.self.value"},        {"attn_out", "attention.output.dense"},
               {"ffn_in", "intermediate.dense"},     {"ffn_out", "output.dense"},
               {"ln_attn", "attention.output.LayerNorm"}, {"ln_ffn", "output.LayerNorm"}};
    // BertForSequenceClassification: the pooler (tanh) under the prefix, then "classifier".
    h.head_pooler = "pooler.dense", h.pooler_prefixed = true, h.head_classifier = "classifier";
    return h;
  }();
  return f;
}

}  // namespace rmsmp

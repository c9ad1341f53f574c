// RoBERTa, XLM-R and CamemBERT (model_type "roberta", "xlm-roberta", "camembert"): BERT's encoder under BERT's
// names with the "roberta." prefix (base_model_prefix "roberta" for all three), positions from pad_token_id + 1,
// one token type, the <s> a </s></s> b </s> template, and RobertaForSequenceClassification's dense + tanh +
// out_proj head.
#include "hf_family.h"

namespace rmsmp {

const HfFamily& hf_roberta_family() {
  static const HfFamily f = [] {
    HfFamily h = hf_bert_family();
    h.model_types = {"roberta", "xlm-roberta", "camembert"};
    h.model_prefix = "roberta.";
    h.position_offset = true;
    h.tmpl = tok::Template::Roberta;
    h.head_pooler = "classifier.dense", h.pooler_prefixed = false, h.head_classifier = "classifier.out_proj";
    return h;
  }();
  return f;
}

}  // namespace rmsmp

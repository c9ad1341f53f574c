// The special-token templates (BERT's and RoBERTa's) and longest-first truncation, shared by every tokenizer.
#include "rmsmp/tokenizer/tokenizer.h"

namespace rmsmp::tok {

Encoding Tokenizer::encode(std::string_view a, std::optional<std::string_view> b, size_t max_length) const {
  if (cls_id_ < 0 || sep_id_ < 0)
    throw TokenizerError("the vocabulary has no [CLS]/[SEP] (<s>/</s>) pieces for the template (raw ids still work)");
  const bool roberta = template_ == Template::Roberta;
  const size_t specials = b ? (roberta ? 4 : 3) : 2;
  if (max_length < specials + 1) throw TokenizerError("max_length " + std::to_string(max_length) + " is too small");
  // Neither sequence can keep more than max_length - specials tokens, and longest-first truncation gives the
  // same result for any length above that, so each is tokenized only until it passes it.
  const size_t keep = max_length - specials;
  bool stop_a = false, stop_b = false;
  std::vector<int32_t> ta = encode_raw_limited(a, keep, &stop_a), tb;
  if (b) tb = encode_raw_limited(*b, keep, &stop_b);
  Encoding e;
  e.untruncated_length = ta.size() + tb.size() + specials;
  e.untruncated_exact = !stop_a && !stop_b;
  // Longest-first: drop one token at a time from the longer sequence (ties trim the second, as in HF).
  while (ta.size() + tb.size() + specials > max_length) {
    e.truncated = true;
    if (ta.size() > tb.size()) ta.pop_back(); else tb.pop_back();
  }
  e.ids.push_back(cls_id_);
  e.ids.insert(e.ids.end(), ta.begin(), ta.end());
  e.ids.push_back(sep_id_);
  e.type_ids.assign(e.ids.size(), 0);
  if (b) {
    if (roberta) e.ids.push_back(sep_id_);  // <s> a </s></s> b </s>
    e.ids.insert(e.ids.end(), tb.begin(), tb.end());
    e.ids.push_back(sep_id_);
    e.type_ids.resize(e.ids.size(), roberta ? 0 : 1);
  }
  return e;
}

}  // namespace rmsmp::tok

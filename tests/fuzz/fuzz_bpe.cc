// Fuzzes free text through the byte-level BPE tokenizer (added tokens with lstrip, GPT-2's split pattern,
// the merge heap, UTF-8 decoding, the RoBERTa template's pair truncation, offsets) with the committed tiny RoBERTa
// vocabulary.
#include "hf_checkpoint.h"
#include "rmsmp/tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto tk = [] {
    std::vector<std::string> notes;
    return rmsmp::hf_load_tokenizer(RMSMP_FUZZ_BPE_DIR, notes);
  }();
  const std::string_view s(reinterpret_cast<const char*>(data), size);
  try {
    const size_t cut = size ? data[0] % (size + 1) : 0;
    tk->encode(s.substr(0, cut), s.substr(cut), 5 + size % 40);
    std::vector<int32_t> ids;
    std::vector<std::pair<uint32_t, uint32_t>> spans;
    tk->encode_raw_spans(s, ids, spans);
    // Every span lies in the text, in order of its start, one per id.
    if (spans.size() != ids.size()) __builtin_trap();
    for (size_t i = 0; i < spans.size(); ++i)
      if (spans[i].first > spans[i].second || spans[i].second > size || (i && spans[i].first < spans[i - 1].first))
        __builtin_trap();
  } catch (const rmsmp::tok::TokenizerError&) {
  }
  return 0;
}

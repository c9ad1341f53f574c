// Fuzzes free text through the byte-level BPE tokenizer (added tokens with lstrip, GPT-2's split pattern,
// the merge heap, UTF-8 decoding, the RoBERTa template's pair truncation) with the committed tiny RoBERTa
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
    tk->encode_raw(s);
  } catch (const rmsmp::tok::TokenizerError&) {
  }
  return 0;
}

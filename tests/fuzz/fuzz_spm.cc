// Fuzzes free text through the SentencePiece tokenizer (ALBERT's real model) with lowercasing and accent
// stripping on: our strict UTF-8 check and case folding, then the library's normaliser and unigram search,
// then the BERT pair template with truncation.
#include "rmsmp/tokenizer/sentencepiece.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const rmsmp::tok::SentencePieceTokenizer tk(
      rmsmp::tok::SentencePieceTokenizer::read_model_file(RMSMP_FUZZ_SPM_MODEL),
      rmsmp::tok::SentencePieceConfig{true, true, "[CLS]", "[SEP]"}, "albert");
  const std::string_view s(reinterpret_cast<const char*>(data), size);
  try {
    const size_t cut = size ? data[0] % (size + 1) : 0;
    tk.encode(s.substr(0, cut), s.substr(cut), 3 + size % 40);
  } catch (const rmsmp::tok::TokenizerError&) {
  }
  return 0;
}

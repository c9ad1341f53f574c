// Fuzzes free text through the SentencePiece tokenizer (ALBERT's real model): with lowercasing and accent
// stripping on (our strict UTF-8 check and case folding, then the library's normaliser and unigram search, then
// the BERT pair template with truncation), and without folding in XLM-R's fairseq numbering, where byte spans are
// made from the library's alignment: every span must lie in the text, one per id.
#include "rmsmp/tokenizer/sentencepiece.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string model = rmsmp::tok::SentencePieceTokenizer::read_model_file(RMSMP_FUZZ_SPM_MODEL);
  static const rmsmp::tok::SentencePieceTokenizer tk(model, rmsmp::tok::SentencePieceConfig{true, true, "[CLS]", "[SEP]"},
                                                     "albert");
  static const rmsmp::tok::SentencePieceTokenizer plain(
      model,
      rmsmp::tok::SentencePieceConfig{false, false, "[CLS]", "[SEP]",
                                      rmsmp::tok::SentencePieceConfig::Fairseq::XlmRoberta},
      "albert-fairseq");
  const std::string_view s(reinterpret_cast<const char*>(data), size);
  try {
    const size_t cut = size ? data[0] % (size + 1) : 0;
    tk.encode(s.substr(0, cut), s.substr(cut), 3 + size % 40);
    std::vector<int32_t> ids;
    std::vector<std::pair<uint32_t, uint32_t>> spans;
    if (!plain.encode_raw_spans(s, ids, spans) || ids.size() != spans.size()) __builtin_trap();
    for (const auto& [b, e] : spans)
      if (b > e || e > size) __builtin_trap();
  } catch (const rmsmp::tok::TokenizerError&) {
  }
  return 0;
}

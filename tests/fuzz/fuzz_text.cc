// Fuzzes free text through the WordPiece tokenizer (normaliser, UTF-8 decoding, pre-tokenizer, WordPiece,
// pair truncation) with a small vocabulary of real BERT pieces.
#include "rmsmp/tokenizer/wordpiece.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const rmsmp::tok::WordPieceTokenizer tk(
      {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "movie", "##s", "##ing", "un", "##aff", "##able", "!",
       ",", "猫", "a", "é", "##é"},
      rmsmp::tok::WordPieceConfig{});
  const std::string_view s(reinterpret_cast<const char*>(data), size);
  try {
    const size_t cut = size ? data[0] % (size + 1) : 0;
    tk.encode(s.substr(0, cut), s.substr(cut), 3 + size % 40);
  } catch (const rmsmp::tok::TokenizerError&) {
  }
  return 0;
}

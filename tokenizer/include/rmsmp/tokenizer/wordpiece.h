// BERT WordPiece tokenizer with Hugging Face `tokenizers` parity (BertNormalizer + BertPreTokenizer +
// WordPiece + BERT template). Immutable once built; every method is const and thread-safe.
// No dependency on the engine: errors are TokenizerError (the engine rethrows them as rmsmp::Error).
#pragma once
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace rmsmp::tok {

class TokenizerError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

struct WordPieceConfig {
  bool clean_text = true;            // drop control chars / U+FFFD / NUL, map whitespace to ' '
  bool handle_chinese_chars = true;  // put spaces around CJK ideographs
  bool lowercase = true;
  std::optional<bool> strip_accents;  // unset: follows `lowercase` (HF's rule)
  std::string unk_token = "[UNK]", cls_token = "[CLS]", sep_token = "[SEP]", pad_token = "[PAD]",
              mask_token = "[MASK]";
  std::string continuing_subword_prefix = "##";
  int max_input_chars_per_word = 100;
};

// Token ids of one model input: [CLS] a [SEP] (b [SEP]) with token type ids.
struct Encoding {
  std::vector<int32_t> ids;
  std::vector<int32_t> type_ids;
  bool truncated = false;
  size_t untruncated_length = 0;  // length the input would have had without truncation
};

class WordPieceTokenizer {
 public:
  WordPieceTokenizer(std::vector<std::string> vocab, WordPieceConfig cfg);
  // vocab.txt: one token per line, id = line number (0-based). Throws TokenizerError naming the file.
  static std::vector<std::string> read_vocab_file(const std::string& path);

  // Normalise + pre-tokenise + WordPiece, no special tokens. Throws TokenizerError on invalid UTF-8.
  std::vector<int32_t> encode_raw(std::string_view text) const;
  // With special tokens; truncates to max_length tokens (longest-first for pairs, as HF does) and reports it.
  Encoding encode(std::string_view a, std::optional<std::string_view> b, size_t max_length) const;

  // The normalised text (exposed for tests and debugging).
  std::u32string normalize(std::string_view utf8) const;

  const std::vector<std::string>& vocab() const { return vocab_; }
  const WordPieceConfig& config() const { return cfg_; }
  int32_t token_id(const std::string& token) const;  // -1 if absent
  int32_t cls_id() const { return cls_id_; }
  int32_t sep_id() const { return sep_id_; }

 private:
  void wordpiece(const std::u32string& word, std::vector<int32_t>& out) const;
  std::vector<std::string> vocab_;
  std::unordered_map<std::string, int32_t> ids_;
  WordPieceConfig cfg_;
  int32_t unk_id_, cls_id_, sep_id_;
};

// UTF-8 helpers (strict: overlong forms, surrogates and values > U+10FFFF are errors).
std::u32string utf8_decode(std::string_view s);  // throws TokenizerError with the byte offset
std::string utf8_encode(std::u32string_view s);

}  // namespace rmsmp::tok

// BERT WordPiece tokenizer with Hugging Face `tokenizers` parity (BertNormalizer + BertPreTokenizer +
// WordPiece; the BERT template comes from Tokenizer). Immutable once built; thread-safe.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "rmsmp/tokenizer/tokenizer.h"

namespace rmsmp::tok {

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

class WordPieceTokenizer : public Tokenizer {
 public:
  WordPieceTokenizer(std::vector<std::string> vocab, WordPieceConfig cfg);
  // vocab.txt: one token per line, id = line number (0-based). Throws TokenizerError naming the file.
  static std::vector<std::string> read_vocab_file(const std::string& path);

  // Normalise + pre-tokenise + WordPiece, no [CLS]/[SEP] added (special tokens typed in the text are matched
  // as Hugging Face's added tokens are). Throws TokenizerError on invalid UTF-8.
  std::vector<int32_t> encode_raw(std::string_view text) const override;
  // Stops after the word that takes it past `limit` ids (the words before it are exact).
  std::vector<int32_t> encode_raw_limited(std::string_view text, size_t limit, bool* stopped) const override;
  size_t vocab_size() const override { return vocab_.size(); }
  std::string piece(int32_t id) const override {
    return id >= 0 && size_t(id) < vocab_.size() ? vocab_[size_t(id)] : std::string();
  }
  int32_t token_id(const std::string& token) const override;
  std::string type() const override { return "wordpiece"; }

  // The normalised text (exposed for tests and debugging).
  std::u32string normalize(std::string_view utf8) const;
  // normalize(), and per normalised character the index of the input character it came from.
  std::u32string normalize_tracked(std::string_view utf8, std::vector<uint32_t>* origins) const;
  bool encode_raw_spans(std::string_view text, std::vector<int32_t>& ids,
                        std::vector<std::pair<uint32_t, uint32_t>>& spans) const override;

  const std::vector<std::string>& vocab() const { return vocab_; }
  const WordPieceConfig& config() const { return cfg_; }

 private:
  // Greedy longest-match pieces of one word; bounds (optional) gets each piece's [begin, end) in the word
  // (an unknown word: the whole word).
  void wordpiece(const std::u32string& word, std::vector<int32_t>& out,
                 std::vector<std::pair<uint32_t, uint32_t>>* bounds = nullptr) const;
  bool encode_impl(std::string_view text, size_t limit, std::vector<int32_t>& out,
                   std::vector<std::pair<uint32_t, uint32_t>>* spans) const;
  bool encode_segment(std::string_view text, uint32_t base, size_t limit, std::vector<int32_t>& out,
                      std::vector<std::pair<uint32_t, uint32_t>>* spans) const;
  std::vector<std::string> vocab_;
  std::unordered_map<std::string, int32_t> ids_;
  std::vector<std::pair<std::string, int32_t>> specials_;  // matched in raw text before normalisation
  WordPieceConfig cfg_;
  int32_t unk_id_;
  // The longest vocabulary entry in code points: no longer piece can match, so the longest-match search of a
  // word is O(length x this) instead of O(length^2) per position (a 4,000-character word with a raised
  // max_input_chars_per_word took 38 s).
  size_t max_piece_chars_ = 0;
};

}  // namespace rmsmp::tok

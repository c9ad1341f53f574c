// The tokenizer interface shared by WordPiece, SentencePiece and byte-level BPE: raw piece ids from text, plus
// the model family's special-token template with longest-first truncation. Immutable once built; thread-safe.
// No dependency on the engine: errors are TokenizerError (the engine rethrows them as rmsmp::Error).
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rmsmp::tok {

class TokenizerError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// The special tokens encode() adds: BERT's [CLS] a [SEP] (b [SEP]) with token types 0 for a and 1 for b, or
// RoBERTa's <s> a </s> (</s> b </s>) with every type 0 (RoBERTa models have one token type). cls/sep are the
// tokenizer's [CLS]/[SEP] or <s>/</s>.
enum class Template { Bert, Roberta };

// Token ids of one model input, with the template's special tokens and token type ids.
struct Encoding {
  std::vector<int32_t> ids;
  std::vector<int32_t> type_ids;
  bool truncated = false;
  // Length the input would have had without truncation. When tokenization stopped early (a text can add
  // nothing once it has more tokens than max_length), a lower bound, and untruncated_exact is false.
  size_t untruncated_length = 0;
  bool untruncated_exact = true;
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  // Normalise and split into piece ids, no special tokens. Throws TokenizerError on invalid UTF-8.
  virtual std::vector<int32_t> encode_raw(std::string_view text) const = 0;
  // The same ids, but a tokenizer may stop once it has more than `limit` of them (*stopped then true): what
  // truncation will cut is not computed, so a huge text costs what its kept tokens cost. The default runs
  // encode_raw whole. Every returned id equals encode_raw's at its position.
  virtual std::vector<int32_t> encode_raw_limited(std::string_view text, size_t limit, bool* stopped) const {
    (void)limit;
    *stopped = false;
    return encode_raw(text);
  }
  // encode_raw's ids and, per id, the byte span [begin, end) of `text` it was made from (a word-piece's own
  // characters; an unknown word's whole word), as Hugging Face tokenizers' offsets. false: this tokenizer
  // cannot say (ids and spans are left empty).
  virtual bool encode_raw_spans(std::string_view text, std::vector<int32_t>& ids,
                                std::vector<std::pair<uint32_t, uint32_t>>& spans) const {
    (void)text, ids.clear(), spans.clear();
    return false;
  }
  virtual size_t vocab_size() const = 0;
  virtual int32_t token_id(const std::string& token) const = 0;  // -1 if absent
  virtual std::string type() const = 0;                           // "wordpiece" | "sentencepiece" | "bpe"
  virtual std::string piece(int32_t id) const = 0;                // the vocabulary's string; "" if out of range

  // With the template's special tokens; truncates to max_length tokens (longest-first for pairs, ties trim the second
  // sequence, as HF does) and reports it in the result.
  Encoding encode(std::string_view a, std::optional<std::string_view> b, size_t max_length) const;
  int32_t cls_id() const { return cls_id_; }
  int32_t sep_id() const { return sep_id_; }
  Template template_kind() const { return template_; }
  void set_template(Template t) { template_ = t; }  // before the tokenizer is shared (it is then immutable)

 protected:
  int32_t cls_id_ = -1, sep_id_ = -1;  // set by the derived constructor
  Template template_ = Template::Bert;
};

// UTF-8 helpers (strict: overlong forms, surrogates and values > U+10FFFF are errors).
std::u32string utf8_decode(std::string_view s);  // throws TokenizerError with the byte offset
std::string utf8_encode(std::u32string_view s);
// NFD + drop combining marks (Mn), then Rust-style lowercase; either step optional (HF's BertNormalizer
// order). Throws TokenizerError on invalid UTF-8.
std::u32string strip_accents_lower(std::u32string s, bool strip_accents, bool lowercase);
// The same, with origins[j] = the index in s of the character that output character j came from.
std::u32string strip_accents_lower(std::u32string s, bool strip_accents, bool lowercase, std::vector<uint32_t>& origins);

}  // namespace rmsmp::tok

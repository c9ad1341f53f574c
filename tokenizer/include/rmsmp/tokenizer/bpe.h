// Byte-level BPE (GPT-2, RoBERTa) with Hugging Face `tokenizers` parity: added tokens matched in the raw text,
// the ByteLevel pre-tokenizer (GPT-2's split pattern, each byte shown as a printable character), then the
// merges applied lowest rank first. No normaliser (RoBERTa has none). Immutable once built; thread-safe.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "rmsmp/tokenizer/tokenizer.h"

namespace rmsmp::tok {

// A token matched in the raw text before pre-tokenisation (tokenizer.json's "added_tokens"): "<mask>" typed in
// a sentence is the <mask> id. lstrip/rstrip: the whitespace on that side goes with the token (RoBERTa's
// <mask> has lstrip). single_word tokens are refused at construction: their word-boundary rule is not here.
struct AddedToken {
  std::string content;
  int32_t id = -1;
  bool lstrip = false, rstrip = false, single_word = false;
};

struct BpeConfig {
  bool add_prefix_space = false;  // a space before each text that does not start with one (" hello" = "hello")
  std::string bos_token = "<s>", eos_token = "</s>";  // the template's first and separator tokens
  std::vector<AddedToken> added;
};

class ByteLevelBpeTokenizer : public Tokenizer {
 public:
  // vocab: id -> piece, in the byte-as-character form ("Ġthe"); merges in rank order. Every merge's parts and
  // result must be pieces. Throws TokenizerError naming the bad merge or token.
  ByteLevelBpeTokenizer(std::vector<std::string> vocab, std::vector<std::pair<std::string, std::string>> merges,
                        BpeConfig cfg);

  std::vector<int32_t> encode_raw(std::string_view text) const override;
  // Stops after the pre-token that takes it past `limit` ids (the ones before are exact).
  std::vector<int32_t> encode_raw_limited(std::string_view text, size_t limit, bool* stopped) const override;
  // Byte spans as `tokenizers` reports offsets with RoBERTa's trim_offsets: a piece's bytes in the text,
  // widened to whole characters, without its leading/trailing spaces (except the space add_prefix_space
  // added, which stands for the text's first character); an added token spans the whitespace it strips.
  bool encode_raw_spans(std::string_view text, std::vector<int32_t>& ids,
                        std::vector<std::pair<uint32_t, uint32_t>>& spans) const override;
  size_t vocab_size() const override { return vocab_.size(); }
  int32_t token_id(const std::string& token) const override;
  std::string type() const override { return "bpe"; }
  std::string piece(int32_t id) const override {
    return id >= 0 && size_t(id) < vocab_.size() ? vocab_[size_t(id)] : std::string();
  }

  // GPT-2's pre-tokenisation of one stretch without added tokens: byte ranges [begin, end) of `text` (exposed
  // for tests).
  static std::vector<std::pair<size_t, size_t>> split_words(std::string_view text);

  const std::vector<std::string>& vocab() const { return vocab_; }
  const std::vector<std::pair<std::string, std::string>>& merges() const { return merges_; }
  const BpeConfig& config() const { return cfg_; }

 private:
  struct Merge {
    int32_t rank, id;
  };
  using Spans = std::vector<std::pair<uint32_t, uint32_t>>;
  // Appends the BPE pieces of one pre-token's bytes; bounds (optional) gets each piece's [begin, end) in it.
  void bpe_word(std::string_view bytes, std::vector<int32_t>& out, Spans* bounds) const;
  // One stretch without added tokens, at byte `base` of the text; spans (optional) in the text's bytes.
  bool encode_segment(std::string_view text, uint32_t base, size_t limit, std::vector<int32_t>& out,
                      Spans* spans) const;
  bool encode_impl(std::string_view text, size_t limit, std::vector<int32_t>& out, Spans* spans) const;

  std::vector<std::string> vocab_;
  std::vector<std::pair<std::string, std::string>> merges_;
  BpeConfig cfg_;
  std::unordered_map<std::string, int32_t> ids_;
  std::unordered_map<uint64_t, Merge> merge_of_;  // (left id << 32 | right id) -> rank and merged id
  int32_t byte_id_[256];                          // each byte's one-character piece; -1: not in the vocabulary
};

}  // namespace rmsmp::tok

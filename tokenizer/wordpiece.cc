// WordPiece: BertPreTokenizer (split on whitespace, isolate punctuation), greedy longest-match with "##".
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>

#include "rmsmp/tokenizer/wordpiece.h"

namespace rmsmp::tok {

bool wp_is_whitespace(char32_t c);
bool wp_is_punctuation(char32_t c);

WordPieceTokenizer::WordPieceTokenizer(std::vector<std::string> vocab, WordPieceConfig cfg)
    : vocab_(std::move(vocab)), cfg_(std::move(cfg)) {
  if (vocab_.empty()) throw TokenizerError("empty vocabulary");
  ids_.reserve(vocab_.size());
  for (size_t i = 0; i < vocab_.size(); ++i) ids_.emplace(vocab_[i], int32_t(i));  // first occurrence wins
  for (const std::string& v : vocab_) {  // code points: count the bytes that do not continue a UTF-8 sequence
    size_t n = 0;
    for (unsigned char ch : v) n += (ch & 0xC0) != 0x80;
    max_piece_chars_ = std::max(max_piece_chars_, n);
  }
  auto need = [&](const std::string& t) {
    int32_t id = token_id(t);
    if (id < 0) throw TokenizerError("vocabulary lacks the special token '" + t + "'");
    return id;
  };
  unk_id_ = need(cfg_.unk_token);
  cls_id_ = need(cfg_.cls_token);
  sep_id_ = need(cfg_.sep_token);
  // BERT's special tokens that the vocabulary has: Hugging Face matches them in raw text (added tokens).
  for (const std::string& t : {cfg_.unk_token, cfg_.cls_token, cfg_.sep_token, cfg_.pad_token, cfg_.mask_token})
    if (int32_t id = token_id(t); id >= 0 && !t.empty()) specials_.push_back({t, id});
}

std::vector<std::string> WordPieceTokenizer::read_vocab_file(const std::string& path) {
  std::error_code ec;  // a FIFO or folder named as the vocabulary would block or fail obscurely
  if (!std::filesystem::is_regular_file(path, ec)) throw TokenizerError(path + ": not a regular file (vocabulary)");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw TokenizerError(path + ": cannot open vocabulary file");
  std::vector<std::string> v;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    try {
      utf8_decode(line);
    } catch (const TokenizerError& e) {
      throw TokenizerError(path + ": line " + std::to_string(v.size() + 1) + ": " + e.what());
    }
    v.push_back(line);
  }
  if (v.empty()) throw TokenizerError(path + ": vocabulary file is empty");
  return v;
}

int32_t WordPieceTokenizer::token_id(const std::string& token) const {
  auto it = ids_.find(token);
  return it == ids_.end() ? -1 : it->second;
}

void WordPieceTokenizer::wordpiece(const std::u32string& word, std::vector<int32_t>& out,
                                   std::vector<std::pair<uint32_t, uint32_t>>* bounds) const {
  if (int(word.size()) > cfg_.max_input_chars_per_word) {
    out.push_back(unk_id_);
    if (bounds) bounds->push_back({0, uint32_t(word.size())});
    return;
  }
  const size_t first = out.size(), first_bound = bounds ? bounds->size() : 0;
  size_t start = 0;
  std::string piece;
  while (start < word.size()) {
    // Candidates longer than any vocabulary entry cannot match (the prefix only makes them longer).
    size_t end = std::min(word.size(), start + max_piece_chars_);
    int32_t found = -1;
    while (start < end) {
      piece = (start > 0 ? cfg_.continuing_subword_prefix : std::string()) +
              utf8_encode(std::u32string_view(word).substr(start, end - start));
      found = token_id(piece);
      if (found >= 0) break;
      --end;
    }
    if (found < 0) {  // no piece matches: the whole word is unknown
      out.resize(first);
      out.push_back(unk_id_);
      if (bounds) bounds->resize(first_bound), bounds->push_back({0, uint32_t(word.size())});
      return;
    }
    out.push_back(found);
    if (bounds) bounds->push_back({uint32_t(start), uint32_t(end)});
    start = end;
  }
}

std::vector<int32_t> WordPieceTokenizer::encode_raw(std::string_view text) const {
  bool stopped = false;
  return encode_raw_limited(text, SIZE_MAX, &stopped);
}

std::vector<int32_t> WordPieceTokenizer::encode_raw_limited(std::string_view text, size_t limit,
                                                            bool* stopped) const {
  std::vector<int32_t> out;
  *stopped = encode_impl(text, limit, out, nullptr);
  return out;
}

bool WordPieceTokenizer::encode_raw_spans(std::string_view text, std::vector<int32_t>& ids,
                                          std::vector<std::pair<uint32_t, uint32_t>>& spans) const {
  if (text.size() >= UINT32_MAX) throw TokenizerError("text of 4 GiB or more: spans are 32-bit");
  ids.clear(), spans.clear();
  encode_impl(text, SIZE_MAX, ids, &spans);
  return true;
}

// The special tokens in the text are matched first, as Hugging Face's added tokens are (exact text, before
// normalisation; the longest at the leftmost position): "[SEP]" typed in a sentence is the [SEP] id, not
// "[", "sep", "]". The text between them is normalised, pre-tokenised and split into word pieces.
bool WordPieceTokenizer::encode_impl(std::string_view text, size_t limit, std::vector<int32_t>& out,
                                     std::vector<std::pair<uint32_t, uint32_t>>* spans) const {
  // Each special's next occurrence is searched again only once `at` has passed it, so the scan is linear in
  // the text whatever it holds (searching every special from `at` after each match was quadratic in a text of
  // many "[SEP]"s).
  std::vector<size_t> next(specials_.size(), 0);
  bool any = false;
  for (size_t k = 0; k < specials_.size(); ++k) any |= (next[k] = text.find(specials_[k].first)) != std::string_view::npos;
  // Without specials the one segment is the whole text, whose decoding refuses invalid UTF-8 with the offset in
  // the text; with them, the segments' offsets would be their own, so the whole text is checked first.
  if (any) utf8_decode(text);
  size_t at = 0;
  while (at <= text.size()) {
    size_t best = std::string_view::npos, best_len = 0;
    int32_t best_id = -1;
    for (size_t k = 0; k < specials_.size(); ++k) {
      const auto& [tok, id] = specials_[k];
      if (next[k] != std::string_view::npos && next[k] < at) next[k] = text.find(tok, at);
      const size_t p = next[k];
      if (p != std::string_view::npos && (p < best || (p == best && tok.size() > best_len)))
        best = p, best_len = tok.size(), best_id = id;
    }
    const size_t seg_end = best == std::string_view::npos ? text.size() : best;
    if (encode_segment(text.substr(at, seg_end - at), uint32_t(at), limit, out, spans)) return true;
    if (best == std::string_view::npos) break;
    out.push_back(best_id);
    if (spans) spans->push_back({uint32_t(best), uint32_t(best + best_len)});
    at = best + best_len;
  }
  return false;
}

// One stretch of text without special tokens; spans (when wanted) are offset by base. True when it stopped
// past `limit` ids.
bool WordPieceTokenizer::encode_segment(std::string_view text, uint32_t base, size_t limit, std::vector<int32_t>& out,
                                        std::vector<std::pair<uint32_t, uint32_t>>* spans) const {
  std::vector<uint32_t> origin, byte_at;  // byte_at: offset of each input character, and one past the last
  const std::u32string s = spans ? normalize_tracked(text, &origin) : normalize(text);  // linear
  if (spans) {
    for (size_t i = 0; i < text.size(); ++i)
      if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) byte_at.push_back(base + uint32_t(i));
    byte_at.push_back(base + uint32_t(text.size()));
  }
  std::u32string word;
  size_t word_start = 0;  // the word's first character in s
  std::vector<std::pair<uint32_t, uint32_t>> bounds;
  auto flush = [&] {
    if (word.empty()) return;
    bounds.clear();
    wordpiece(word, out, spans ? &bounds : nullptr);
    if (spans)
      for (const auto& [b, e] : bounds)  // characters [b, e) of the word: their source characters' bytes
        spans->push_back({byte_at[origin[word_start + b]], byte_at[origin[word_start + e - 1] + 1]});
    word.clear();
  };
  for (size_t i = 0; i < s.size(); ++i) {
    if (out.size() > limit) return true;
    const char32_t c = s[i];
    if (wp_is_whitespace(c)) {
      flush();
    } else if (wp_is_punctuation(c)) {
      flush();
      word_start = i;
      word.push_back(c);
      flush();
    } else {
      if (word.empty()) word_start = i;
      word.push_back(c);
    }
  }
  flush();
  return false;
}

}  // namespace rmsmp::tok

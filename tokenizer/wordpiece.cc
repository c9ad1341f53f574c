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

void WordPieceTokenizer::wordpiece(const std::u32string& word, std::vector<int32_t>& out) const {
  if (int(word.size()) > cfg_.max_input_chars_per_word) {
    out.push_back(unk_id_);
    return;
  }
  const size_t first = out.size();
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
      return;
    }
    out.push_back(found);
    start = end;
  }
}

std::vector<int32_t> WordPieceTokenizer::encode_raw(std::string_view text) const {
  bool stopped = false;
  return encode_raw_limited(text, SIZE_MAX, &stopped);
}

std::vector<int32_t> WordPieceTokenizer::encode_raw_limited(std::string_view text, size_t limit,
                                                            bool* stopped) const {
  *stopped = false;
  const std::u32string s = normalize(text);  // linear; and invalid UTF-8 anywhere is refused, as before
  std::vector<int32_t> out;
  std::u32string word;
  auto flush = [&] {
    if (!word.empty()) wordpiece(word, out), word.clear();
  };
  for (char32_t c : s) {
    if (out.size() > limit) {
      *stopped = true;
      return out;
    }
    if (wp_is_whitespace(c)) {
      flush();
    } else if (wp_is_punctuation(c)) {
      flush();
      word.push_back(c);
      flush();
    } else {
      word.push_back(c);
    }
  }
  flush();
  return out;
}

}  // namespace rmsmp::tok

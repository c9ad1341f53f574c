// Byte-level BPE as Hugging Face `tokenizers` runs it: added tokens first (AddedVocabulary), then per remaining
// stretch the ByteLevel pre-tokenizer (optional prefix space, GPT-2's split pattern, bytes as characters), then
// BPE::merge_word (a min-heap of adjacent pairs, lowest rank first, leftmost on ties).
#include "rmsmp/tokenizer/bpe.h"

#include <algorithm>
#include <array>
#include <queue>

#include <utf8proc.h>

namespace rmsmp::tok {

namespace {

// GPT-2's bytes_to_unicode: the printable Latin-1 bytes ('!'..'~', '¡'..'¬', '®'..'ÿ') stand for themselves,
// the other 68 become U+0100, U+0101, ... in byte order, so every piece is printable text.
std::array<char32_t, 256> byte_chars() {
  std::array<char32_t, 256> m{};
  char32_t next = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    m[size_t(b)] = printable ? char32_t(b) : next++;
  }
  return m;
}

bool is_letter(char32_t c) {  // \p{L}
  const auto k = utf8proc_category(utf8proc_int32_t(c));
  return k == UTF8PROC_CATEGORY_LU || k == UTF8PROC_CATEGORY_LL || k == UTF8PROC_CATEGORY_LT ||
         k == UTF8PROC_CATEGORY_LM || k == UTF8PROC_CATEGORY_LO;
}

bool is_number(char32_t c) {  // \p{N}
  const auto k = utf8proc_category(utf8proc_int32_t(c));
  return k == UTF8PROC_CATEGORY_ND || k == UTF8PROC_CATEGORY_NL || k == UTF8PROC_CATEGORY_NO;
}

// \s of the regex engine and Rust's char::is_whitespace: the Unicode White_Space property.
bool is_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

bool is_other(char32_t c) { return !is_space(c) && !is_letter(c) && !is_number(c); }

uint64_t pair_key(int32_t a, int32_t b) { return uint64_t(uint32_t(a)) << 32 | uint32_t(b); }

}  // namespace

ByteLevelBpeTokenizer::ByteLevelBpeTokenizer(std::vector<std::string> vocab,
                                             std::vector<std::pair<std::string, std::string>> merges, BpeConfig cfg)
    : vocab_(std::move(vocab)), merges_(std::move(merges)), cfg_(std::move(cfg)) {
  if (vocab_.empty()) throw TokenizerError("empty vocabulary");
  ids_.reserve(vocab_.size());
  for (size_t i = 0; i < vocab_.size(); ++i) ids_.emplace(vocab_[i], int32_t(i));  // first occurrence wins
  const auto chars = byte_chars();
  for (size_t b = 0; b < 256; ++b) byte_id_[b] = token_id(utf8_encode(std::u32string(1, chars[b])));
  merge_of_.reserve(merges_.size());
  for (size_t r = 0; r < merges_.size(); ++r) {
    const auto& [a, b] = merges_[r];
    const int32_t ia = token_id(a), ib = token_id(b), im = token_id(a + b);
    if (ia < 0 || ib < 0 || im < 0)
      throw TokenizerError("merge " + std::to_string(r + 1) + " ('" + a + "' '" + b + "'): '" +
                           (ia < 0 ? a : ib < 0 ? b : a + b) + "' is not in the vocabulary");
    merge_of_.emplace(pair_key(ia, ib), Merge{int32_t(r), im});  // a repeated pair keeps its first rank
  }
  for (const AddedToken& t : cfg_.added) {
    if (t.content.empty() || t.id < 0 || size_t(t.id) >= vocab_.size() || vocab_[size_t(t.id)] != t.content)
      throw TokenizerError("added token '" + t.content + "' (id " + std::to_string(t.id) +
                           ") is not that entry of the vocabulary");
    if (t.single_word) throw TokenizerError("added token '" + t.content + "': single_word tokens are not supported");
    utf8_decode(t.content);
  }
  cls_id_ = token_id(cfg_.bos_token);
  sep_id_ = token_id(cfg_.eos_token);
  template_ = Template::Roberta;
}

int32_t ByteLevelBpeTokenizer::token_id(const std::string& token) const {
  auto it = ids_.find(token);
  return it == ids_.end() ? -1 : it->second;
}

// GPT-2's pattern, 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+, as a scanner:
// every character starts one of the alternatives, so the matches tile the text.
std::vector<std::pair<size_t, size_t>> ByteLevelBpeTokenizer::split_words(std::string_view text) {
  const std::u32string cps = utf8_decode(text);
  std::vector<size_t> off;  // byte offset of each character, and the end
  off.reserve(cps.size() + 1);
  for (size_t i = 0; i < text.size(); ++i)
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) off.push_back(i);
  off.push_back(text.size());
  const size_t n = cps.size();
  auto run = [&](size_t j, bool (*in)(char32_t)) {
    while (j < n && in(cps[j])) ++j;
    return j;
  };
  std::vector<std::pair<size_t, size_t>> out;
  size_t i = 0;
  while (i < n) {
    const char32_t c = cps[i];
    size_t j = 0;
    if (c == '\'' && i + 1 < n && (cps[i + 1] == 's' || cps[i + 1] == 't' || cps[i + 1] == 'm' || cps[i + 1] == 'd')) {
      j = i + 2;
    } else if (c == '\'' && i + 2 < n &&
               ((cps[i + 1] == 'r' && cps[i + 2] == 'e') || (cps[i + 1] == 'v' && cps[i + 2] == 'e') ||
                (cps[i + 1] == 'l' && cps[i + 2] == 'l'))) {
      j = i + 3;
    } else {
      // " ?X+": a literal space joins the letter, number or symbol run after it.
      const size_t k = c == ' ' && i + 1 < n ? i + 1 : i;
      const char32_t d = cps[k];
      if (is_letter(d)) j = run(k, is_letter);
      else if (is_number(d)) j = run(k, is_number);
      else if (!is_space(d)) j = run(k, is_other);
      else {  // whitespace: all of it at the end; else all but the last, which may join the next run
        j = run(i, is_space);
        if (j < n && j - 1 > i) --j;
      }
    }
    out.push_back({off[i], off[j]});
    i = j;
  }
  return out;
}

void ByteLevelBpeTokenizer::bpe_word(std::string_view bytes, std::vector<int32_t>& out, Spans* bounds) const {
  struct Sym {
    int32_t id, prev, next;
    bool alive;
    uint32_t begin, end;  // its bytes in the word
  };
  std::vector<Sym> s;
  s.reserve(bytes.size());
  for (size_t k = 0; k < bytes.size(); ++k) {
    const int32_t id = byte_id_[static_cast<unsigned char>(bytes[k])];
    if (id < 0) continue;  // a byte the vocabulary lacks is dropped, as BPE without an unknown token does
    const int32_t i = int32_t(s.size());
    s.push_back({id, i - 1, i + 1, true, uint32_t(k), uint32_t(k + 1)});
  }
  if (s.empty()) return;
  s.back().next = -1;
  struct Cand {
    int32_t rank, pos, id;
  };
  auto later = [](const Cand& a, const Cand& b) { return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos; };
  std::priority_queue<Cand, std::vector<Cand>, decltype(later)> q(later);
  auto offer = [&](int32_t pos) {  // the pair starting at pos, if it merges
    if (auto it = merge_of_.find(pair_key(s[size_t(pos)].id, s[size_t(s[size_t(pos)].next)].id)); it != merge_of_.end())
      q.push({it->second.rank, pos, it->second.id});
  };
  for (int32_t i = 0; i + 1 < int32_t(s.size()); ++i) offer(i);
  while (!q.empty()) {
    const Cand top = q.top();
    q.pop();
    Sym& left = s[size_t(top.pos)];
    if (!left.alive || left.next < 0) continue;
    Sym& right = s[size_t(left.next)];
    // A stale entry: one of the two symbols has merged since it was queued.
    const auto it = merge_of_.find(pair_key(left.id, right.id));
    if (it == merge_of_.end() || it->second.id != top.id) continue;
    left.id = top.id;
    left.end = right.end;
    right.alive = false;
    left.next = right.next;
    if (left.next >= 0) s[size_t(left.next)].prev = top.pos;
    if (left.prev >= 0) offer(left.prev);
    if (left.next >= 0) offer(top.pos);
  }
  for (int32_t i = 0; i >= 0; i = s[size_t(i)].next) {
    out.push_back(s[size_t(i)].id);
    if (bounds) bounds->push_back({s[size_t(i)].begin, s[size_t(i)].end});
  }
}

bool ByteLevelBpeTokenizer::encode_segment(std::string_view text, uint32_t base, size_t limit,
                                           std::vector<int32_t>& out, Spans* spans) const {
  std::string prefixed;
  const bool prefix = cfg_.add_prefix_space && text[0] != ' ';
  const std::string_view orig = text;
  if (prefix) {
    prefixed = " " + std::string(text);
    text = prefixed;
  }
  Spans bounds;
  for (const auto& [b, e] : split_words(text)) {
    if (out.size() > limit) return true;
    bounds.clear();
    const size_t first_index = out.size();
    bpe_word(text.substr(b, e - b), out, spans ? &bounds : nullptr);
    if (!spans) continue;
    for (size_t t = 0; t < bounds.size(); ++t) {
      const std::string_view piece = text.substr(b + bounds[t].first, bounds[t].second - bounds[t].first);
      uint32_t lo = uint32_t(b) + bounds[t].first, hi = uint32_t(b) + bounds[t].second;
      // In the original's bytes: the added prefix is an empty span at 0 (as tokenizers aligns a prepended
      // character); the other bytes move back by one.
      uint32_t olo = prefix ? (lo == 0 ? 0 : lo - 1) : lo, ohi = prefix ? hi - 1 : hi;
      // tokenizers' ByteLevel offsets trimming (process_offsets): leading and trailing spaces (Ġ) leave the span,
      // except one leading space of the encoding's first piece (index 0 or starting at the text's start) when
      // add_prefix_space is set.
      size_t lead = 0, trail = 0;
      while (lead < piece.size() && piece[lead] == ' ') ++lead;
      while (trail < piece.size() && piece[piece.size() - 1 - trail] == ' ') ++trail;
      const bool is_first = first_index + t == 0 || base + olo == 0;
      if (lead == 1 && is_first && cfg_.add_prefix_space) lead = 0;
      olo = std::min<uint32_t>(olo + uint32_t(lead), ohi);
      if (trail > 0 && ohi >= trail) ohi = std::max<uint32_t>(ohi - uint32_t(trail), olo);
      // Whole characters: a piece holding part of a character's bytes spans the character.
      while (olo > 0 && olo < orig.size() && (static_cast<unsigned char>(orig[olo]) & 0xC0) == 0x80) --olo;
      while (ohi < orig.size() && (static_cast<unsigned char>(orig[ohi]) & 0xC0) == 0x80) ++ohi;
      spans->push_back({base + olo, base + ohi});
    }
  }
  return false;
}

std::vector<int32_t> ByteLevelBpeTokenizer::encode_raw(std::string_view text) const {
  bool stopped = false;
  return encode_raw_limited(text, SIZE_MAX, &stopped);
}

std::vector<int32_t> ByteLevelBpeTokenizer::encode_raw_limited(std::string_view text, size_t limit,
                                                               bool* stopped) const {
  std::vector<int32_t> out;
  *stopped = encode_impl(text, limit, out, nullptr);
  return out;
}

bool ByteLevelBpeTokenizer::encode_raw_spans(std::string_view text, std::vector<int32_t>& ids,
                                             std::vector<std::pair<uint32_t, uint32_t>>& spans) const {
  if (text.size() >= UINT32_MAX) throw TokenizerError("text of 4 GiB or more: spans are 32-bit");
  ids.clear(), spans.clear();
  encode_impl(text, SIZE_MAX, ids, &spans);
  return true;
}

// Added tokens are found in the raw text first, the longest at the leftmost position (as Hugging Face's
// AddedVocabulary does), each extended over the whitespace on the sides it strips; the stretches between them
// are pre-tokenised and merged. Each token's next occurrence is searched again only once the scan has passed
// it, so the scan is linear in the text. True when it stopped past `limit` ids.
bool ByteLevelBpeTokenizer::encode_impl(std::string_view text, size_t limit, std::vector<int32_t>& out,
                                        Spans* spans) const {
  const auto& added = cfg_.added;
  std::vector<size_t> next(added.size());
  bool any = false;
  for (size_t k = 0; k < added.size(); ++k) any |= (next[k] = text.find(added[k].content)) != std::string_view::npos;
  // With added tokens, segment offsets in errors would be the segment's own, so the whole text is checked.
  if (any) utf8_decode(text);
  size_t at = 0;    // end of the previous added token, whitespace it stripped included
  size_t from = 0;  // where the next added token may start (after the previous one's content)
  while (true) {
    size_t best = std::string_view::npos, best_k = 0;
    for (size_t k = 0; k < added.size(); ++k) {
      if (next[k] != std::string_view::npos && next[k] < from) next[k] = text.find(added[k].content, from);
      const size_t p = next[k];
      if (p != std::string_view::npos &&
          (p < best || (p == best && added[k].content.size() > added[best_k].content.size())))
        best = p, best_k = k;
    }
    size_t start = best == std::string_view::npos ? text.size() : best, stop = start;
    if (best != std::string_view::npos) {
      const AddedToken& t = added[best_k];
      stop = best + t.content.size();
      from = stop;
      // Whitespace is recognised from the decoded characters (U+00A0, U+3000 are several bytes).
      if (t.lstrip) {
        const std::u32string left = utf8_decode(text.substr(at, start - at));
        size_t keep = left.size();
        while (keep > 0 && is_space(left[keep - 1])) --keep;
        start = at + utf8_encode(std::u32string_view(left).substr(0, keep)).size();
      }
      if (t.rstrip) {
        const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
        utf8proc_int32_t cp;
        for (utf8proc_ssize_t len; stop < text.size(); stop += size_t(len)) {
          len = utf8proc_iterate(p + stop, utf8proc_ssize_t(text.size() - stop), &cp);
          if (len <= 0 || !is_space(char32_t(cp))) break;
        }
      }
    }
    if (start > at && encode_segment(text.substr(at, start - at), uint32_t(at), limit, out, spans)) return true;
    if (best == std::string_view::npos) break;
    out.push_back(added[best_k].id);
    if (spans) spans->push_back({uint32_t(best), uint32_t(best + added[best_k].content.size())});  // not the strip
    at = stop;
    from = std::max(from, stop);
  }
  return false;
}

}  // namespace rmsmp::tok

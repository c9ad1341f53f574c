// BertNormalizer (HF tokenizers): clean text, CJK spacing, NFD accent stripping, lowercasing; UTF-8 codec.
// Character classes come from utf8proc's Unicode tables, not hand-written ranges (except HF's CJK list).
#include <utf8proc.h>

#include "rmsmp/tokenizer/wordpiece.h"

namespace rmsmp::tok {

std::u32string utf8_decode(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(s.data());
  utf8proc_ssize_t i = 0, n = utf8proc_ssize_t(s.size());
  while (i < n) {
    utf8proc_int32_t cp;
    utf8proc_ssize_t len = utf8proc_iterate(p + i, n - i, &cp);
    if (len < 0 || cp < 0)
      throw TokenizerError("invalid UTF-8 at byte " + std::to_string(i));
    out.push_back(char32_t(cp));
    i += len;
  }
  return out;
}

std::string utf8_encode(std::u32string_view s) {
  std::string out;
  out.reserve(s.size());
  utf8proc_uint8_t buf[4];
  for (char32_t c : s) {
    utf8proc_ssize_t len = utf8proc_encode_char(utf8proc_int32_t(c), buf);
    out.append(reinterpret_cast<const char*>(buf), size_t(len));
  }
  return out;
}

namespace {

utf8proc_category_t cat(char32_t c) { return utf8proc_category(utf8proc_int32_t(c)); }

// Rust's char::is_whitespace (White_Space property) as HF uses it.
bool is_whitespace(char32_t c) {
  if (c == ' ' || c == '\t' || c == '\n' || c == '\r') return true;
  auto k = cat(c);
  return k == UTF8PROC_CATEGORY_ZS || k == UTF8PROC_CATEGORY_ZL || k == UTF8PROC_CATEGORY_ZP || c == 0x0B ||
         c == 0x0C || c == 0x85;
}

// HF: tab/newline/CR are not control; otherwise any "Other" category (Cc, Cf, Cs, Co, Cn).
bool is_control(char32_t c) {
  if (c == '\t' || c == '\n' || c == '\r') return false;
  auto k = cat(c);
  return k == UTF8PROC_CATEGORY_CC || k == UTF8PROC_CATEGORY_CF || k == UTF8PROC_CATEGORY_CS ||
         k == UTF8PROC_CATEGORY_CO || k == UTF8PROC_CATEGORY_CN;
}

// The CJK Unified Ideograph blocks BERT treats as single-character words (HF's list, not all of CJK).
bool is_chinese_char(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

void append_nfd(char32_t c, std::u32string& out) {
  utf8proc_int32_t buf[32];
  int last_boundclass = 0;
  utf8proc_ssize_t n = utf8proc_decompose_char(utf8proc_int32_t(c), buf, 32, UTF8PROC_DECOMPOSE, &last_boundclass);
  if (n < 0 || n > 32) {
    out.push_back(c);
    return;
  }
  for (utf8proc_ssize_t i = 0; i < n; ++i) out.push_back(char32_t(buf[i]));
}

// Rust's char::to_lowercase: the simple mapping, except U+0130 whose full lowercase is two chars.
void append_lower(char32_t c, std::u32string& out) {
  if (c == 0x130) {
    out.push_back(U'i');
    out.push_back(0x307);
    return;
  }
  out.push_back(char32_t(utf8proc_tolower(utf8proc_int32_t(c))));
}

}  // namespace

// Origins: when given, origins[i] is the index of the input character normalised character i came from; every
// stage carries it along (a decomposed or lowercased character's parts share their source's).
namespace {
std::u32string strip_lower_tracked(std::u32string s, bool strip_accents, bool lowercase, std::vector<uint32_t>* origins) {
  std::u32string t;
  std::vector<uint32_t> o;
  t.reserve(s.size());
  auto keep = [&](size_t from, size_t n_before) {
    if (origins)
      for (size_t k = n_before; k < t.size(); ++k) o.push_back((*origins)[from]);
  };
  if (strip_accents) {
    std::u32string d;
    for (size_t i = 0; i < s.size(); ++i) {
      d.clear();
      append_nfd(s[i], d);
      const size_t n = t.size();
      for (char32_t c : d)
        if (cat(c) != UTF8PROC_CATEGORY_MN) t.push_back(c);
      keep(i, n);
    }
    s.swap(t);
    t.clear();
    if (origins) origins->swap(o), o.clear();
  }
  if (lowercase) {
    for (size_t i = 0; i < s.size(); ++i) {
      const size_t n = t.size();
      append_lower(s[i], t);
      keep(i, n);
    }
    s.swap(t);
    if (origins) origins->swap(o);
  }
  return s;
}
}  // namespace

std::u32string strip_accents_lower(std::u32string s, bool strip_accents, bool lowercase) {
  return strip_lower_tracked(std::move(s), strip_accents, lowercase, nullptr);
}

std::u32string strip_accents_lower(std::u32string s, bool strip_accents, bool lowercase, std::vector<uint32_t>& origins) {
  origins.resize(s.size());
  for (size_t i = 0; i < s.size(); ++i) origins[i] = uint32_t(i);
  return strip_lower_tracked(std::move(s), strip_accents, lowercase, &origins);
}

std::u32string WordPieceTokenizer::normalize(std::string_view utf8) const { return normalize_tracked(utf8, nullptr); }

std::u32string WordPieceTokenizer::normalize_tracked(std::string_view utf8, std::vector<uint32_t>* origins) const {
  std::u32string s = utf8_decode(utf8), t;
  std::vector<uint32_t> o;
  if (origins) {
    origins->resize(s.size());
    for (size_t i = 0; i < s.size(); ++i) (*origins)[i] = uint32_t(i);
  }
  t.reserve(s.size());
  if (cfg_.clean_text) {
    for (size_t i = 0; i < s.size(); ++i) {
      const char32_t c = s[i];
      if (c == 0 || c == 0xFFFD || is_control(c)) continue;
      t.push_back(is_whitespace(c) ? U' ' : c);
      if (origins) o.push_back((*origins)[i]);
    }
    s.swap(t);
    t.clear();
    if (origins) origins->swap(o), o.clear();
  }
  if (cfg_.handle_chinese_chars) {
    for (size_t i = 0; i < s.size(); ++i) {
      const char32_t c = s[i];
      const size_t n = t.size();
      if (is_chinese_char(c)) {
        t.push_back(U' ');
        t.push_back(c);
        t.push_back(U' ');
      } else {
        t.push_back(c);
      }
      if (origins)
        for (size_t k = n; k < t.size(); ++k) o.push_back((*origins)[i]);
    }
    s.swap(t);
    t.clear();
    if (origins) origins->swap(o), o.clear();
  }
  return strip_lower_tracked(std::move(s), cfg_.strip_accents.value_or(cfg_.lowercase), cfg_.lowercase, origins);
}

// Exposed to wordpiece.cc: the pre-tokenizer's classes.
bool wp_is_whitespace(char32_t c) { return is_whitespace(c); }
bool wp_is_punctuation(char32_t c) {
  if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126)) return true;
  auto k = cat(c);
  return k == UTF8PROC_CATEGORY_PC || k == UTF8PROC_CATEGORY_PD || k == UTF8PROC_CATEGORY_PS ||
         k == UTF8PROC_CATEGORY_PE || k == UTF8PROC_CATEGORY_PI || k == UTF8PROC_CATEGORY_PF ||
         k == UTF8PROC_CATEGORY_PO;
}

}  // namespace rmsmp::tok

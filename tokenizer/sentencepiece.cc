// SentencePieceTokenizer: strict UTF-8 check, optional case/accent folding, then the library's Encode.
#include "rmsmp/tokenizer/sentencepiece.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <sentencepiece_processor.h>

namespace rmsmp::tok {

struct SentencePieceTokenizer::Impl {
  sentencepiece::SentencePieceProcessor sp;
};

SentencePieceTokenizer::SentencePieceTokenizer(std::string serialized, SentencePieceConfig cfg,
                                               const std::string& where)
    : impl_(std::make_unique<Impl>()), serialized_(std::move(serialized)), cfg_(std::move(cfg)) {
  if (serialized_.empty()) throw TokenizerError(where + ": SentencePiece model is empty");
  const auto st = impl_->sp.LoadFromSerializedProto(serialized_);
  if (!st.ok()) throw TokenizerError(where + ": not a valid SentencePiece model: " + st.ToString());
  if (impl_->sp.GetPieceSize() <= 0) throw TokenizerError(where + ": SentencePiece model has no pieces");
  cls_id_ = token_id(cfg_.cls_token);
  sep_id_ = token_id(cfg_.sep_token);
}

SentencePieceTokenizer::~SentencePieceTokenizer() = default;

std::string SentencePieceTokenizer::read_model_file(const std::string& path) {
  std::error_code ec;  // a FIFO or folder named as the model would block or fail obscurely
  if (!std::filesystem::is_regular_file(path, ec)) throw TokenizerError(path + ": not a regular file (SentencePiece model)");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw TokenizerError(path + ": cannot open SentencePiece model file");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw TokenizerError(path + ": read error");
  return bytes;
}

namespace {
// "``" and then "''" -> '"' (AlbertTokenizer's order), origins carried along as strip_accents_lower carries them.
std::u32string latex_quotes(std::u32string s, std::vector<uint32_t>* origins) {
  std::u32string t;
  std::vector<uint32_t> o;
  for (const char32_t q : {U'`', U'\''}) {
    t.clear(), o.clear();
    for (size_t i = 0; i < s.size(); ++i) {
      const bool pair = s[i] == q && i + 1 < s.size() && s[i + 1] == q;
      if (origins) o.push_back((*origins)[i + pair]);  // the pair's second: where HF's offsets put the '"'
      t.push_back(pair ? U'"' : s[i]);
      i += pair;
    }
    s.swap(t);
    if (origins) origins->swap(o);
  }
  return s;
}
}  // namespace

bool SentencePieceTokenizer::folds() const { return cfg_.lowercase || cfg_.strip_accents || cfg_.latex_quotes; }

// Accents and case, then the quotes (AlbertTokenizer replaces the quotes first; folding leaves ASCII quotes
// alone and makes none, so the order does not matter, and this one lets origins start as strip_accents_lower's).
std::string SentencePieceTokenizer::fold(std::u32string u, std::vector<uint32_t>* origins) const {
  u = origins ? strip_accents_lower(std::move(u), cfg_.strip_accents, cfg_.lowercase, *origins)
              : strip_accents_lower(std::move(u), cfg_.strip_accents, cfg_.lowercase);
  if (cfg_.latex_quotes) u = latex_quotes(std::move(u), origins);
  return utf8_encode(u);
}

std::vector<int32_t> SentencePieceTokenizer::encode_raw(std::string_view text) const {
  // The library replaces invalid UTF-8 silently; we refuse it, as for WordPiece.
  std::u32string u = utf8_decode(text);
  std::string folded;
  if (folds()) {
    folded = fold(std::move(u), nullptr);
    text = folded;
  }
  std::vector<int> ids;
  const auto st = impl_->sp.Encode(std::string_view(text.data(), text.size()), &ids);
  if (!st.ok()) throw TokenizerError("SentencePiece failed to encode the text: " + st.ToString());
  std::vector<int32_t> out(ids.begin(), ids.end());
  if (cfg_.fairseq != SentencePieceConfig::Fairseq::None)
    for (int32_t& id : out) id = id == impl_->sp.unk_id() ? kFairseqUnk : id + fairseq_offset();
  return out;
}

namespace {

// One character's UTF-8 length from its first byte.
size_t utf8_len(unsigned char c) { return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4; }

bool is_ws(std::string_view text, size_t at, size_t* len) {
  const std::u32string c = utf8_decode(text.substr(at, utf8_len(static_cast<unsigned char>(text[at]))));
  *len = utf8_len(static_cast<unsigned char>(text[at]));
  const char32_t x = c.empty() ? 0 : c[0];
  return (x >= 0x09 && x <= 0x0D) || x == 0x20 || x == 0x85 || x == 0xA0 || x == 0x1680 || (x >= 0x2000 && x <= 0x200A) ||
         x == 0x2028 || x == 0x2029 || x == 0x202F || x == 0x205F || x == 0x3000;
}

}  // namespace

bool SentencePieceTokenizer::encode_raw_spans(std::string_view text, std::vector<int32_t>& ids,
                                              std::vector<std::pair<uint32_t, uint32_t>>& spans) const {
  if (text.size() >= UINT32_MAX) throw TokenizerError("text of 4 GiB or more: spans are 32-bit");
  ids.clear(), spans.clear();
  std::u32string u = utf8_decode(text);  // the library replaces invalid UTF-8 silently; we refuse it
  // Case/accent folding (ALBERT): the library sees the folded text, and each span is mapped back through the
  // character each folded character came from (a span covers its first and last characters' sources whole).
  std::string folded;
  std::vector<uint32_t> origin;       // folded character -> original character
  std::vector<uint32_t> at_orig, at_fold;  // character index -> byte offset (one past the end included)
  const bool folded_text = folds();
  if (folded_text) {
    folded = fold(std::move(u), &origin);
    auto offsets = [](std::string_view s, std::vector<uint32_t>& at) {
      for (size_t b = 0; b < s.size(); b += utf8_len(static_cast<unsigned char>(s[b]))) at.push_back(uint32_t(b));
      at.push_back(uint32_t(s.size()));
    };
    offsets(text, at_orig);
    offsets(folded, at_fold);
    text = folded;
  }
  // A folded byte offset (a character boundary) -> its character's index.
  auto char_at = [&](size_t b) { return size_t(std::lower_bound(at_fold.begin(), at_fold.end(), uint32_t(b)) - at_fold.begin()); };
  const auto spt = impl_->sp.EncodeAsImmutableProto(std::string_view(text.data(), text.size()));
  const std::string meta = "\xe2\x96\x81";  // U+2581
  for (const auto& p : spt.pieces()) {
    int32_t id = int32_t(p.id());
    if (cfg_.fairseq != SentencePieceConfig::Fairseq::None) id = id == impl_->sp.unk_id() ? kFairseqUnk : id + fairseq_offset();
    ids.push_back(id);
    size_t b = p.begin(), e = p.end(), n = 0;
    if (p.piece().rfind(meta, 0) == 0) {
      size_t s = b;  // the whitespace character before the piece, which the library's collapsing left out
      if (b > 0) {
        s = b - 1;
        while (s > 0 && (static_cast<unsigned char>(text[s]) & 0xC0) == 0x80) --s;
      }
      if (b < e && is_ws(text, b, &n)) {
        size_t last = b;  // a surface led by a whitespace run: its last character stands for the "▁"
        while (b < e && is_ws(text, b, &n)) last = b, b += n;
        b = last;
      } else if (b > 0 && is_ws(text, s, &n)) {
        b = s;
      } else if (e == b && b < text.size()) {
        e = b + utf8_len(static_cast<unsigned char>(text[b]));  // a lone "▁" at the start: the next character
      }
    }
    if (folded_text) {
      const size_t cb = char_at(b), ce = e > b ? char_at(e) : cb;  // folded characters [cb, ce)
      const uint32_t ob = cb < origin.size() ? at_orig[origin[cb]] : at_orig.back();
      b = ob;
      e = ce > cb ? at_orig[origin[ce - 1] + 1] : ob;
    }
    spans.push_back({uint32_t(b), uint32_t(e)});
  }
  return true;
}

namespace {
const std::vector<std::string>& fairseq_specials(SentencePieceConfig::Fairseq f) {
  static const std::vector<std::string> none, xlmr = {"<s>", "<pad>", "</s>", "<unk>"},
                                              camembert = {"<s>NOTUSED", "<pad>", "</s>NOTUSED", "<unk>", "<unk>NOTUSED"};
  return f == SentencePieceConfig::Fairseq::XlmRoberta ? xlmr : f == SentencePieceConfig::Fairseq::Camembert ? camembert : none;
}
}  // namespace

int32_t SentencePieceTokenizer::fairseq_offset() const {
  return cfg_.fairseq == SentencePieceConfig::Fairseq::XlmRoberta ? 1
         : cfg_.fairseq == SentencePieceConfig::Fairseq::Camembert ? 4
                                                                   : 0;
}

size_t SentencePieceTokenizer::vocab_size() const {
  const bool fs = cfg_.fairseq != SentencePieceConfig::Fairseq::None;
  return size_t(impl_->sp.GetPieceSize() + fairseq_offset() + (fs ? 1 : 0));  // the shift, and <mask>
}

int32_t SentencePieceTokenizer::token_id(const std::string& token) const {
  const bool fs = cfg_.fairseq != SentencePieceConfig::Fairseq::None;
  const auto& specials = fairseq_specials(cfg_.fairseq);
  for (size_t i = 0; i < specials.size(); ++i)
    if (token == specials[i]) return int32_t(i);
  if (fs && token == "<mask>") return int32_t(vocab_size()) - 1;
  // PieceToId answers unk_id for unknown pieces; only an exact match counts.
  const int id = impl_->sp.PieceToId(token);
  const bool exact = id >= 0 && id < impl_->sp.GetPieceSize() && impl_->sp.IdToPiece(id) == token;
  if (!fs) return exact ? int32_t(id) : -1;
  return exact && id != impl_->sp.unk_id() ? int32_t(id) + fairseq_offset() : -1;
}

std::string SentencePieceTokenizer::piece(int32_t id) const {
  if (cfg_.fairseq != SentencePieceConfig::Fairseq::None) {
    const auto& specials = fairseq_specials(cfg_.fairseq);
    if (id >= 0 && size_t(id) < specials.size()) return specials[size_t(id)];
    if (id == int32_t(vocab_size()) - 1) return "<mask>";
    id -= fairseq_offset();
  }
  return id >= 0 && id < impl_->sp.GetPieceSize() ? impl_->sp.IdToPiece(id) : std::string();
}

}  // namespace rmsmp::tok

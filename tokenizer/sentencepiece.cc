// SentencePieceTokenizer: strict UTF-8 check, optional case/accent folding, then the library's Encode.
#include "rmsmp/tokenizer/sentencepiece.h"

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

std::vector<int32_t> SentencePieceTokenizer::encode_raw(std::string_view text) const {
  // The library replaces invalid UTF-8 silently; we refuse it, as for WordPiece.
  std::u32string u = utf8_decode(text);
  std::string folded;
  if (cfg_.lowercase || cfg_.strip_accents) {
    folded = utf8_encode(strip_accents_lower(std::move(u), cfg_.strip_accents, cfg_.lowercase));
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

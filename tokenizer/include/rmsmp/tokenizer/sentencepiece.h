// SentencePiece tokenizer (ALBERT, XLM-R, T5, Llama-style .model files) through the SentencePiece library.
// Raw ids are exactly `spm_encode --output_format=id`; the optional lowercasing / accent stripping runs
// before SentencePiece, as ALBERT's tokenizer does (do_lower_case, keep_accents=false). The BERT template
// uses the model's own [CLS]/[SEP] pieces (configurable). Immutable once built; thread-safe (the library's
// Encode is const). The library header stays out of this one.
#pragma once
#include <memory>
#include <string>

#include "rmsmp/tokenizer/tokenizer.h"

namespace rmsmp::tok {

struct SentencePieceConfig {
  bool lowercase = false;
  bool strip_accents = false;
  // AlbertTokenizer's preprocess_text: `` and '' become " before folding (PTB-tokenized text such as SST-2 has
  // them; the ALBERT SentencePiece models have no piece for them).
  bool latex_quotes = false;
  std::string cls_token = "[CLS]", sep_token = "[SEP]";  // absent pieces: encode() with the template fails
  // fairseq's numbering, as Hugging Face's tokenizers for these models give it. The model's own unknown piece
  // becomes <unk> (3), every other piece moves up by an offset, and <mask> follows the last piece:
  //   XlmRoberta: <s>=0 <pad>=1 </s>=2 <unk>=3, pieces at id + 1 (XLMRobertaTokenizer);
  //   Camembert:  <s>NOTUSED=0 <pad>=1 </s>NOTUSED=2 <unk>=3 <unk>NOTUSED=4, pieces at id + 4, so <s> and </s>
  //               are the model's own pieces at 5 and 6 (CamembertTokenizer).
  enum class Fairseq { None, XlmRoberta, Camembert } fairseq = Fairseq::None;
};

class SentencePieceTokenizer : public Tokenizer {
 public:
  // `serialized` is the bytes of a .model file (a ModelProto). Throws TokenizerError if the library rejects
  // it; `where` names the source in errors.
  SentencePieceTokenizer(std::string serialized, SentencePieceConfig cfg, const std::string& where);
  ~SentencePieceTokenizer() override;
  // Reads a .model file's bytes; throws TokenizerError naming the file.
  static std::string read_model_file(const std::string& path);

  std::vector<int32_t> encode_raw(std::string_view text) const override;
  // Byte spans as Hugging Face's fast tokenizers report offsets for these models: the library's alignment of
  // each piece, except that a piece's "▁" spans one whitespace character (the last of a run, or the one
  // before a word the library's whitespace collapsing left out) and a lone "▁" the first character after it.
  // Case- or accent-folded text (ALBERT): spans of the folded text mapped back to the original bytes, each
  // covering its first and last characters' sources whole (a folded "ß"'s or "ﬁ"'s parts share one source).
  bool encode_raw_spans(std::string_view text, std::vector<int32_t>& ids,
                        std::vector<std::pair<uint32_t, uint32_t>>& spans) const override;
  size_t vocab_size() const override;
  int32_t token_id(const std::string& token) const override;
  std::string type() const override { return "sentencepiece"; }

  std::string piece(int32_t id) const override;  // "" for an id outside the vocabulary
  const std::string& serialized() const { return serialized_; }
  const SentencePieceConfig& config() const { return cfg_; }
  static constexpr int32_t kFairseqUnk = 3;  // <unk> among fairseq's ids
  int32_t fairseq_offset() const;  // 0 without fairseq ids

 private:
  bool folds() const;  // whether the text is changed before the library sees it (lowercase, accents, quotes)
  // The text the library sees; origins (when given): folded character -> index of its source character.
  std::string fold(std::u32string u, std::vector<uint32_t>* origins) const;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string serialized_;
  SentencePieceConfig cfg_;
};

}  // namespace rmsmp::tok

// Serialises the tokenizer configuration (and WordPiece / BPE vocabulary) into the model header's "tokenizer"
// object, and rebuilds the tokenizer from it. "template" is "bert" or "roberta"; files written before it
// existed have none and mean "bert".
#include "models/tokenizer_config.h"

#include <nlohmann/json.hpp>

#include "io/model_format.h"
#include "rmsmp/error.h"
#include "rmsmp/tokenizer/bpe.h"
#include "rmsmp/tokenizer/sentencepiece.h"
#include "rmsmp/tokenizer/wordpiece.h"

namespace rmsmp {

namespace {

nlohmann::json tokenizer_fields(const tok::Tokenizer& t, ModelWriter& mw) {
  if (const auto* bpe = dynamic_cast<const tok::ByteLevelBpeTokenizer*>(&t)) {
    const tok::BpeConfig& c = bpe->config();
    nlohmann::json added = nlohmann::json::array();
    for (const tok::AddedToken& a : c.added)
      added.push_back({{"content", a.content}, {"id", a.id}, {"lstrip", a.lstrip}, {"rstrip", a.rstrip}});
    return {{"type", "bpe"},
            {"add_prefix_space", c.add_prefix_space},
            {"bos_token", c.bos_token},
            {"eos_token", c.eos_token},
            {"added_tokens", added},
            {"vocab", bpe->vocab()},
            {"merges", bpe->merges()}};
  }
  if (const auto* sp = dynamic_cast<const tok::SentencePieceTokenizer*>(&t)) {
    const tok::SentencePieceConfig& c = sp->config();
    const std::string& bytes = sp->serialized();
    return {{"type", "sentencepiece"},
            {"lowercase", c.lowercase},
            {"strip_accents", c.strip_accents},
            {"latex_quotes", c.latex_quotes},
            {"cls_token", c.cls_token},
            {"sep_token", c.sep_token},
            {"fairseq", c.fairseq == tok::SentencePieceConfig::Fairseq::XlmRoberta  ? "xlm-roberta"
                        : c.fairseq == tok::SentencePieceConfig::Fairseq::Camembert ? "camembert"
                                                                                    : ""},
            {"vocab_size", sp->vocab_size()},
            {"model_tensor", mw.add_tensor(kSentencePieceTensor, DType::U8, {int64_t(bytes.size())}, bytes.data())}};
  }
  const auto& wp = dynamic_cast<const tok::WordPieceTokenizer&>(t);
  const tok::WordPieceConfig& c = wp.config();
  nlohmann::json j = {{"type", "wordpiece"},
                      {"lowercase", c.lowercase},
                      {"clean_text", c.clean_text},
                      {"handle_chinese_chars", c.handle_chinese_chars},
                      {"unk_token", c.unk_token},
                      {"cls_token", c.cls_token},
                      {"sep_token", c.sep_token},
                      {"pad_token", c.pad_token},
                      {"mask_token", c.mask_token},
                      {"continuing_subword_prefix", c.continuing_subword_prefix},
                      {"max_input_chars_per_word", c.max_input_chars_per_word},
                      {"vocab", wp.vocab()}};
  j["strip_accents"] = c.strip_accents ? nlohmann::json(*c.strip_accents) : nlohmann::json(nullptr);
  return j;
}

}  // namespace

nlohmann::json tokenizer_to_json(const tok::Tokenizer& t, ModelWriter& mw) {
  nlohmann::json j = tokenizer_fields(t, mw);
  j["template"] = t.template_kind() == tok::Template::Roberta ? "roberta" : "bert";
  return j;
}

namespace {

std::unique_ptr<tok::Tokenizer> bpe_from(const nlohmann::json& j) {
  tok::BpeConfig c;
  c.add_prefix_space = j.at("add_prefix_space").get<bool>();
  c.bos_token = j.at("bos_token").get<std::string>();
  c.eos_token = j.at("eos_token").get<std::string>();
  for (const auto& a : j.at("added_tokens"))
    c.added.push_back({a.at("content").get<std::string>(), a.at("id").get<int32_t>(), a.at("lstrip").get<bool>(),
                       a.at("rstrip").get<bool>(), false});
  return std::make_unique<tok::ByteLevelBpeTokenizer>(
      j.at("vocab").get<std::vector<std::string>>(),
      j.at("merges").get<std::vector<std::pair<std::string, std::string>>>(), c);
}

std::unique_ptr<tok::Tokenizer> sentencepiece_from(const nlohmann::json& j, const std::string& where,
                                                   const ModelFile* file) {
  RMSMP_CHECK(file != nullptr, ErrorCode::Unsupported,
              where << ": a SentencePiece tokenizer needs the model file's tensor data");
  tok::SentencePieceConfig c;
  c.lowercase = j.at("lowercase").get<bool>();
  c.strip_accents = j.at("strip_accents").get<bool>();
  c.latex_quotes = j.value("latex_quotes", false);  // absent in files before 2026-11-30
  c.cls_token = j.at("cls_token").get<std::string>();
  c.sep_token = j.at("sep_token").get<std::string>();
  const std::string fs = j.value("fairseq", std::string());  // absent in files before XLM-R
  RMSMP_CHECK(fs.empty() || fs == "xlm-roberta" || fs == "camembert", ErrorCode::InvalidFile,
              where << ": SentencePiece fairseq numbering '" << fs << "' is not xlm-roberta or camembert");
  c.fairseq = fs == "xlm-roberta" ? tok::SentencePieceConfig::Fairseq::XlmRoberta
              : fs == "camembert" ? tok::SentencePieceConfig::Fairseq::Camembert
                                  : tok::SentencePieceConfig::Fairseq::None;
  const std::string name = j.at("model_tensor").get<std::string>();
  const TensorInfo& ti = file->tensor_info(name);
  RMSMP_CHECK(ti.dtype == DType::U8 && ti.shape.size() == 1, ErrorCode::InvalidFile,
              where << ": tensor '" << name << "' must be u8 [bytes]");
  const auto* p = static_cast<const char*>(file->tensor_data(name, DType::U8, ti.shape));
  auto t = std::make_unique<tok::SentencePieceTokenizer>(std::string(p, size_t(ti.bytes)), c, where);
  RMSMP_CHECK(j.at("vocab_size").get<size_t>() == t->vocab_size(), ErrorCode::InvalidFile,
              where << ": SentencePiece model has " << t->vocab_size() << " pieces, header says "
                    << j.at("vocab_size").get<size_t>());
  return t;
}

std::unique_ptr<tok::Tokenizer> wordpiece_from(const nlohmann::json& j) {
  tok::WordPieceConfig c;
  c.lowercase = j.at("lowercase").get<bool>();
  c.clean_text = j.at("clean_text").get<bool>();
  c.handle_chinese_chars = j.at("handle_chinese_chars").get<bool>();
  if (!j.at("strip_accents").is_null()) c.strip_accents = j.at("strip_accents").get<bool>();
  c.unk_token = j.at("unk_token").get<std::string>();
  c.cls_token = j.at("cls_token").get<std::string>();
  c.sep_token = j.at("sep_token").get<std::string>();
  c.pad_token = j.at("pad_token").get<std::string>();
  c.mask_token = j.at("mask_token").get<std::string>();
  c.continuing_subword_prefix = j.at("continuing_subword_prefix").get<std::string>();
  c.max_input_chars_per_word = j.at("max_input_chars_per_word").get<int>();
  return std::make_unique<tok::WordPieceTokenizer>(j.at("vocab").get<std::vector<std::string>>(), c);
}

}  // namespace

std::unique_ptr<tok::Tokenizer> tokenizer_from_header(const nlohmann::json& header, const std::string& where,
                                                      const ModelFile* file) {
  try {
    const nlohmann::json& j = header.at("tokenizer");
    const std::string type = j.at("type").get<std::string>();
    std::unique_ptr<tok::Tokenizer> t;
    if (type == "wordpiece") t = wordpiece_from(j);
    else if (type == "sentencepiece") t = sentencepiece_from(j, where, file);
    else if (type == "bpe") t = bpe_from(j);
    else RMSMP_FAIL(ErrorCode::Unsupported, where << ": tokenizer type '" << type << "' is not supported");
    const std::string tmpl = j.value("template", "bert");
    RMSMP_CHECK(tmpl == "bert" || tmpl == "roberta", ErrorCode::InvalidFile,
                where << ": tokenizer template '" << tmpl << "' is not bert or roberta");
    t->set_template(tmpl == "roberta" ? tok::Template::Roberta : tok::Template::Bert);
    return t;
  } catch (const nlohmann::json::exception& e) {
    RMSMP_FAIL(ErrorCode::InvalidFile, where << ": tokenizer config is malformed: " << e.what());
  } catch (const tok::TokenizerError& e) {
    RMSMP_FAIL(ErrorCode::InvalidFile, where << ": " << e.what());
  }
}

}  // namespace rmsmp

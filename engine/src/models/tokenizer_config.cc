// Serialises the WordPiece configuration and vocabulary into the model header's "tokenizer" object.
#include "models/tokenizer_config.h"

#include <nlohmann/json.hpp>

#include "rmsmp/error.h"

namespace rmsmp {

nlohmann::json tokenizer_to_json(const tok::WordPieceTokenizer& t) {
  const tok::WordPieceConfig& c = t.config();
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
                      {"vocab", t.vocab()}};
  j["strip_accents"] = c.strip_accents ? nlohmann::json(*c.strip_accents) : nlohmann::json(nullptr);
  return j;
}

std::unique_ptr<tok::WordPieceTokenizer> tokenizer_from_header(const nlohmann::json& header, const std::string& where) {
  try {
    const nlohmann::json& j = header.at("tokenizer");
    RMSMP_CHECK(j.at("type").get<std::string>() == "wordpiece", ErrorCode::Unsupported,
                where << ": tokenizer type '" << j.at("type").get<std::string>() << "' is not supported");
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
  } catch (const nlohmann::json::exception& e) {
    RMSMP_FAIL(ErrorCode::InvalidFile, where << ": tokenizer config is malformed: " << e.what());
  } catch (const tok::TokenizerError& e) {
    RMSMP_FAIL(ErrorCode::InvalidFile, where << ": " << e.what());
  }
}

}  // namespace rmsmp

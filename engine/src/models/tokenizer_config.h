// Tokenizer settings in the model header <-> WordPieceTokenizer (shared by the loader and the converter).
#pragma once
#include <memory>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "rmsmp/tokenizer/wordpiece.h"

namespace rmsmp {

nlohmann::json tokenizer_to_json(const tok::WordPieceTokenizer& t);
std::unique_ptr<tok::WordPieceTokenizer> tokenizer_from_header(const nlohmann::json& header, const std::string& where);

}  // namespace rmsmp

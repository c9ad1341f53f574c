// Tokenizer settings in the model header <-> Tokenizer (shared by the loader and the converter).
// WordPiece keeps its vocabulary in the header; a SentencePiece model's bytes are the u8 tensor named by
// "model_tensor" (kSentencePieceTensor), so the header stays small.
#pragma once
#include <memory>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "rmsmp/tokenizer/tokenizer.h"

namespace rmsmp {

class ModelFile;
class ModelWriter;

inline constexpr const char* kSentencePieceTensor = "tokenizer.sentencepiece_model";

// Returns the header's "tokenizer" object; adds the SentencePiece tensor to `mw` when needed.
nlohmann::json tokenizer_to_json(const tok::Tokenizer& t, ModelWriter& mw);
// `file` supplies the SentencePiece tensor; without it (header-only tools, fuzzing) a SentencePiece section
// is an error. Errors name `where`.
std::unique_ptr<tok::Tokenizer> tokenizer_from_header(const nlohmann::json& header, const std::string& where,
                                                      const ModelFile* file = nullptr);

}  // namespace rmsmp

// rmsmp-serve's request dialects and response shapes, separate from admission and compute (server.cc):
//   native  POST /embed {"texts": [...], "pairs"?, "normalize"?}  -> {"embeddings": [...], "truncated": [...]}
//   TEI     POST /embed {"inputs": str | [str], "truncate"?, "truncation_direction"?, "normalize"?, "dimensions"?}
//           -> [[f32], ...]   (Hugging Face text-embeddings-inference, router/src/http/types.rs)
//   OpenAI  POST /v1/embeddings, /embeddings {"input": str | [str] | [int] | [[int]], "model"?, "encoding_format"?,
//           "dimensions"?, "user"?} -> {"object": "list", "data": [{"object": "embedding", "embedding", "index"}],
//           "model", "usage": {"prompt_tokens", "total_tokens"}}; base64 = little-endian float32, as OpenAI's
//           clients decode it.
// Every failure is an HttpError rendered as {"error": message, "error_type": type} (TEI's error body).
// Unknown fields are refused (422), never ignored.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace rmsmp::serve {

struct HttpError {
  int status;
  std::string message;
  std::string type;  // TEI's error_type: Validation, Overloaded, Backend, Unsupported
};

enum class Dialect { Native, Tei, OpenAi };

struct EmbedRequest {
  Dialect dialect = Dialect::Native;
  std::vector<std::string> texts, pairs;          // pairs: as long as texts when given
  std::vector<bool> has_pair;                      // empty: every input has its pair (when pairs is given)
  std::vector<std::vector<int32_t>> token_inputs;  // OpenAI token-id inputs (instead of texts)
  std::optional<bool> normalize, truncate;
  std::optional<int64_t> dimensions;
  bool base64 = false;
  std::string model;  // OpenAI's "model", echoed back
  size_t size() const { return token_inputs.empty() ? texts.size() : token_inputs.size(); }
};

// Parses a POST /embed body: TEI's shape when it has "inputs", the native one when it has "texts".
EmbedRequest parse_embed(const std::string& body, size_t max_inputs);
// Parses a POST /v1/embeddings body.
EmbedRequest parse_openai(const std::string& body, size_t max_inputs);
// Parses a native POST /classify body ({"texts", "pairs"?}).
EmbedRequest parse_classify(const std::string& body, size_t max_inputs);

// TEI's POST /predict: {"inputs": str | [a, b] | [[a], [a, b], ...], "truncate"?, "raw_scores"?}. A single input
// (a string or one pair) is answered with one list, a batch with a list per input.
struct PredictRequest {
  EmbedRequest inputs;  // texts, pairs and has_pair (a batch may mix single texts and pairs)
  bool batch = false, raw_scores = false;
};
PredictRequest parse_predict(const std::string& body, size_t max_inputs);
// [{"score", "label"}, ...] per input, highest score first: softmax probabilities (raw_scores: the logits;
// a regression head's single output: its value, or the sigmoid of it unless raw_scores).
std::string predict_response(const PredictRequest& r, const std::vector<std::vector<float>>& logits,
                             const std::vector<std::string>& labels);

// TEI's POST /rerank: {"query", "texts": [...], "truncate"?, "raw_scores"?, "return_text"?} for a cross-encoder
// (a head with one output): each text is scored as the pair (query, text).
struct RerankRequest {
  EmbedRequest pairs;  // texts = the query repeated, pairs = the texts
  std::vector<std::string> texts;
  bool raw_scores = false, return_text = false;
};
RerankRequest parse_rerank(const std::string& body, size_t max_inputs);
// [{"index", "text"?, "score"}] sorted by score, highest first; score = sigmoid(logit) unless raw_scores.
std::string rerank_response(const RerankRequest& r, const std::vector<std::vector<float>>& logits);

// TEI's POST /tokenize: {"inputs": str | [str], "add_special_tokens": bool? (default true)}.
struct TokenizeRequest {
  std::vector<std::string> texts;
  bool add_special_tokens = true;
};
TokenizeRequest parse_tokenize(const std::string& body, size_t max_inputs);

// Keeps the first `dims` values of each embedding and, when `normalize`, rescales each to unit L2 norm
// (Matryoshka-style truncation). 422 when dims is outside 1..embedding_size.
void apply_dimensions(std::vector<std::vector<float>>& emb, int64_t dims, bool normalize);

// The response body for each dialect. `prompt_tokens`: tokens the model read ([CLS]/[SEP] included).
std::string embed_response(const EmbedRequest& r, const std::vector<std::vector<float>>& emb,
                           const std::vector<bool>& truncated, int64_t prompt_tokens, const std::string& model_name);

// Little-endian float32 bytes, base64 (RFC 4648, with padding).
std::string base64_f32(const std::vector<float>& v);

std::string error_body(const HttpError& e);
// TEI's error_type for a status.
std::string error_type_for(int status);

}  // namespace rmsmp::serve

// Request dialects and response shapes of rmsmp-serve (see api.h).
#include "serve/api.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>

namespace rmsmp::serve {

namespace {

using nlohmann::json;

json parse_object(const std::string& body, int shape_status) {
  json j;
  try {
    j = json::parse(body);
  } catch (const json::exception& e) {
    throw HttpError{400, std::string("malformed JSON: ") + e.what(), "Validation"};
  }
  if (!j.is_object()) throw HttpError{shape_status, "the body must be a JSON object", "Validation"};
  return j;
}

// Refuses fields outside `allowed`, naming the first one.
void only_fields(const json& j, const std::set<std::string>& allowed, int status) {
  for (const auto& [k, v] : j.items())
    if (!allowed.count(k)) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      throw HttpError{status, "unknown field \"" + k + "\" (this route takes: " + list + ")", "Validation"};
    }
}

std::vector<std::string> strings(const json& a, const std::string& name, int status) {
  std::vector<std::string> v;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!a[i].is_string())
      throw HttpError{status, name + "[" + std::to_string(i) + "] is not a string", "Validation"};
    v.push_back(a[i].get<std::string>());
  }
  return v;
}

std::optional<bool> opt_bool(const json& j, const char* name, int status) {
  if (!j.contains(name) || j[name].is_null()) return std::nullopt;
  if (!j[name].is_boolean()) throw HttpError{status, std::string("\"") + name + "\" must be true or false", "Validation"};
  return j[name].get<bool>();
}

std::optional<int64_t> opt_dimensions(const json& j) {
  if (!j.contains("dimensions") || j["dimensions"].is_null()) return std::nullopt;
  if (!j["dimensions"].is_number_integer())
    throw HttpError{422, "\"dimensions\" must be a positive integer", "Validation"};
  return j["dimensions"].get<int64_t>();
}

// Shared by TEI and OpenAI: counts and emptiness, 422 as both servers answer.
void check_inputs(size_t n, size_t max_inputs, const char* field) {
  if (n == 0) throw HttpError{422, std::string("\"") + field + "\" is empty", "Validation"};
  if (n > max_inputs)
    throw HttpError{422, std::to_string(n) + " inputs; at most " + std::to_string(max_inputs) + " per request",
                    "Validation"};
}

void no_empty_strings(const std::vector<std::string>& v, const char* field) {
  for (size_t i = 0; i < v.size(); ++i)
    if (v[i].empty())
      throw HttpError{422, std::string(field) + "[" + std::to_string(i) + "] is an empty string", "Validation"};
}

EmbedRequest parse_native(const json& j, size_t max_inputs, bool with_normalize) {
  only_fields(j, with_normalize ? std::set<std::string>{"texts", "pairs", "normalize"}
                                : std::set<std::string>{"texts", "pairs"}, 400);
  if (!j.contains("texts") || !j["texts"].is_array())
    throw HttpError{400, "body must be a JSON object with \"texts\": [string, ...]", "Validation"};
  EmbedRequest r;
  if (j["texts"].empty()) throw HttpError{400, "\"texts\" is empty", "Validation"};
  if (j["texts"].size() > max_inputs)
    throw HttpError{413, std::to_string(j["texts"].size()) + " texts; at most " + std::to_string(max_inputs) +
                             " per request", "Validation"};
  r.texts = strings(j["texts"], "texts", 400);
  if (j.contains("pairs")) {
    if (!j["pairs"].is_array() || j["pairs"].size() != r.texts.size())
      throw HttpError{400, "\"pairs\" must be an array as long as \"texts\"", "Validation"};
    r.pairs = strings(j["pairs"], "pairs", 400);
  }
  if (with_normalize) r.normalize = opt_bool(j, "normalize", 400);
  return r;
}

const char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

}  // namespace

std::string error_type_for(int status) {
  if (status == 401) return "Unauthorized";
  if (status == 429) return "Overloaded";
  if (status == 501) return "Unsupported";
  if (status >= 500) return "Backend";
  return "Validation";
}

std::string error_body(const HttpError& e) {
  // Messages can quote the client's bytes (a JSON parse error on invalid UTF-8): replace what is not UTF-8.
  return json({{"error", e.message}, {"error_type", e.type.empty() ? error_type_for(e.status) : e.type}})
      .dump(-1, ' ', false, json::error_handler_t::replace);
}

EmbedRequest parse_embed(const std::string& body, size_t max_inputs) {
  const json j = parse_object(body, 422);
  if (j.contains("texts") && !j.contains("inputs")) return parse_native(j, max_inputs, true);
  only_fields(j, {"inputs", "truncate", "truncation_direction", "normalize", "dimensions"}, 422);
  if (!j.contains("inputs")) throw HttpError{422, "missing \"inputs\" (a string or an array of strings)", "Validation"};
  EmbedRequest r;
  r.dialect = Dialect::Tei;
  const json& in = j["inputs"];
  if (in.is_string()) r.texts = {in.get<std::string>()};
  else if (in.is_array()) r.texts = strings(in, "inputs", 422);
  else throw HttpError{422, "\"inputs\" must be a string or an array of strings", "Validation"};
  check_inputs(r.texts.size(), max_inputs, "inputs");
  no_empty_strings(r.texts, "inputs");
  r.truncate = opt_bool(j, "truncate", 422);
  if (j.contains("truncation_direction") && !j["truncation_direction"].is_null()) {
    const json& d = j["truncation_direction"];
    if (!d.is_string() || (d != "right" && d != "Right" && d != "left" && d != "Left"))
      throw HttpError{422, "\"truncation_direction\" must be \"right\" or \"left\"", "Validation"};
    if (d == "left" || d == "Left")
      throw HttpError{422, "\"truncation_direction\": \"left\" is not supported (right truncation only)", "Validation"};
  }
  r.normalize = opt_bool(j, "normalize", 422);
  r.dimensions = opt_dimensions(j);
  return r;
}

EmbedRequest parse_openai(const std::string& body, size_t max_inputs) {
  const json j = parse_object(body, 422);
  only_fields(j, {"input", "model", "encoding_format", "dimensions", "user"}, 422);
  if (!j.contains("input")) throw HttpError{422, "missing \"input\"", "Validation"};
  EmbedRequest r;
  r.dialect = Dialect::OpenAi;
  const json& in = j["input"];
  auto ids = [](const json& a, const std::string& name) {
    std::vector<int32_t> v;
    for (size_t i = 0; i < a.size(); ++i) {
      if (!a[i].is_number_integer() || a[i].get<int64_t>() < 0 || a[i].get<int64_t>() > INT32_MAX)
        throw HttpError{422, name + "[" + std::to_string(i) + "] is not a token id", "Validation"};
      v.push_back(int32_t(a[i].get<int64_t>()));
    }
    if (v.empty()) throw HttpError{422, name + " is an empty token list", "Validation"};
    return v;
  };
  if (in.is_string()) {
    r.texts = {in.get<std::string>()};
  } else if (in.is_array() && !in.empty() && in[0].is_number_integer()) {
    r.token_inputs = {ids(in, "input")};
  } else if (in.is_array() && !in.empty() && in[0].is_array()) {
    for (size_t i = 0; i < in.size(); ++i) {
      if (!in[i].is_array()) throw HttpError{422, "input[" + std::to_string(i) + "] is not a token list", "Validation"};
      r.token_inputs.push_back(ids(in[i], "input[" + std::to_string(i) + "]"));
    }
  } else if (in.is_array()) {
    r.texts = strings(in, "input", 422);
  } else {
    throw HttpError{422, "\"input\" must be a string, an array of strings, or token ids ([int] or [[int]])", "Validation"};
  }
  check_inputs(r.size(), max_inputs, "input");
  no_empty_strings(r.texts, "input");
  if (j.contains("model") && !j["model"].is_null()) {
    if (!j["model"].is_string()) throw HttpError{422, "\"model\" must be a string", "Validation"};
    r.model = j["model"].get<std::string>();
  }
  if (j.contains("encoding_format") && !j["encoding_format"].is_null()) {
    const json& f = j["encoding_format"];
    if (f != "float" && f != "base64")
      throw HttpError{422, "\"encoding_format\" must be \"float\" or \"base64\"", "Validation"};
    r.base64 = f == "base64";
  }
  if (j.contains("user") && !j["user"].is_null() && !j["user"].is_string())
    throw HttpError{422, "\"user\" must be a string", "Validation"};
  r.dimensions = opt_dimensions(j);
  return r;
}

EmbedRequest parse_classify(const std::string& body, size_t max_inputs) {
  return parse_native(parse_object(body, 400), max_inputs, false);
}

PredictRequest parse_predict(const std::string& body, size_t max_inputs) {
  const json j = parse_object(body, 422);
  only_fields(j, {"inputs", "truncate", "raw_scores"}, 422);
  if (!j.contains("inputs")) throw HttpError{422, "missing \"inputs\"", "Validation"};
  PredictRequest r;
  r.inputs.dialect = Dialect::Tei;
  std::vector<bool>& has_pair = r.inputs.has_pair;
  const json& in = j["inputs"];
  auto add = [&](const json& seq, const std::string& where) {
    if (!seq.is_array() || seq.empty() || seq.size() > 2)
      throw HttpError{422, where + " must be [text] or [text, text_pair]", "Validation"};
    const auto v = strings(seq, where, 422);
    r.inputs.texts.push_back(v[0]);
    r.inputs.pairs.push_back(v.size() == 2 ? v[1] : "");
    has_pair.push_back(v.size() == 2);
  };
  if (in.is_string()) {
    add(json::array({in}), "inputs");
  } else if (in.is_array() && !in.empty() && in[0].is_string()) {  // one input: a text or a pair
    add(in, "inputs");
  } else if (in.is_array()) {
    r.batch = true;
    for (size_t i = 0; i < in.size(); ++i) add(in[i], "inputs[" + std::to_string(i) + "]");
  } else {
    throw HttpError{422, "\"inputs\" must be a string, a pair [a, b], or a batch [[a], [a, b], ...]", "Validation"};
  }
  check_inputs(r.inputs.texts.size(), max_inputs, "inputs");
  no_empty_strings(r.inputs.texts, "inputs");
  r.inputs.truncate = opt_bool(j, "truncate", 422);
  r.raw_scores = opt_bool(j, "raw_scores", 422).value_or(false);
  return r;
}

std::string predict_response(const PredictRequest& r, const std::vector<std::vector<float>>& logits,
                             const std::vector<std::string>& labels) {
  json all = json::array();
  for (const auto& l : logits) {
    std::vector<std::pair<double, size_t>> s;
    if (l.size() == 1) {
      s.push_back({r.raw_scores ? double(l[0]) : 1.0 / (1.0 + std::exp(-double(l[0]))), 0});
    } else {
      double mx = l[0], z = 0;
      for (float v : l) mx = std::max(mx, double(v));
      for (float v : l) z += std::exp(double(v) - mx);
      for (size_t k = 0; k < l.size(); ++k)
        s.push_back({r.raw_scores ? double(l[k]) : std::exp(double(l[k]) - mx) / z, k});
    }
    std::stable_sort(s.begin(), s.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    json one = json::array();
    for (const auto& [score, k] : s) one.push_back({{"score", score}, {"label", labels.at(k)}});
    all.push_back(one);
  }
  return (r.batch ? all : all[0]).dump(-1, ' ', false, json::error_handler_t::replace);
}

RerankRequest parse_rerank(const std::string& body, size_t max_inputs) {
  const json j = parse_object(body, 422);
  only_fields(j, {"query", "texts", "truncate", "raw_scores", "return_text"}, 422);
  if (!j.contains("query") || !j["query"].is_string())
    throw HttpError{422, "\"query\" must be a string", "Validation"};
  if (!j.contains("texts") || !j["texts"].is_array())
    throw HttpError{422, "\"texts\" must be an array of strings", "Validation"};
  RerankRequest r;
  r.texts = strings(j["texts"], "texts", 422);
  check_inputs(r.texts.size(), max_inputs, "texts");
  no_empty_strings(r.texts, "texts");
  const std::string q = j["query"].get<std::string>();
  if (q.empty()) throw HttpError{422, "\"query\" is an empty string", "Validation"};
  r.pairs.dialect = Dialect::Tei;
  r.pairs.texts.assign(r.texts.size(), q);
  r.pairs.pairs = r.texts;
  r.pairs.truncate = opt_bool(j, "truncate", 422);
  r.raw_scores = opt_bool(j, "raw_scores", 422).value_or(false);
  r.return_text = opt_bool(j, "return_text", 422).value_or(false);
  return r;
}

std::string rerank_response(const RerankRequest& r, const std::vector<std::vector<float>>& logits) {
  std::vector<std::pair<double, size_t>> s;
  for (size_t i = 0; i < logits.size(); ++i)
    s.push_back({r.raw_scores ? double(logits[i][0]) : 1.0 / (1.0 + std::exp(-double(logits[i][0]))), i});
  std::stable_sort(s.begin(), s.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  json out = json::array();
  for (const auto& [score, i] : s) {
    json rank = {{"index", i}, {"score", score}};
    if (r.return_text) rank["text"] = r.texts[i];
    out.push_back(rank);
  }
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

TokenizeRequest parse_tokenize(const std::string& body, size_t max_inputs) {
  const json j = parse_object(body, 422);
  only_fields(j, {"inputs", "add_special_tokens"}, 422);
  if (!j.contains("inputs")) throw HttpError{422, "missing \"inputs\"", "Validation"};
  TokenizeRequest r;
  const json& in = j["inputs"];
  if (in.is_string()) r.texts = {in.get<std::string>()};
  else if (in.is_array()) r.texts = strings(in, "inputs", 422);
  else throw HttpError{422, "\"inputs\" must be a string or an array of strings", "Validation"};
  check_inputs(r.texts.size(), max_inputs, "inputs");
  r.add_special_tokens = opt_bool(j, "add_special_tokens", 422).value_or(true);
  return r;
}

void apply_dimensions(std::vector<std::vector<float>>& emb, int64_t dims, bool normalize) {
  const int64_t hidden = emb.empty() ? 0 : int64_t(emb[0].size());
  if (dims < 1 || dims > hidden)
    throw HttpError{422, "\"dimensions\" " + std::to_string(dims) + " is outside 1.." + std::to_string(hidden) +
                             " (the model's embedding size)", "Validation"};
  for (auto& e : emb) {
    e.resize(size_t(dims));
    if (!normalize) continue;
    double s = 0;
    for (float v : e) s += double(v) * double(v);
    const double n = std::sqrt(s);
    if (n > 0)
      for (float& v : e) v = float(double(v) / n);
  }
}

std::string base64_f32(const std::vector<float>& v) {
  std::vector<uint8_t> b(v.size() * 4);
  for (size_t i = 0; i < v.size(); ++i) {
    uint32_t u;
    std::memcpy(&u, &v[i], 4);
    for (int k = 0; k < 4; ++k) b[i * 4 + size_t(k)] = uint8_t(u >> (8 * k));  // little-endian on every host
  }
  std::string out;
  out.reserve((b.size() + 2) / 3 * 4);
  for (size_t i = 0; i < b.size(); i += 3) {
    const uint32_t n = uint32_t(b[i]) << 16 | (i + 1 < b.size() ? uint32_t(b[i + 1]) << 8 : 0) |
                       (i + 2 < b.size() ? uint32_t(b[i + 2]) : 0);
    out += kB64[(n >> 18) & 63];
    out += kB64[(n >> 12) & 63];
    out += i + 1 < b.size() ? kB64[(n >> 6) & 63] : '=';
    out += i + 2 < b.size() ? kB64[n & 63] : '=';
  }
  return out;
}

std::string embed_response(const EmbedRequest& r, const std::vector<std::vector<float>>& emb,
                           const std::vector<bool>& truncated, int64_t prompt_tokens, const std::string& model_name) {
  json out;
  if (r.dialect == Dialect::Native) {
    out = {{"embeddings", emb}, {"truncated", truncated}};
  } else if (r.dialect == Dialect::Tei) {
    out = emb;
  } else {
    json data = json::array();
    for (size_t i = 0; i < emb.size(); ++i)
      data.push_back({{"object", "embedding"},
                      {"embedding", r.base64 ? json(base64_f32(emb[i])) : json(emb[i])},
                      {"index", i}});
    out = {{"object", "list"},
           {"data", data},
           {"model", r.model.empty() ? model_name : r.model},
           {"usage", {{"prompt_tokens", prompt_tokens}, {"total_tokens", prompt_tokens}}}};
  }
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace rmsmp::serve

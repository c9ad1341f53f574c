// rmsmp-serve's TEI and OpenAI dialects over loopback, against the engine's own embeddings of the same texts
// (Model::embed on Model::tokenize): shapes, dimensions, base64 (decoded here, compared bit for bit), token-id
// inputs, usage counts, /info, and every validation error with its status and error_type.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

// convert.h (Eigen) before httplib.h: httplib pulls in <resolv.h>, whose `_res` macro breaks Eigen's headers.
#include "convert.h"
#include "rmsmp/context.h"
#include "serve/server.h"
#include "util/test_env.h"

#include <httplib.h>

namespace rmsmp {
namespace {

using nlohmann::json;

std::string tiny_model() {
  static const std::string p = [] {
    ConvertOptions o;
    o.in_dir = test::make_tiny_checkpoint("serve_api");
    o.out_path = test::temp_dir() + "/serve_api.rmsmp";
    o.scheme = "fp32";
    convert_checkpoint(o);
    return o.out_path;
  }();
  return p;
}

struct Server {
  std::shared_ptr<const Model> model = Model::load(tiny_model());
  serve::Server server;
  httplib::Client client;
  explicit Server(serve::Options o) : server(model, (o.port = 0, o)), client("127.0.0.1", (server.start(), server.port())) {}
  httplib::Result post(const std::string& path, const json& body) { return client.Post(path, body.dump(), "application/json"); }
  std::vector<std::vector<float>> engine(const std::vector<std::string>& texts, std::optional<bool> normalize = {}) {
    Context ctx(model);  // Context: the public API with per-call normalisation
    std::vector<Tokenized> b;
    for (const auto& t : texts) b.push_back(ctx.tokenize(t));
    EmbedOptions eo;
    eo.normalize = normalize;
    return ctx.embed(b, eo);
  }
};

std::vector<float> from_base64_f32(const std::string& s) {
  auto val = [](char c) -> uint32_t {
    if (c >= 'A' && c <= 'Z') return uint32_t(c - 'A');
    if (c >= 'a' && c <= 'z') return uint32_t(c - 'a' + 26);
    if (c >= '0' && c <= '9') return uint32_t(c - '0' + 52);
    return c == '+' ? 62u : 63u;
  };
  std::vector<uint8_t> b;
  for (size_t i = 0; i + 3 < s.size(); i += 4) {
    const uint32_t n = val(s[i]) << 18 | val(s[i + 1]) << 12 | (s[i + 2] == '=' ? 0 : val(s[i + 2]) << 6) |
                       (s[i + 3] == '=' ? 0 : val(s[i + 3]));
    b.push_back(uint8_t(n >> 16));
    if (s[i + 2] != '=') b.push_back(uint8_t(n >> 8));
    if (s[i + 3] != '=') b.push_back(uint8_t(n));
  }
  std::vector<float> f(b.size() / 4);
  for (size_t i = 0; i < f.size(); ++i) {
    const uint32_t u = uint32_t(b[i * 4]) | uint32_t(b[i * 4 + 1]) << 8 | uint32_t(b[i * 4 + 2]) << 16 |
                       uint32_t(b[i * 4 + 3]) << 24;
    std::memcpy(&f[i], &u, 4);
  }
  return f;
}

TEST(ServeApi, TeiEmbedShapesNormalizeAndDimensions) {
  Server s({});
  auto r = s.post("/embed", {{"inputs", "the movie was good"}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(json::parse(r->body).get<std::vector<std::vector<float>>>(), s.engine({"the movie was good"}));

  r = s.post("/embed", {{"inputs", {"a b", "c d e"}}, {"normalize", false}, {"truncate", true},
                        {"truncation_direction", "right"}});
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(json::parse(r->body).get<std::vector<std::vector<float>>>(), s.engine({"a b", "c d e"}, false));

  // dimensions: the first 8 values of the unnormalised embedding, rescaled to unit length.
  r = s.post("/embed", {{"inputs", {"a b"}}, {"dimensions", 8}, {"normalize", true}});
  ASSERT_EQ(r->status, 200) << r->body;
  const auto got = json::parse(r->body)[0].get<std::vector<float>>();
  auto full = s.engine({"a b"}, false)[0];
  full.resize(8);
  double n = 0;
  for (float v : full) n += double(v) * v;
  ASSERT_EQ(got.size(), 8u);
  for (size_t i = 0; i < 8; ++i) EXPECT_NEAR(got[i], full[i] / std::sqrt(n), 1e-6);
}

TEST(ServeApi, OpenAiEmbeddingsFloatBase64TokenIdsAndUsage) {
  Server s({});
  const std::vector<std::string> texts = {"the plot was dull", "great"};
  auto r = s.post("/v1/embeddings", {{"input", texts}, {"model", "my-model"}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto j = json::parse(r->body);
  EXPECT_EQ(j["object"], "list");
  EXPECT_EQ(j["model"], "my-model");
  const auto want = s.engine(texts);
  int64_t tokens = 0;
  for (const auto& t : texts) tokens += int64_t(s.model->tokenize(t).ids.size());
  EXPECT_EQ(j["usage"]["prompt_tokens"], tokens);
  EXPECT_EQ(j["usage"]["total_tokens"], tokens);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(j["data"][i]["object"], "embedding");
    EXPECT_EQ(j["data"][i]["index"], i);
    EXPECT_EQ(j["data"][i]["embedding"].get<std::vector<float>>(), want[i]);
  }
  // base64: little-endian float32, bit-identical; /embeddings is the same route.
  r = s.post("/embeddings", {{"input", texts[0]}, {"encoding_format", "base64"}});
  ASSERT_EQ(r->status, 200) << r->body;
  const auto b = from_base64_f32(json::parse(r->body)["data"][0]["embedding"].get<std::string>());
  ASSERT_EQ(b.size(), want[0].size());
  EXPECT_EQ(std::memcmp(b.data(), want[0].data(), b.size() * 4), 0);
  // Token ids are the model's own: the tokenizer's ids ([CLS]/[SEP] included) give the text's embedding.
  r = s.post("/v1/embeddings", {{"input", {s.model->tokenize(texts[0]).ids, s.model->tokenize(texts[1]).ids}}});
  ASSERT_EQ(r->status, 200) << r->body;
  j = json::parse(r->body);
  EXPECT_EQ(j["data"][0]["embedding"].get<std::vector<float>>(), want[0]);
  EXPECT_EQ(j["data"][1]["embedding"].get<std::vector<float>>(), want[1]);
  EXPECT_FALSE(j["model"].get<std::string>().empty());  // no "model" sent: the served file's path
}

// TEI's shape: [CLS]/[SEP] special with their vocabulary strings and null offsets; every other piece with its
// byte span in the input and the text it covers (spans checked against HF tokenizers in
// TokenizerGolden.PieceSpansEqualHuggingFaceOffsets).
TEST(ServeApi, TokenizeReturnsIdsAndPiecesAsTeiDoes) {
  Server s({});
  const std::string text = "a b\u00e9";  // a two-byte character: byte offsets, not character ones
  auto r = s.client.Post("/tokenize", json({{"inputs", {text, "c"}}}).dump(), "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const auto j = json::parse(r->body);
  ASSERT_EQ(j.size(), 2u);
  const auto ids = s.model->tokenize(text).ids;
  const auto spans = s.model->tokenize_raw_spans(text);
  ASSERT_EQ(j[0].size(), ids.size());
  ASSERT_EQ(spans.spans.size(), ids.size() - 2);
  for (size_t k = 0; k < ids.size(); ++k) {
    EXPECT_EQ(j[0][k]["id"], ids[k]);
    const bool special = k == 0 || k + 1 == ids.size();
    EXPECT_EQ(j[0][k]["special"], special);
    if (special) {
      EXPECT_TRUE(j[0][k]["start"].is_null());
      continue;
    }
    const auto [b, e] = spans.spans[k - 1];
    EXPECT_EQ(j[0][k]["start"], b);
    EXPECT_EQ(j[0][k]["stop"], e);
    EXPECT_EQ(j[0][k]["text"], text.substr(b, e - b));
  }
  EXPECT_EQ(j[0][0]["text"], "[CLS]");
  EXPECT_EQ(j[0].back()["text"], "[SEP]");
  EXPECT_EQ(j[0].back()["stop"], nullptr);
  EXPECT_EQ(j[0][ids.size() - 2]["stop"], text.size());  // the last piece ends where the text does
  r = s.client.Post("/tokenize", R"({"inputs": "a b", "add_special_tokens": false})", "application/json");
  ASSERT_EQ(r->status, 200) << r->body;
  const auto raw = s.model->tokenize_raw("a b");
  ASSERT_EQ(json::parse(r->body)[0].size(), raw.size());
  EXPECT_EQ(json::parse(r->body)[0][0]["id"], raw[0]);
  EXPECT_EQ(json::parse(r->body)[0][0]["start"], 0);
  EXPECT_EQ(s.client.Post("/tokenize", R"({"inputs": "a", "pairs": 1})", "application/json")->status, 422);
}

TEST(ServeApi, InfoDescribesTheModelAndLimits) {
  serve::Options o;
  o.max_texts = 7;
  Server s(o);
  auto r = s.client.Get("/info");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  const auto j = json::parse(r->body);
  EXPECT_EQ(j["max_client_batch_size"], 7);
  EXPECT_EQ(j["max_input_length"], s.model->info().max_seq_length);
  EXPECT_EQ(j["model_type"]["embedding"]["pooling"], "mean");
  EXPECT_EQ(j["scheme"], "fp32");
  EXPECT_EQ(j["hidden_size"], s.model->info().hidden_size);
  EXPECT_EQ(j["version"], serve::kServerVersion);
}

TEST(ServeApi, ValidationErrorsAre422WithErrorType) {
  serve::Options o;
  o.max_texts = 3;
  o.max_tokens = 6;
  o.truncate = false;
  Server s(o);
  auto expect = [&](const std::string& path, const std::string& body, int status, const std::string& needle,
                    const std::string& type = "Validation") {
    auto r = s.client.Post(path, body, "application/json");
    ASSERT_TRUE(r) << body;
    EXPECT_EQ(r->status, status) << body << " -> " << r->body;
    const auto j = json::parse(r->body);
    EXPECT_NE(j["error"].get<std::string>().find(needle), std::string::npos) << r->body;
    EXPECT_EQ(j["error_type"], type) << r->body;
  };
  const std::string long_text = "\"a b c d e f g h i j k\"";  // over 6 tokens
  expect("/embed", "{\"inputs\": ", 400, "malformed JSON");
  expect("/embed", "{\"inputs\": []}", 422, "empty");
  expect("/embed", "{\"inputs\": [\"\"]}", 422, "inputs[0] is an empty string");
  expect("/embed", "{\"inputs\": [\"a\", \"b\", \"c\", \"d\"]}", 422, "at most 3");
  expect("/embed", "{\"inputs\": 5}", 422, "must be a string");
  expect("/embed", "{\"inputs\": \"a\", \"pooling\": \"cls\"}", 422, "unknown field \"pooling\"");
  expect("/embed", "{\"inputs\": \"a\", \"dimensions\": 0}", 422, "outside 1..");
  expect("/embed", "{\"inputs\": \"a\", \"dimensions\": 100000}", 422, "outside 1..");
  expect("/embed", "{\"inputs\": \"a\", \"truncation_direction\": \"left\"}", 422, "not supported");
  expect("/embed", "{\"inputs\": " + long_text + "}", 422, "over the limit of 6");
  expect("/embed", "{\"texts\": [" + long_text + "]}", 400, "over the limit of 6");  // the native dialect
  expect("/v1/embeddings", "{\"input\": \"a\", \"encoding_format\": \"hex\"}", 422, "encoding_format");
  expect("/v1/embeddings", "{\"input\": [[1, 2], [99999]]}", 422, "vocabulary size");
  expect("/v1/embeddings", "{\"input\": [[1, -2]]}", 422, "not a token id");
  expect("/v1/embeddings", "{\"inputs\": \"a\"}", 422, "unknown field \"inputs\"");
  expect("/v1/embeddings", "{\"input\": [\"a\", \"b\", \"c\", \"d\"]}", 422, "at most 3");
  expect("/texts", "{}", 404, "HTTP 404");
  // "truncate": true overrides the server's --no-truncate.
  auto r = s.client.Post("/embed", "{\"inputs\": " + long_text + ", \"truncate\": true}", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
}

TEST(ServeApi, ApiKeyIsRequiredEverywhereButHealth) {
  serve::Options o;
  o.api_key = "k3y";
  Server s(o);
  auto r = s.client.Post("/embed", R"({"inputs": "a"})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(json::parse(r->body)["error_type"], "Unauthorized");
  EXPECT_EQ(s.client.Get("/info")->status, 401);
  EXPECT_EQ(s.client.Get("/metrics")->status, 401);
  EXPECT_EQ(s.client.Get("/health")->status, 200);  // load balancers probe without credentials
  httplib::Headers wrong = {{"Authorization", "Bearer k3"}}, right = {{"Authorization", "Bearer k3y"}};
  EXPECT_EQ(s.client.Post("/embed", wrong, R"({"inputs": "a"})", "application/json")->status, 401);
  EXPECT_EQ(s.client.Post("/embed", right, R"({"inputs": "a"})", "application/json")->status, 200);
  EXPECT_EQ(s.client.Get("/info", right)->status, 200);
}

// Many clients at once against one compute worker: requests queue while a batch runs and are packed into the
// next one (fewer batches than requests), and a quantized model's rows are bit-identical to each request alone.
TEST(ServeApi, ConcurrentRequestsArePackedAndBitIdenticalToAlone) {
  ConvertOptions co;
  co.in_dir = test::make_tiny_checkpoint("serve_batch", 5);
  co.out_path = test::temp_dir() + "/serve_batch_fixed8.rmsmp";
  co.scheme = "fixed8";
  convert_checkpoint(co);
  auto model = Model::load(co.out_path);
  serve::Options o;
  o.port = 0;
  o.max_inflight = 64;
  serve::Server server(model, o);
  server.start();
  const int clients = 16, each = 4;
  std::vector<std::vector<std::string>> texts(clients * each);
  for (int i = 0; i < clients * each; ++i)
    for (int k = 0; k <= i % 3; ++k) texts[size_t(i)].push_back("a b c d e f g h i j k l m n o p q r s t u v w x y z a b c " + std::to_string(i * 7 + k));
  std::vector<json> got(texts.size());
  std::vector<std::thread> th;
  for (int c = 0; c < clients; ++c)
    th.emplace_back([&, c] {
      httplib::Client cl("127.0.0.1", server.port());
      cl.set_read_timeout(60, 0);
      for (int k = 0; k < each; ++k) {
        const size_t i = size_t(c * each + k);
        auto r = cl.Post("/embed", json({{"inputs", texts[i]}}).dump(), "application/json");
        got[i] = r && r->status == 200 ? json::parse(r->body)
                                       : json(r ? "status " + std::to_string(r->status) + ": " + r->body
                                                : "no response: " + httplib::to_string(r.error()));
      }
    });
  for (auto& t : th) t.join();
  Context alone(model);
  for (size_t i = 0; i < texts.size(); ++i) {
    std::vector<Tokenized> b;
    for (const auto& t : texts[i]) b.push_back(alone.tokenize(t));
    ASSERT_TRUE(got[i].is_array()) << got[i];
    EXPECT_EQ(got[i].get<std::vector<std::vector<float>>>(), alone.embed(b)) << "request " << i;
  }
  httplib::Client cl("127.0.0.1", server.port());
  const std::string m = cl.Get("/metrics")->body;
  const size_t at = m.find("\nrmsmp_batches_total ");
  ASSERT_NE(at, std::string::npos) << m;
  const long batches = std::stol(m.substr(at + 21));
  std::cout << texts.size() << " requests from " << clients << " clients ran in " << batches << " batches\n";
  EXPECT_LT(batches, long(texts.size()));
  // The histograms count every batch once and every input once.
  size_t inputs = 0;
  for (const auto& t : texts) inputs += t.size();
  EXPECT_NE(m.find("\nrmsmp_batch_inputs_count " + std::to_string(batches) + "\n"), std::string::npos) << m;
  EXPECT_NE(m.find("\nrmsmp_batch_inputs_sum " + std::to_string(inputs) + "\n"), std::string::npos) << m;
  EXPECT_NE(m.find("\nrmsmp_batch_inputs_bucket{le=\"+Inf\"} " + std::to_string(batches) + "\n"), std::string::npos);
  EXPECT_NE(m.find("\nrmsmp_queue_seconds_count " + std::to_string(texts.size()) + "\n"), std::string::npos);
}

std::string head_model(const std::string& name, int labels) {
  ConvertOptions o;
  test::TinyOptions t;
  t.num_labels = labels;
  o.in_dir = test::make_tiny_checkpoint(name, 3, t);
  o.out_path = test::temp_dir() + "/" + name + ".rmsmp";
  o.scheme = "fp32";
  convert_checkpoint(o);
  return o.out_path;
}

struct HeadServer {
  std::shared_ptr<const Model> model;
  serve::Server server;
  httplib::Client client;
  explicit HeadServer(const std::string& path)
      : model(Model::load(path)), server(model, [] { serve::Options o; o.port = 0; return o; }()),
        client("127.0.0.1", (server.start(), server.port())) {}
  std::vector<float> logits(const std::string& a, const std::optional<std::string>& b = {}) {
    return model->classify({b ? model->tokenize(a, *b) : model->tokenize(a)})[0];
  }
};

TEST(ServeApi, PredictSortsSoftmaxScoresPerInputAsTeiDoes) {
  HeadServer s(head_model("serve_predict", 3));
  auto r = s.client.Post("/predict", R"({"inputs": "the movie"})", "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto j = json::parse(r->body);  // a single input: one list
  const auto l = s.logits("the movie");
  ASSERT_EQ(j.size(), 3u);
  double z = 0, mx = *std::max_element(l.begin(), l.end());
  for (float v : l) z += std::exp(double(v) - mx);
  for (size_t k = 0; k < 3; ++k) {
    if (k > 0) {
      EXPECT_GE(j[k - 1]["score"].get<double>(), j[k]["score"].get<double>());
    }
    const std::string label = j[k]["label"];
    const size_t idx = size_t(std::find(s.model->info().labels.begin(), s.model->info().labels.end(), label) -
                              s.model->info().labels.begin());
    ASSERT_LT(idx, 3u) << label;
    EXPECT_NEAR(j[k]["score"].get<double>(), std::exp(double(l[idx]) - mx) / z, 1e-9);
  }
  // A batch mixing a single text and a pair, raw scores: a list per input, logits as they are.
  r = s.client.Post("/predict", R"({"inputs": [["the movie"], ["a", "b c"]], "raw_scores": true})", "application/json");
  ASSERT_EQ(r->status, 200) << r->body;
  j = json::parse(r->body);
  ASSERT_EQ(j.size(), 2u);
  const auto lp = s.logits("a", std::string("b c"));
  EXPECT_NEAR(j[1][0]["score"].get<double>(), *std::max_element(lp.begin(), lp.end()), 1e-9);
  r = s.client.Post("/predict", R"({"inputs": [["a", "b", "c"]]})", "application/json");
  EXPECT_EQ(r->status, 422);
  r = s.client.Post("/rerank", R"({"query": "q", "texts": ["a"]})", "application/json");
  EXPECT_EQ(r->status, 501) << r->body;  // three outputs: not a cross-encoder
  EXPECT_NE(r->body.find("cross-encoder"), std::string::npos);
}

TEST(ServeApi, RerankScoresEachTextAgainstTheQuery) {
  HeadServer s(head_model("serve_rerank", 1));
  auto r = s.client.Post("/rerank", R"({"query": "what is it", "texts": ["a b", "c", "b c d"], "return_text": true})",
                         "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const auto j = json::parse(r->body);
  ASSERT_EQ(j.size(), 3u);
  const std::vector<std::string> texts = {"a b", "c", "b c d"};
  std::vector<Tokenized> b;  // the same batch as the server's (an fp32 GEMM's sums depend on its rows)
  for (const auto& t : texts) b.push_back(s.model->tokenize("what is it", t));
  const auto logits = s.model->classify(b);
  for (size_t k = 0; k < 3; ++k) {
    const size_t i = j[k]["index"];
    EXPECT_EQ(j[k]["text"], texts[i]);
    EXPECT_NEAR(j[k]["score"].get<double>(), 1.0 / (1.0 + std::exp(-double(logits[i][0]))), 1e-12);
    if (k > 0) {
      EXPECT_GE(j[k - 1]["score"].get<double>(), j[k]["score"].get<double>());
    }
  }
  r = s.client.Post("/rerank", R"({"query": "q", "texts": []})", "application/json");
  EXPECT_EQ(r->status, 422);
  r = s.client.Post("/rerank", R"({"query": "q", "texts": ["a"], "top_n": 1})", "application/json");
  EXPECT_EQ(r->status, 422);
  EXPECT_NE(r->body.find("top_n"), std::string::npos);
}

// Every family converts and serves through the same endpoints, with no code of its own, and answers what
// transformers / sentence-transformers compute: /predict's raw scores are the golden logits (RoBERTa and MPNet
// cross-encoders, DistilBERT), /embed's vectors the golden embeddings (XLM-R, mean pooling).
TEST(ServeApi, EveryFamilyServesWithoutCodeOfItsOwn) {
  auto convert_dir = [](const std::string& name) {
    ConvertOptions o;
    o.in_dir = test::data_dir() + "/" + name;
    o.out_path = test::temp_dir() + "/serve_family_" + name + ".rmsmp";
    o.scheme = "fp32";
    convert_checkpoint(o);
    return o.out_path;
  };
  for (const char* name : {"tiny_roberta_cls", "tiny_mpnet_cls", "tiny_distilbert_cls"}) {
    json g;
    std::ifstream(test::data_dir() + "/" + name + "/golden_logits.json") >> g;
    HeadServer s(convert_dir(name));
    for (const auto& c : g["cases"]) {
      const json input = c["b"].is_null() ? json::array({c["a"]}) : json::array({c["a"], c["b"]});
      auto r = s.client.Post("/predict", json({{"inputs", json::array({input})}, {"raw_scores", true}}).dump(),
                             "application/json");
      ASSERT_TRUE(r);
      ASSERT_EQ(r->status, 200) << name << ": " << r->body;
      const auto want = c["logits"].get<std::vector<float>>();
      const auto& labels = s.model->info().labels;
      const json got = json::parse(r->body);
      ASSERT_TRUE(got.is_array() && got.size() == 1 && got[0].is_array()) << r->body;
      for (const auto& e : got[0]) {
        const size_t k = size_t(std::find(labels.begin(), labels.end(), e["label"].get<std::string>()) - labels.begin());
        ASSERT_LT(k, want.size()) << name;
        EXPECT_NEAR(e["score"].get<double>(), want[k], 1e-4) << name << ": " << c["a"];
      }
    }
  }
  json g;
  std::ifstream(test::data_dir() + "/tiny_xlmr/golden_embeddings.json") >> g;
  HeadServer s(convert_dir("tiny_xlmr"));
  for (const auto& c : g["cases"]) {
    auto r = s.client.Post("/embed", json({{"inputs", c["sentence"]}, {"normalize", false}}).dump(), "application/json");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    const auto got = json::parse(r->body)[0].get<std::vector<float>>();
    const auto want = c["embedding"].get<std::vector<float>>();
    ASSERT_EQ(got.size(), want.size());
    for (size_t j = 0; j < want.size(); ++j) EXPECT_NEAR(got[j], want[j], 1e-4) << c["sentence"];
  }
}

}  // namespace
}  // namespace rmsmp

// sentence-transformers' modules after the Transformer: Pooling in each mode and combined (cls, max, mean,
// mean_sqrt_len, concatenated in that order), Dense modules (weights in model.safetensors or pytorch_model.bin,
// Tanh / Identity, with and without bias) and Normalize, against sentence-transformers' own encode()
// (tests/data/tiny_st_modules/golden_embeddings.json, made by converters/goldens/make_tiny_st_modules.py on the
// tiny RoBERTa). Also what is refused: modules and pooling modes the engine does not run.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "convert.h"
#include "rmsmp/context.h"
#include "rmsmp/model.h"
#include "util/test_env.h"

namespace rmsmp {
namespace {

namespace fs = std::filesystem;

nlohmann::json golden() {
  nlohmann::json j;
  std::ifstream(test::data_dir() + "/tiny_st_modules/golden_embeddings.json") >> j;
  return j;
}

// tiny_roberta's Transformer files plus one pipeline's module files (and, for "full", the Dense weights).
std::string assemble(const std::string& name, const nlohmann::json& files) {
  const std::string dir = test::temp_dir() + "/st_" + name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const char* f : {"config.json", "model.safetensors", "tokenizer.json", "vocab.json", "merges.txt",
                        "tokenizer_config.json", "special_tokens_map.json"})
    fs::copy(test::data_dir() + "/tiny_roberta/" + f, dir + "/" + f);
  if (name == "full")
    for (const char* d : {"2_Dense", "3_Dense"}) fs::copy(test::data_dir() + "/tiny_st_modules/" + d, dir + "/" + d);
  for (const auto& [rel, content] : files.items()) {
    fs::create_directories(fs::path(dir + "/" + rel).parent_path());
    std::ofstream(dir + "/" + rel) << content.dump();
  }
  return dir;
}

std::string convert(const std::string& dir, const std::string& scheme) {
  ConvertOptions o;
  o.in_dir = dir;
  o.out_path = dir + "_" + scheme + ".rmsmp";
  o.scheme = scheme;
  o.calib_sentences = {"The movie was very good!", "It isn't fun; the plot was dull.", "A great play, 10/10."};
  o.calib_source = "inline";
  convert_checkpoint(o);
  return o.out_path;
}

}  // namespace

TEST(SentenceTransformers, PoolingModesAndDenseModulesMatchSentenceTransformers) {
  const nlohmann::json g = golden();
  const std::map<std::string, std::pair<std::string, int64_t>> expect = {
      {"full", {"cls+max+mean+mean_sqrt_len", 16}}, {"max", {"max", 32}}, {"mean_sqrt_len", {"mean_sqrt_len", 32}}};
  for (const auto& [name, p] : g["pipelines"].items()) {
    const std::string path = convert(assemble(name, p["files"]), "fp32");
    for (const std::string backend : {"reference", "cpu"}) {
      LoadOptions lo;
      lo.backend = backend;
      auto m = Model::load(path, lo);
      EXPECT_EQ(m->info().pooling, expect.at(name).first);
      EXPECT_EQ(m->info().embedding_size, expect.at(name).second) << name;
      EXPECT_EQ(m->info().hidden_size, 32);
      std::vector<Tokenized> batch;
      for (const auto& c : p["cases"]) batch.push_back(m->tokenize(c["sentence"].get<std::string>()));
      const auto emb = m->embed(batch);
      for (size_t i = 0; i < emb.size(); ++i) {
        const auto want = p["cases"][i]["embedding"].get<std::vector<float>>();
        ASSERT_EQ(emb[i].size(), want.size()) << name;
        for (size_t j = 0; j < want.size(); ++j) EXPECT_NEAR(emb[i][j], want[j], 1e-4) << name << " " << backend << " case " << i;
      }
    }
  }
}

// The quantized conversion keeps the Dense modules (fp32) and its vectors stay close; a Context with its own
// buffers and normalize=false gives the raw Dense output of the same width.
TEST(SentenceTransformers, QuantizedDenseModelKeepsItsWidth) {
  const nlohmann::json p = golden()["pipelines"]["full"];
  auto m = Model::load(convert(assemble("full", p["files"]), "fixed8"));
  ASSERT_EQ(m->info().embedding_size, 16);
  for (const auto& c : p["cases"]) {
    const auto e = m->embed({m->tokenize(c["sentence"].get<std::string>())})[0];
    const auto want = c["embedding"].get<std::vector<float>>();
    double dot = 0;
    for (size_t j = 0; j < want.size(); ++j) dot += double(e[j]) * want[j];  // both unit length
    EXPECT_GT(dot, 0.995) << c["sentence"];
  }
  Context ctx(m);
  EmbedOptions raw;
  raw.normalize = false;
  const auto r = ctx.embed({ctx.tokenize("great")}, raw)[0];
  EXPECT_EQ(r.size(), 16u);
  double n2 = 0;
  for (float v : r) n2 += double(v) * v;
  EXPECT_GT(std::abs(n2 - 1.0), 1e-3) << "normalize=false returns the Dense output before Normalize";
}

// What the engine does not run is refused at conversion, naming the file and the module or mode, instead of
// converting to a model whose vectors differ from the library's.
TEST(SentenceTransformers, ModulesAndPoolingModesTheEngineCannotRunAreRefused) {
  const nlohmann::json full = golden()["pipelines"]["full"]["files"];
  auto refused = [](const std::string& name, nlohmann::json files, const std::string& says) {
    const std::string dir = assemble(name, files);
    try {
      convert(dir, "fp32");
      ADD_FAILURE() << name << " converted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(dir), std::string::npos) << "names the file: " << e.what();
    }
    EXPECT_FALSE(fs::exists(dir + "_fp32.rmsmp"));
  };
  nlohmann::json f = full;
  f["modules.json"][2]["type"] = "sentence_transformers.models.LSTM";
  refused("lstm", f, "module 2_Dense of type sentence_transformers.models.LSTM");
  f = full;
  f["1_Pooling/config.json"]["pooling_mode_weightedmean_tokens"] = true;
  refused("weighted", f, "pooling_mode_weightedmean_tokens");
  f = full;
  f["1_Pooling/config.json"]["pooling_mode_lasttoken"] = true;
  refused("last", f, "pooling_mode_lasttoken");
  f = full;
  for (const char* k : {"pooling_mode_cls_token", "pooling_mode_mean_tokens", "pooling_mode_max_tokens",
                        "pooling_mode_mean_sqrt_len_tokens"})
    f["1_Pooling/config.json"][k] = false;
  refused("nopool", f, "no pooling mode");
  f = full;
  f["2_Dense/config.json"]["activation_function"] = "torch.nn.modules.activation.Sigmoid";
  refused("sigmoid", f, "Dense activation torch.nn.modules.activation.Sigmoid");
  f = full;
  f["2_Dense/config.json"]["in_features"] = 96;  // the pooled width is 128
  refused("width", f, "2_Dense");
  f = full;
  f["modules.json"][2]["path"] = "../../etc";
  refused("escape", f, "leaves the folder");
}

}  // namespace rmsmp

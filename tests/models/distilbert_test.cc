// DistilBERT (model_type "distilbert": its own config keys and tensor names, no token types) converts through
// the BERT mapping and reproduces Hugging Face transformers' mean-pooled hidden states
// (tests/data/tiny_distilbert/golden_embeddings.json, made by converters/goldens/make_tiny_distilbert.py).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <fstream>

#include <nlohmann/json.hpp>

#include "convert.h"
#include "rmsmp/model.h"
#include "util/test_env.h"

namespace rmsmp {
namespace {

std::string convert(const std::string& scheme, const std::string& in = test::data_dir() + "/tiny_distilbert") {
  ConvertOptions o;
  o.in_dir = in;
  o.out_path = test::temp_dir() + "/tiny_distilbert_" + scheme + ".rmsmp";
  o.scheme = scheme;
  o.calib_sentences = {"the movie was very good !", "it is not fun , the plot was dull .", "a great play"};
  o.calib_source = "inline";
  o.gptq = scheme != "fp32";
  convert_checkpoint(o);
  return o.out_path;
}

nlohmann::json golden() {
  std::ifstream in(test::data_dir() + "/tiny_distilbert/golden_embeddings.json");
  return nlohmann::json::parse(in);
}

double cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); ++i) ab += double(a[i]) * b[i], aa += double(a[i]) * a[i], bb += double(b[i]) * b[i];
  return ab / std::sqrt(aa * bb);
}

}  // namespace

TEST(DistilBert, Fp32EmbeddingsMatchTransformers) {
  for (const std::string backend : {"reference", "cpu"}) {
    LoadOptions lo;
    lo.backend = backend;
    auto m = Model::load(convert("fp32"), lo);
    const nlohmann::json g = golden();
    std::vector<Tokenized> batch;
    for (const auto& c : g["cases"]) {
      batch.push_back(m->tokenize(c["sentence"].get<std::string>()));
      EXPECT_EQ(batch.back().ids, c["ids"].get<std::vector<int32_t>>());
    }
    const auto emb = m->embed(batch);
    for (size_t i = 0; i < emb.size(); ++i) {
      const auto want = g["cases"][i]["embedding"].get<std::vector<float>>();
      ASSERT_EQ(emb[i].size(), want.size());
      for (size_t j = 0; j < want.size(); ++j) EXPECT_NEAR(emb[i][j], want[j], 1e-5) << backend << " case " << i;
    }
  }
}

TEST(DistilBert, QuantizedModelsStayCloseToTransformers) {
  const nlohmann::json g = golden();
  for (const std::string scheme : {"fixed8", "rmsmp"}) {
    auto m = Model::load(convert(scheme));
    for (const auto& c : g["cases"]) {
      const auto e = m->embed({m->tokenize(c["sentence"].get<std::string>())})[0];
      EXPECT_GT(cosine(e, c["embedding"].get<std::vector<float>>()), scheme == "fixed8" ? 0.999 : 0.95)
          << scheme << ": " << c["sentence"];
    }
  }
}

// A folder with pytorch_model.bin and no model.safetensors (older Hugging Face checkpoints) is read through the
// restricted pickle reader: the same model as from the safetensors file, bit for bit.
TEST(DistilBert, PytorchModelBinGivesTheSameModelAsSafetensors) {
  namespace fs = std::filesystem;
  const std::string dir = test::temp_dir() + "/distilbert_bin";
  fs::remove_all(dir);
  fs::copy(test::data_dir() + "/tiny_distilbert", dir);
  fs::remove(dir + "/model.safetensors");
  auto b = Model::load(convert("fp32", dir)), st = Model::load(convert("fp32"));
  const std::string s = "it is a very bad play";
  EXPECT_EQ(b->embed({b->tokenize(s)}), st->embed({st->tokenize(s)}));
  fs::remove(dir + "/pytorch_model.bin");
  try {
    convert("fp32", dir);
    FAIL() << "a folder without weights converted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::NotFound);
    EXPECT_NE(std::string(e.what()).find("no model.safetensors or pytorch_model.bin"), std::string::npos) << e.what();
  }
}

// DistilBertForSequenceClassification: pre_classifier + ReLU + classifier on the [CLS] state, as transformers
// computes it, for single texts and pairs (tests/data/tiny_distilbert_cls/golden_logits.json; pairs used to fail
// with "token type id 1 out of range").
TEST(DistilBert, ClassifierLogitsMatchTransformers) {
  std::ifstream in(test::data_dir() + "/tiny_distilbert_cls/golden_logits.json");
  const nlohmann::json g = nlohmann::json::parse(in);
  for (const std::string backend : {"reference", "cpu"}) {
    LoadOptions lo;
    lo.backend = backend;
    auto m = Model::load(convert("fp32", test::data_dir() + "/tiny_distilbert_cls"), lo);
    EXPECT_EQ(m->info().labels, (std::vector<std::string>{"negative", "neutral", "positive"}));
    std::vector<Tokenized> batch;
    for (const auto& c : g["cases"]) {  // single texts and pairs (DistilBERT reads the second text as type 0)
      batch.push_back(c["b"].is_null() ? m->tokenize(c["a"].get<std::string>())
                                       : m->tokenize(c["a"].get<std::string>(), c["b"].get<std::string>()));
      EXPECT_EQ(batch.back().ids, c["ids"].get<std::vector<int32_t>>());
    }
    const auto logits = m->classify(batch);
    for (size_t i = 0; i < logits.size(); ++i) {
      const auto want = g["cases"][i]["logits"].get<std::vector<float>>();
      ASSERT_EQ(logits[i].size(), want.size());
      for (size_t j = 0; j < want.size(); ++j) EXPECT_NEAR(logits[i][j], want[j], 1e-5) << backend << " case " << i;
    }
  }
}

// The tiny DistilBERT with its config.json edited, converted in fp32: the error it must raise.
Error convert_edited_config(const std::string& name, const std::function<void(nlohmann::json&)>& edit) {
  namespace fs = std::filesystem;
  const std::string dir = test::temp_dir() + "/" + name;
  fs::remove_all(dir);
  fs::copy(test::data_dir() + "/tiny_distilbert", dir);
  nlohmann::json cfg;
  std::ifstream(dir + "/config.json") >> cfg;
  edit(cfg);
  std::ofstream(dir + "/config.json") << cfg.dump();
  try {
    convert("fp32", dir);
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << name << ": the edited config converted";
  return Error(ErrorCode::Internal, "converted");
}

TEST(DistilBert, WhatTheMappingCannotRunIsRefusedByName) {
  const Error e = convert_edited_config("distilbert_relu", [](nlohmann::json& c) { c["activation"] = "relu"; });
  EXPECT_EQ(e.code(), ErrorCode::Unsupported);
  EXPECT_NE(std::string(e.what()).find("activation 'relu'"), std::string::npos) << e.what();
}

// A model_type no family mapping reads (converters/hf_<family>.cc) is refused naming config.json and every
// model_type that is read, from the one registry (hf_families()).
TEST(HfFamilies, AnUnknownModelTypeIsRefusedListingEveryFamily) {
  const Error e = convert_edited_config("deberta", [](nlohmann::json& c) { c["model_type"] = "deberta-v2"; });
  EXPECT_EQ(e.code(), ErrorCode::Unsupported);
  const std::string m = e.what();
  EXPECT_NE(m.find("config.json: model_type 'deberta-v2' is not supported"), std::string::npos) << m;
  for (const char* t : {"bert", "distilbert", "roberta", "xlm-roberta", "camembert", "mpnet"})
    EXPECT_NE(m.find(std::string(t)), std::string::npos) << t << " missing from: " << m;
}

}  // namespace rmsmp

// A BertForSequenceClassification checkpoint keeps its pooler + classifier through conversion, and
// Model::classify reproduces Hugging Face transformers' logits (tests/data/tiny_classifier/golden_logits.json,
// made by converters/goldens/make_tiny_classifier.py).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "convert.h"
#include "rmsmp/model.h"
#include "util/test_env.h"

namespace rmsmp {
namespace {

std::string convert(const std::string& scheme) {
  ConvertOptions o;
  o.in_dir = test::data_dir() + "/tiny_classifier";
  o.out_path = test::temp_dir() + "/tiny_cls_" + scheme + ".rmsmp";
  o.scheme = scheme;
  convert_checkpoint(o);
  return o.out_path;
}

nlohmann::json golden() {
  std::ifstream in(test::data_dir() + "/tiny_classifier/golden_logits.json");
  return nlohmann::json::parse(in);
}

}  // namespace

TEST(Classifier, Fp32LogitsMatchTransformers) {
  for (const std::string backend : {"reference", "cpu"}) {
    LoadOptions lo;
    lo.backend = backend;
    auto m = Model::load(convert("fp32"), lo);
    EXPECT_EQ(m->info().num_labels, 3);
    EXPECT_EQ(m->info().labels, (std::vector<std::string>{"negative", "neutral", "positive"}));
    EXPECT_FALSE(m->info().regression);
    const nlohmann::json g = golden();
    std::vector<Tokenized> batch;
    for (const auto& c : g["cases"]) {
      batch.push_back(c["b"].is_null() ? m->tokenize(c["a"].get<std::string>())
                                       : m->tokenize(c["a"].get<std::string>(), c["b"].get<std::string>()));
      EXPECT_EQ(batch.back().ids, c["ids"].get<std::vector<int32_t>>());
    }
    const auto logits = m->classify(batch);  // one packed batch of mixed lengths
    ASSERT_EQ(logits.size(), g["cases"].size());
    for (size_t i = 0; i < logits.size(); ++i) {
      const auto want = g["cases"][i]["logits"].get<std::vector<float>>();
      ASSERT_EQ(logits[i].size(), want.size());
      for (size_t j = 0; j < want.size(); ++j) EXPECT_NEAR(logits[i][j], want[j], 1e-5) << backend << " case " << i;
    }
  }
}

TEST(Classifier, QuantizedModelKeepsTheHeadAndStaysClose) {
  auto m = Model::load(convert("fixed8"));
  ASSERT_EQ(m->info().num_labels, 3);
  const nlohmann::json g = golden();
  std::vector<Tokenized> batch;
  for (const auto& c : g["cases"])
    batch.push_back(c["b"].is_null() ? m->tokenize(c["a"].get<std::string>())
                                     : m->tokenize(c["a"].get<std::string>(), c["b"].get<std::string>()));
  const auto logits = m->classify(batch);
  for (size_t i = 0; i < logits.size(); ++i)
    for (size_t j = 0; j < 3; ++j)  // 8-bit weights and activations: small, bounded drift
      EXPECT_NEAR(logits[i][j], g["cases"][i]["logits"][j].get<float>(), 0.05) << i;
}

TEST(Classifier, ModelsWithoutAHeadSaySo) {
  ConvertOptions o;
  o.in_dir = test::make_tiny_checkpoint("tiny_nohead");
  o.out_path = test::temp_dir() + "/tiny_nohead.rmsmp";
  o.scheme = "fp32";
  convert_checkpoint(o);
  auto m = Model::load(o.out_path);
  EXPECT_EQ(m->info().num_labels, 0);
  try {
    m->classify({m->tokenize("the movie")});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Unsupported);
    EXPECT_NE(std::string(e.what()).find("no classification head"), std::string::npos);
  }
}

}  // namespace rmsmp

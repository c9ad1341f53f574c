// MPNet (model_type "mpnet": WordPiece with <s> a </s></s> b </s>, RoBERTa's positions, no token types, and a
// relative position bias shared by every layer, added to the attention scores in every backend) against
// Hugging Face transformers: the buckets, mean-pooled hidden states up to 150 tokens, and a classifier's logits
// (goldens made by converters/goldens/make_tiny_mpnet.py).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "convert.h"
#include "models/bert.h"
#include "rmsmp/model.h"
#include "util/test_env.h"

namespace rmsmp {
namespace {

std::string convert(const std::string& scheme, const std::string& name = "tiny_mpnet") {
  ConvertOptions o;
  o.in_dir = test::data_dir() + "/" + name;
  o.out_path = test::temp_dir() + "/" + name + "_" + scheme + ".rmsmp";
  o.scheme = scheme;
  o.calib_sentences = {"The movie was very good!", "It isn't fun; the plot was dull.", "A great play, 10/10."};
  o.calib_source = "inline";
  convert_checkpoint(o);
  return o.out_path;
}

nlohmann::json read(const std::string& rel) {
  nlohmann::json j;
  std::ifstream(test::data_dir() + "/" + rel) >> j;
  return j;
}

}  // namespace

TEST(MpNet, RelativePositionBucketsMatchTransformers) {
  const nlohmann::json g = read("tiny_mpnet/golden_buckets.json");
  const auto rel = g["relative_positions"].get<std::vector<int64_t>>();
  const auto want = g["buckets"].get<std::vector<int64_t>>();
  for (size_t i = 0; i < rel.size(); ++i)
    EXPECT_EQ(relative_position_bucket(rel[i], 32, 128), want[i]) << "relative position " << rel[i];
}

TEST(MpNet, Fp32EmbeddingsMatchTransformersOnEveryBackend) {
  const nlohmann::json g = read("tiny_mpnet/golden_embeddings.json");
  const std::string path = convert("fp32");
  for (const std::string backend : {"reference", "cpu", "opencl"}) {
    LoadOptions lo;
    lo.backend = backend;
    auto m = Model::load(path, lo);
    EXPECT_EQ(m->info().max_seq_length, 160);
    std::vector<Tokenized> batch;
    for (const auto& c : g["cases"]) {
      batch.push_back(m->tokenize(c["sentence"].get<std::string>()));
      EXPECT_EQ(batch.back().ids, c["ids"].get<std::vector<int32_t>>()) << c["sentence"];
    }
    const auto emb = m->embed(batch);
    for (size_t i = 0; i < emb.size(); ++i) {
      const auto want = g["cases"][i]["embedding"].get<std::vector<float>>();
      ASSERT_EQ(emb[i].size(), want.size());
      for (size_t j = 0; j < want.size(); ++j) EXPECT_NEAR(emb[i][j], want[j], 1e-4) << backend << " case " << i;
    }
  }
}

// Quantized conversions: the CPU and OpenCL backends give the reference's bits, and the vectors stay close.
TEST(MpNet, QuantizedModelsAreBitIdenticalAcrossBackendsAndClose) {
  const nlohmann::json g = read("tiny_mpnet/golden_embeddings.json");
  for (const std::string scheme : {"fixed8", "rmsmp"}) {
    const std::string path = convert(scheme);
    std::vector<std::vector<float>> ref;
    for (const std::string backend : {"reference", "cpu", "opencl"}) {
      LoadOptions lo;
      lo.backend = backend;
      auto m = Model::load(path, lo);
      std::vector<Tokenized> batch;
      for (const auto& c : g["cases"]) batch.push_back(m->tokenize(c["sentence"].get<std::string>()));
      const auto emb = m->embed(batch);
      if (ref.empty()) ref = emb;
      EXPECT_EQ(emb, ref) << scheme << " on " << backend;
      for (size_t i = 0; i < emb.size(); ++i) {
        const auto want = g["cases"][i]["embedding"].get<std::vector<float>>();
        double ab = 0, aa = 0, bb = 0;
        for (size_t j = 0; j < want.size(); ++j)
          ab += double(emb[i][j]) * want[j], aa += double(emb[i][j]) * emb[i][j], bb += double(want[j]) * want[j];
        EXPECT_GT(ab / std::sqrt(aa * bb), scheme == "fixed8" ? 0.999 : 0.95) << scheme << " case " << i;
      }
    }
  }
}

TEST(MpNet, ClassifierLogitsMatchTransformers) {
  const nlohmann::json g = read("tiny_mpnet_cls/golden_logits.json");
  auto m = Model::load(convert("fp32", "tiny_mpnet_cls"));
  EXPECT_EQ(m->info().labels, g["labels"].get<std::vector<std::string>>());
  std::vector<Tokenized> batch;
  for (const auto& c : g["cases"]) {
    batch.push_back(c["b"].is_null() ? m->tokenize(c["a"].get<std::string>())
                                     : m->tokenize(c["a"].get<std::string>(), c["b"].get<std::string>()));
    EXPECT_EQ(batch.back().ids, c["ids"].get<std::vector<int32_t>>()) << c["a"];
  }
  const auto logits = m->classify(batch);
  for (size_t i = 0; i < logits.size(); ++i) {
    const auto want = g["cases"][i]["logits"].get<std::vector<float>>();
    ASSERT_EQ(logits[i].size(), want.size());
    for (size_t j = 0; j < want.size(); ++j) EXPECT_NEAR(logits[i][j], want[j], 1e-4) << "case " << i;
  }
}

}  // namespace rmsmp

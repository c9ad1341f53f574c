// MPNet (model_type "mpnet": WordPiece with <s> a </s></s> b </s>, RoBERTa's positions, no token types, and a
// relative position bias shared by every layer, added to the attention scores in every backend) against
// Hugging Face transformers: the buckets, mean-pooled hidden states up to 150 tokens, and a classifier's logits
// (goldens made by converters/goldens/make_tiny_mpnet.py).
#include <gtest/gtest.h>

#include "models/bert.h"
#include "models/family_goldens.h"

namespace rmsmp {

using test::convert_family;
using test::read_golden;

TEST(MpNet, RelativePositionBucketsMatchTransformers) {
  const nlohmann::json g = read_golden("tiny_mpnet/golden_buckets.json");
  const auto rel = g["relative_positions"].get<std::vector<int64_t>>();
  const auto want = g["buckets"].get<std::vector<int64_t>>();
  for (size_t i = 0; i < rel.size(); ++i)
    EXPECT_EQ(relative_position_bucket(rel[i], 32, 128), want[i]) << "relative position " << rel[i];
}

TEST(MpNet, Fp32EmbeddingsMatchTransformersOnEveryBackend) {
  const nlohmann::json g = read_golden("tiny_mpnet/golden_embeddings.json");
  const std::string path = convert_family("tiny_mpnet", "fp32");
  EXPECT_EQ(Model::load(path)->info().max_seq_length, 160);
  for (const std::string& backend : test::golden_backends()) test::expect_golden_embeddings(path, g, backend, 1e-4);
}

// Quantized conversions: the CPU and OpenCL backends give the reference's bits, and the vectors stay close.
TEST(MpNet, QuantizedModelsAreBitIdenticalAcrossBackendsAndClose) {
  const nlohmann::json g = read_golden("tiny_mpnet/golden_embeddings.json");
  for (const std::string scheme : {"fixed8", "rmsmp"}) {
    const std::string path = convert_family("tiny_mpnet", scheme);
    std::vector<std::vector<float>> ref;
    for (const std::string& backend : test::golden_backends()) {
      const auto emb = test::expect_golden_embeddings(path, g, backend, 0, scheme == "fixed8" ? 0.999 : 0.95);
      if (ref.empty()) ref = emb;
      EXPECT_EQ(emb, ref) << scheme << " on " << backend;
    }
  }
}

TEST(MpNet, ClassifierLogitsMatchTransformers) {
  const nlohmann::json g = read_golden("tiny_mpnet_cls/golden_logits.json");
  test::expect_golden_logits(convert_family("tiny_mpnet_cls", "fp32"), g, "reference", 1e-4, true);
}

}  // namespace rmsmp

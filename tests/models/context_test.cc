// rmsmp::Context: same results as Model (bit-identical on an integer model), buffers reused across batches of
// different sizes without stale data leaking, per-context options (threads, truncation, max_tokens,
// normalisation) and their validation.
#include <gtest/gtest.h>

#include <cmath>

#include "convert.h"
#include "rmsmp/context.h"
#include "util/test_env.h"

namespace rmsmp {
namespace {

std::shared_ptr<const Model> tiny(const std::string& scheme) {
  ConvertOptions o;
  o.in_dir = test::make_tiny_checkpoint("tiny_ctx");
  o.out_path = test::temp_dir() + "/tiny_ctx_" + scheme + ".rmsmp";
  o.scheme = scheme;
  o.calib_sentences = {"the movie was very good !", "it is not fun , the plot was dull ."};
  o.calib_source = "inline";
  convert_checkpoint(o);
  return Model::load(o.out_path);
}

const std::vector<std::string> kTexts = {"the movie was good", "not fun !", "a very dull plot , it is bad .", "great"};

}  // namespace

TEST(Context, MatchesModelAndReusesBuffersAcrossBatchSizes) {
  auto m = tiny("rmsmp");
  Context ctx(m);
  std::vector<Tokenized> big, small;
  for (const auto& t : kTexts) big.push_back(m->tokenize(t));
  small = {big[3]};
  const auto want_big = m->embed(big), want_small = m->embed(small);
  EXPECT_EQ(ctx.embed(big), want_big);
  EXPECT_EQ(ctx.embed(small), want_small);  // after the larger batch: no stale activations leak in
  EXPECT_EQ(ctx.embed(big), want_big);
  EXPECT_EQ(ctx.embed_texts(kTexts), want_big);
}

// A batch of more tokens than one encoder pass takes (4096) runs as several passes: on an integer model each
// sequence's embedding (and head output) is the same as alone, including the ones past the first pass.
TEST(Context, BatchesLargerThanOnePassMatchEachInputAlone) {
  auto m = tiny("rmsmp");
  std::vector<Tokenized> batch;
  std::string text;
  for (int i = 0; i < 40; ++i) text += "the movie was good ";
  int64_t tokens = 0;
  for (int i = 0; tokens <= 2 * 4096; ++i) {
    batch.push_back(m->tokenize(text.substr(size_t(i % 37)) + std::to_string(i)));
    tokens += int64_t(batch.back().ids.size());
  }
  Context ctx(m);
  const auto got = ctx.embed(batch);
  ASSERT_EQ(got.size(), batch.size());
  for (size_t i = 0; i < batch.size(); i += 7) EXPECT_EQ(got[i], m->embed({batch[i]})[0]) << "input " << i;
  EXPECT_EQ(got.back(), m->embed({batch.back()})[0]);
}

TEST(Context, ThreadCountDoesNotChangeIntegerResults) {
  auto m = tiny("fixed4");
  ContextOptions one, two;
  one.threads = 1, two.threads = 2;
  Context a(m, one), b(m, two);
  EXPECT_EQ(a.embed_texts(kTexts), b.embed_texts(kTexts));
}

TEST(Context, NormalisationOverride) {
  auto m = tiny("fp32");
  Context ctx(m);
  EmbedOptions raw, unit;
  raw.normalize = false, unit.normalize = true;
  // The tiny checkpoint has no sentence-transformers files, so its default is unnormalised.
  EXPECT_EQ(ctx.embed_texts(kTexts), ctx.embed_texts(kTexts, raw));
  const auto n = ctx.embed_texts(kTexts, unit), r = ctx.embed_texts(kTexts, raw);
  for (size_t i = 0; i < n.size(); ++i) {
    double norm = 0;
    for (float x : r[i]) norm += double(x) * x;
    norm = std::sqrt(norm);
    EXPECT_GT(std::fabs(norm - 1.0), 1e-3);  // really unnormalised
    for (size_t j = 0; j < r[i].size(); ++j) EXPECT_NEAR(r[i][j] / norm, n[i][j], 1e-6);
  }
}

TEST(Context, TruncationPolicyAndMaxTokens) {
  auto m = tiny("fp32");
  ContextOptions o;
  o.max_tokens = 5;
  Context cut(m, o);
  const Tokenized t = cut.tokenize("the movie was very good !");
  EXPECT_TRUE(t.truncated);
  EXPECT_EQ(t.ids.size(), 5u);
  EXPECT_EQ(t.untruncated_length, 6u);  // stopped after 4 of the 6 words: "at least 6"
  EXPECT_FALSE(t.untruncated_exact);
  o.truncation = Truncation::Error;
  Context strict(m, o);
  try {
    strict.tokenize("the movie was very good !");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidText);
    EXPECT_NE(std::string(e.what()).find("input has at least 6 tokens, more than 5"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(strict.tokenize("great"));
  ContextOptions bad;
  bad.max_tokens = 2;
  EXPECT_THROW(Context(m, bad), Error);
  bad.max_tokens = m->info().max_seq_length + 1;
  EXPECT_THROW(Context(m, bad), Error);
  bad = {};
  bad.threads = -1;
  EXPECT_THROW(Context(m, bad), Error);
  bad.threads = 100000;  // crashed inside libgomp before the cap
  EXPECT_THROW(Context(m, bad), Error);
  bad.threads = kMaxContextThreads;
  EXPECT_NO_THROW(Context(m, bad));
  EXPECT_THROW(Context(nullptr), Error);
}

}  // namespace rmsmp

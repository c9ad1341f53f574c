// Shared by the model-family tests (RoBERTa, XLM-R, MPNet, ...): convert a committed tiny checkpoint, and compare
// a model with the golden ids, embeddings and logits that transformers wrote beside it
// (converters/goldens/make_tiny_*.py). Fails the calling test; never skips.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "convert.h"
#include "rmsmp/model.h"
#include "util/test_env.h"

namespace rmsmp::test {

// tests/data/<name> converted with `scheme` (GPTQ for quantized schemes, three inline calibration sentences).
inline std::string convert_family(const std::string& name, const std::string& scheme) {
  ConvertOptions o;
  o.in_dir = data_dir() + "/" + name;
  o.out_path = temp_dir() + "/" + name + "_" + scheme + ".rmsmp";
  o.scheme = scheme;
  o.calib_sentences = {"The movie was very good!", "It isn't fun; the plot was dull.", "A great play, 10/10."};
  o.calib_source = "inline";
  o.gptq = scheme != "fp32";
  convert_checkpoint(o);
  return o.out_path;
}

inline nlohmann::json read_golden(const std::string& rel) {
  nlohmann::json j;
  std::ifstream(data_dir() + "/" + rel) >> j;
  return j;
}

inline double cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); ++i) ab += double(a[i]) * b[i], aa += double(a[i]) * a[i], bb += double(b[i]) * b[i];
  return ab / std::sqrt(aa * bb);
}

// golden: {"cases": [{"sentence", "ids", "embedding"}]}. The model's ids equal the golden ids; embeddings are
// within `tol` of them (tol > 0), or have a cosine above `min_cosine` (tol == 0). Returns the embeddings.
inline std::vector<std::vector<float>> expect_golden_embeddings(const std::string& path, const nlohmann::json& golden,
                                                                const std::string& backend, double tol,
                                                                double min_cosine = 0) {
  LoadOptions lo;
  lo.backend = backend;
  auto m = Model::load(path, lo);
  std::vector<Tokenized> batch;
  for (const auto& c : golden["cases"]) {
    batch.push_back(m->tokenize(c["sentence"].get<std::string>()));
    EXPECT_EQ(batch.back().ids, c["ids"].get<std::vector<int32_t>>()) << c["sentence"];
  }
  const auto emb = m->embed(batch);
  for (size_t i = 0; i < emb.size(); ++i) {
    const auto want = golden["cases"][i]["embedding"].get<std::vector<float>>();
    EXPECT_EQ(emb[i].size(), want.size());
    if (emb[i].size() != want.size()) continue;
    if (tol > 0)
      for (size_t j = 0; j < want.size(); ++j) EXPECT_NEAR(emb[i][j], want[j], tol) << path << " on " << backend << " case " << i;
    else
      EXPECT_GT(cosine(emb[i], want), min_cosine) << path << " on " << backend << " case " << i;
  }
  return emb;
}

// golden: {"labels", "cases": [{"a", "b" (or null), "ids", "logits"}]}: labels, ids (token types all 0 when
// `zero_types`) and logits within `tol`.
inline void expect_golden_logits(const std::string& path, const nlohmann::json& golden, const std::string& backend,
                                 double tol, bool zero_types) {
  LoadOptions lo;
  lo.backend = backend;
  auto m = Model::load(path, lo);
  EXPECT_EQ(m->info().labels, golden["labels"].get<std::vector<std::string>>());
  std::vector<Tokenized> batch;
  for (const auto& c : golden["cases"]) {
    batch.push_back(c["b"].is_null() ? m->tokenize(c["a"].get<std::string>())
                                     : m->tokenize(c["a"].get<std::string>(), c["b"].get<std::string>()));
    EXPECT_EQ(batch.back().ids, c["ids"].get<std::vector<int32_t>>()) << c["a"];
    if (zero_types) {
      EXPECT_EQ(batch.back().type_ids, std::vector<int32_t>(batch.back().ids.size(), 0));
    }
  }
  const auto logits = m->classify(batch);
  for (size_t i = 0; i < logits.size(); ++i) {
    const auto want = golden["cases"][i]["logits"].get<std::vector<float>>();
    EXPECT_EQ(logits[i].size(), want.size());
    if (logits[i].size() != want.size()) continue;
    for (size_t j = 0; j < want.size(); ++j) EXPECT_NEAR(logits[i][j], want[j], tol) << backend << " case " << i;
  }
}

}  // namespace rmsmp::test

// The real all-MiniLM-L6-v2 checkpoint: fp32 engine vs sentence-transformers goldens, and the default RMSMP
// conversion's bits, closeness to fp32 and backend agreement.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "io/model_format.h"
#include "rmsmp/model.h"
#include "util/test_env.h"

namespace rmsmp {
namespace {

nlohmann::json goldens() {
  std::ifstream in(test::data_dir() + "/minilm_embeddings.json");
  return nlohmann::json::parse(in);
}

std::vector<std::vector<float>> embed_all(const Model& m, const std::vector<std::string>& s) {
  std::vector<Tokenized> b;
  for (const auto& t : s) b.push_back(m.tokenize(t));
  return m.embed(b);
}

std::vector<std::string> tsv_sentences(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) out.push_back(line.substr(0, line.rfind('\t')));
  return out;
}

std::string sst2(const std::string& file) { return std::string(RMSMP_TEST_DATA_DIR) + "/../../data/sst2/" + file; }

// The demo's calibration rule: train_sample rows after the head's first 3000, with >= 8 words, at most 256.
// Never SST-2 dev (the evaluation data).
std::string calib_file() {
  const std::string p = test::temp_dir() + "/calib.txt";
  std::ofstream out(p);
  auto rows = tsv_sentences(sst2("train_sample.tsv"));
  int n = 0;
  for (size_t i = 3000; i < rows.size() && n < 256; ++i) {
    std::istringstream ws(rows[i]);
    std::string w;
    int words = 0;
    while (ws >> w) ++words;
    if (words >= 8) out << rows[i] << "\n", ++n;
  }
  return p;
}

}  // namespace

TEST(MiniLM, Fp32EmbeddingsMatchSentenceTransformers) {
  auto m = Model::load(test::converted_minilm("fp32", {"--scheme", "fp32"}));
  nlohmann::json g = goldens();
  auto sents = g["sentences"].get<std::vector<std::string>>();
  ASSERT_GE(sents.size(), 20u);
  EXPECT_EQ(g["max_seq_length"], m->info().max_seq_length);
  auto emb = embed_all(*m, sents);
  double worst = 0;
  for (size_t i = 0; i < sents.size(); ++i) {
    auto want = g["embeddings"][i].get<std::vector<float>>();
    ASSERT_EQ(want.size(), emb[i].size());
    for (size_t j = 0; j < want.size(); ++j) worst = std::max(worst, double(std::fabs(want[j] - emb[i][j])));
  }
  EXPECT_LE(worst, 1e-4) << "max abs difference to sentence-transformers";
  RecordProperty("max_abs_diff", std::to_string(worst));
  std::cout << "[ MiniLM fp32 ] max |ours - sentence-transformers| = " << worst << "\n";
  EXPECT_TRUE(m->tokenize(sents.back()).truncated) << "the 300-word golden must be reported as truncated";
}

TEST(MiniLM, DefaultRmsmpHasFourPointTwoBitsPerLayerAndStaysCloseToFp32) {
  const std::string p = test::converted_minilm("rmsmp", {"--calib", calib_file()});
  auto mf = ModelFile::open(p);
  ASSERT_EQ(mf->header()["linears"].size(), 36u);
  for (const auto& [name, l] : mf->header()["linears"].items()) {
    double bits = 0;
    for (const auto& g : l["groups"]) bits += double(g["rows"].get<int64_t>()) * (g["scheme"] == "fixed8" ? 8 : 4);
    bits /= double(l["rows"].get<int64_t>());
    EXPECT_NEAR(bits, 4.2, 0.05) << name;
  }
  EXPECT_EQ(mf->header()["provenance"]["source_sha256"].get<std::string>().size(), 64u);
  auto q = Model::load(p);
  auto f = Model::load(test::converted_minilm("fp32", {"--scheme", "fp32"}));
  auto dev = tsv_sentences(sst2("dev.tsv"));
  dev.resize(200);
  auto a = embed_all(*q, dev), b = embed_all(*f, dev);
  double mean = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    double d = 0;
    for (size_t j = 0; j < a[i].size(); ++j) d += double(a[i][j]) * b[i][j];  // both L2-normalised
    mean += d / double(a.size());
  }
  EXPECT_GE(mean, 0.95) << "cosine mean of rmsmp to fp32 on the first 200 SST-2 dev sentences";
  std::cout << "[ MiniLM rmsmp ] cosine mean to fp32, first 200 SST-2 dev sentences = " << mean << "\n";
}

TEST(MiniLM, RmsmpReferenceAndCpuBackendsAreBitIdentical) {
  const std::string p = test::converted_minilm("rmsmp", {"--calib", calib_file()});
  LoadOptions r;
  r.backend = "reference";
  auto ref = Model::load(p, r), cpu = Model::load(p);
  const std::vector<std::string> s = {"a charming and often affecting journey", "Crust is not good.", "x"};
  EXPECT_EQ(embed_all(*ref, s), embed_all(*cpu, s));
}

}  // namespace rmsmp

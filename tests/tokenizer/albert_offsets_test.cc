// ALBERT's SentencePiece model folds case and accents and turns `` and '' into " before the library
// (SentencePieceConfig lowercase, strip_accents, latex_quotes): its ids and the byte spans /tokenize reports are mapped back to the original text and must equal
// AlbertTokenizerFast's offsets (tests/data/sentencepiece/albert_offsets.json, made by
// converters/goldens/make_albert_offsets.py).
#include <gtest/gtest.h>

#include <fstream>

#include "corpus_golden.h"
#include "rmsmp/tokenizer/sentencepiece.h"
#include "util/test_env.h"

namespace rmsmp {
namespace {

TEST(SentencePiece, FoldedSpansMatchAlbertTokenizerFast) {
  tok::SentencePieceConfig c;
  c.lowercase = true;
  c.strip_accents = true;
  c.latex_quotes = true;  // as the converter sets it for ALBERT
  const std::string model = test::data_dir() + "/sentencepiece/albert_30k_clean.model";
  const tok::SentencePieceTokenizer t(tok::SentencePieceTokenizer::read_model_file(model), c, model);
  std::ifstream in(test::data_dir() + "/sentencepiece/albert_offsets.json");
  const nlohmann::json g = nlohmann::json::parse(in);
  size_t bad = 0;
  for (const auto& k : g["cases"])
    if (!test::spans_match(t, k, bad < 8)) ++bad;
  EXPECT_EQ(bad, 0u) << "of " << g["cases"].size();
  EXPECT_GT(g["cases"].size(), 200u);
}

}  // namespace
}  // namespace rmsmp

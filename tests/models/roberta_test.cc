// RoBERTa, XLM-R and CamemBERT (model_type "roberta": byte-level BPE, positions from pad_token_id + 1, one token type, the
// dense-tanh-out_proj head) against Hugging Face transformers: mean-pooled hidden states
// (tests/data/tiny_roberta/golden_embeddings.json) and a cross-encoder's logits on single texts and pairs
// (tests/data/tiny_roberta_cls/golden_logits.json), both made by converters/goldens/make_tiny_roberta.py.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "hf_checkpoint.h"
#include "models/family_goldens.h"
#include "tokenizer/corpus_golden.h"

namespace rmsmp {

using test::convert_family;
using test::read_golden;

TEST(Roberta, Fp32EmbeddingsMatchTransformers) {
  const nlohmann::json g = read_golden("tiny_roberta/golden_embeddings.json");
  const std::string path = convert_family("tiny_roberta", "fp32");
  EXPECT_EQ(Model::load(path)->info().max_seq_length, 40) << "514-style tables lose RoBERTa's two offset rows";
  for (const std::string& backend : test::golden_backends()) test::expect_golden_embeddings(path, g, backend, 1e-4);
}

// Every quantized scheme converts and stays close to transformers on every backend.
TEST(Roberta, QuantizedModelsStayCloseToTransformersOnEveryBackend) {
  const nlohmann::json g = read_golden("tiny_roberta/golden_embeddings.json");
  for (const std::string scheme : {"fixed8", "rmsmp"}) {
    const std::string path = convert_family("tiny_roberta", scheme);
    for (const std::string& backend : test::golden_backends())
      test::expect_golden_embeddings(path, g, backend, 0, scheme == "fixed8" ? 0.999 : 0.95);
  }
}

// RobertaForSequenceClassification as a cross-encoder: pairs take <s> a </s></s> b </s>, all token types 0.
TEST(Roberta, CrossEncoderLogitsMatchTransformers) {
  const nlohmann::json g = read_golden("tiny_roberta_cls/golden_logits.json");
  const std::string path = convert_family("tiny_roberta_cls", "fp32");
  for (const std::string backend : {"reference", "cpu"}) test::expect_golden_logits(path, g, backend, 1e-4, true);
}

// XLM-R: RoBERTa's encoder (under "roberta." names) with a SentencePiece tokenizer in fairseq's ids
// (tests/data/tiny_xlmr, made by converters/goldens/make_tiny_xlmr.py): ids and embeddings as transformers.
TEST(XlmRoberta, Fp32EmbeddingsMatchTransformers) {
  const nlohmann::json g = read_golden("tiny_xlmr/golden_embeddings.json");
  const std::string path = convert_family("tiny_xlmr", "fp32");
  EXPECT_EQ(Model::load(path)->info().vocab_size, 1002) << "1,000 pieces, the id shift and <mask>";
  for (const std::string backend : {"reference", "cpu"}) test::expect_golden_embeddings(path, g, backend, 1e-4);
  EXPECT_EQ(Model::load(path)->token_piece(0), "<s>");
  EXPECT_EQ(Model::load(path)->token_piece(1001), "<mask>");
}

// XLMRobertaTokenizer's ids for every item of the shared corpora (pairs with <s> a </s></s> b </s>), through
// the converter's tokenizer (the model file's is checked above on the golden sentences). The goldens are made
// with the SentencePiece version the engine links (see make_tiny_xlmr.py: versions order equal-score
// segmentations differently).
TEST(XlmRoberta, EveryCorpusItemMatchesHuggingFace) {
  std::vector<std::string> notes;
  auto t = hf_load_tokenizer(test::data_dir() + "/tiny_xlmr", notes, "xlm-roberta");
  t->set_template(tok::Template::Roberta);
  EXPECT_EQ(test::corpus_mismatches(*t, test::data_dir() + "/tiny_xlmr/tokenizer_golden_ids.txt.gz", "xlm-r"), 0u);
}

// Byte spans (rmsmp-serve's /tokenize offsets) against XLMRobertaTokenizerFast's offsets, in bytes, on edge texts
// (whitespace runs, leading/trailing spaces, tabs, accents, CJK, emoji, NBSP) and corpus sentences where the fast
// tokenizer's ids equal the library's (tests/data/tiny_xlmr/tokenizer_offsets.json).
TEST(XlmRoberta, SpansMatchHuggingFaceOffsets) {
  std::vector<std::string> notes;
  auto t = hf_load_tokenizer(test::data_dir() + "/tiny_xlmr", notes, "xlm-roberta");
  const nlohmann::json g = read_golden("tiny_xlmr/tokenizer_offsets.json");
  size_t bad = 0;
  for (const auto& c : g["cases"]) {
    if (!test::spans_match(*t, c, bad < 8)) ++bad;
  }
  EXPECT_EQ(bad, 0u) << "of " << g["cases"].size();
  EXPECT_GT(g["cases"].size(), 100u);
}

// A folder with only the fast tokenizer.json (Unigram, no sentencepiece.bpe.model): the SentencePiece model is
// rebuilt from it (pieces, scores, the Precompiled charsmap, Metaspace's prefix), so the library gives
// XLMRobertaTokenizer's ids on every corpus item. (HF's own Unigram re-implementation agrees with them on 12,263
// of the 12,269; see make_tiny_xlmr.py.) The converted model embeds the rebuilt model and gives the same ids.
TEST(XlmRoberta, TokenizerJsonAloneGivesTheSentencePieceIds) {
  namespace fs = std::filesystem;
  const std::string dir = test::temp_dir() + "/xlmr_json";
  fs::remove_all(dir);
  fs::copy(test::data_dir() + "/tiny_xlmr", dir);
  fs::remove(dir + "/sentencepiece.bpe.model");
  fs::copy(test::data_dir() + "/tiny_xlmr_json/tokenizer.json", dir + "/tokenizer.json");
  std::vector<std::string> notes;
  auto t = hf_load_tokenizer(dir, notes, "xlm-roberta");
  t->set_template(tok::Template::Roberta);
  EXPECT_EQ(t->vocab_size(), 1002u);
  EXPECT_EQ(test::corpus_mismatches(*t, test::data_dir() + "/tiny_xlmr/tokenizer_golden_ids.txt.gz", "json"), 0u);
  ConvertOptions o;
  o.in_dir = dir;
  o.out_path = dir + ".rmsmp";
  o.scheme = "fp32";
  convert_checkpoint(o);
  auto m = Model::load(o.out_path);
  const nlohmann::json g = read_golden("tiny_xlmr/golden_embeddings.json");
  for (const auto& c : g["cases"])
    EXPECT_EQ(m->tokenize(c["sentence"].get<std::string>()).ids, c["ids"].get<std::vector<int32_t>>()) << c["sentence"];
}

// CamemBERT: RoBERTa's graph with the SentencePiece model in CamembertTokenizer's numbering (five specials,
// pieces at id + 4, so <s> and </s> are the model's own pieces 5 and 6): ids of texts and pairs, embeddings.
TEST(Camembert, Fp32EmbeddingsAndIdsMatchTransformers) {
  const nlohmann::json g = read_golden("tiny_camembert/golden_embeddings.json");
  const std::string path = convert_family("tiny_camembert", "fp32");
  for (const std::string backend : {"reference", "cpu"}) test::expect_golden_embeddings(path, g, backend, 1e-4);
  auto m = Model::load(path);
  EXPECT_EQ(m->info().vocab_size, 1005);
  for (const auto& c : g["pairs"])
    EXPECT_EQ(m->tokenize(c["a"].get<std::string>(), c["b"].get<std::string>()).ids, c["ids"].get<std::vector<int32_t>>());
  EXPECT_EQ(m->token_piece(0), "<s>NOTUSED");
  EXPECT_EQ(m->token_piece(5), "<s>");
  EXPECT_EQ(m->token_piece(1004), "<mask>");
}

}  // namespace rmsmp

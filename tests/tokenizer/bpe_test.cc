// Byte-level BPE (RoBERTa) against Hugging Face `tokenizers` (goldens made by
// converters/goldens/make_tiny_roberta.py with a vocabulary trained there): every item of the shared corpora
// (tests/data/tokenizer_golden.tsv) with the RoBERTa template, hostile edge cases with add_prefix_space off and
// on, from tokenizer.json and from vocab.json + merges.txt; and what the reader refuses.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <fstream>

#include <nlohmann/json.hpp>

#include "hf_checkpoint.h"
#include "rmsmp/error.h"
#include "rmsmp/tokenizer/bpe.h"
#include "tokenizer/corpus_golden.h"
#include "util/test_env.h"

namespace rmsmp {
namespace {

namespace fs = std::filesystem;

const std::string kDir = "/tiny_roberta";

std::unique_ptr<tok::Tokenizer> load(const std::string& dir) {
  std::vector<std::string> notes;
  return hf_load_tokenizer(dir, notes);
}

// A copy of the tiny folder whose tokenizer.json is edited by `edit`, or removed (legacy files only).
std::string variant(const std::string& name, const std::function<void(nlohmann::json&)>& edit) {
  const std::string dir = test::temp_dir() + "/" + name;
  fs::remove_all(dir);
  fs::copy(test::data_dir() + kDir, dir);
  if (!edit) {
    fs::remove(dir + "/tokenizer.json");
    return dir;
  }
  nlohmann::json t;
  std::ifstream(dir + "/tokenizer.json") >> t;
  edit(t);
  std::ofstream(dir + "/tokenizer.json") << t.dump();
  return dir;
}

void expect_refused(const std::string& dir, const std::string& words) {
  try {
    load(dir);
    FAIL() << "loaded; expected a refusal mentioning: " << words;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(dir), std::string::npos) << "the error names the folder: " << e.what();
  }
}

}  // namespace

TEST(ByteLevelBpe, EveryCorpusItemMatchesHuggingFace) {
  ASSERT_GT(test::corpus_items().size(), 12000u);
  for (const std::string& dir : {test::data_dir() + kDir, variant("roberta_legacy", nullptr)}) {
    auto t = load(dir);
    EXPECT_EQ(t->type(), "bpe");
    EXPECT_EQ(test::corpus_mismatches(*t, test::data_dir() + kDir + "/tokenizer_golden_ids.txt.gz", dir), 0u);
    // RoBERTa's token types are all 0, pairs included.
    const tok::Encoding e = t->encode("a first text", std::string_view("and a second"), 64);
    EXPECT_EQ(e.type_ids, std::vector<int32_t>(e.ids.size(), 0));
  }
}

TEST(ByteLevelBpe, EdgeCasesMatchHuggingFace) {
  nlohmann::json g;
  std::ifstream(test::data_dir() + kDir + "/tokenizer_edge_cases.json") >> g;
  auto plain = load(test::data_dir() + kDir);
  auto prefixed = load(variant("roberta_prefix", [](nlohmann::json& t) { t["pre_tokenizer"]["add_prefix_space"] = true; }));
  size_t n = 0;
  for (const auto& c : g["cases"]) {
    const auto& t = c["add_prefix_space"].get<bool>() ? prefixed : plain;
    const std::string text = c["text"].get<std::string>();
    EXPECT_EQ(t->encode_raw(text), c["ids"].get<std::vector<int32_t>>())
        << "add_prefix_space " << c["add_prefix_space"] << ": '" << text << "'";
    ++n;
  }
  EXPECT_GT(n, 150u);
}

// Byte spans (rmsmp-serve's /tokenize offsets) against tokenizers' offsets with RoBERTa's trim_offsets:
// leading spaces trimmed, the added prefix space kept for the first piece, partial UTF-8 characters widened,
// <mask> spanning the space it strips.
TEST(ByteLevelBpe, SpansMatchHuggingFaceOffsets) {
  nlohmann::json g;
  std::ifstream(test::data_dir() + kDir + "/tokenizer_edge_cases.json") >> g;
  auto plain = load(test::data_dir() + kDir);
  auto prefixed = load(variant("roberta_prefix_spans", [](nlohmann::json& t) { t["pre_tokenizer"]["add_prefix_space"] = true; }));
  size_t bad = 0;
  for (const auto& c : g["cases"]) {
    SCOPED_TRACE("add_prefix_space " + c["add_prefix_space"].dump());
    if (!test::spans_match(*(c["add_prefix_space"].get<bool>() ? prefixed : plain), c, bad < 5)) ++bad;
  }
  EXPECT_EQ(bad, 0u);
}

// The pre-tokenizer on its own, against GPT-2's pattern worked by hand: contractions, a space joining the run
// after it, whitespace before a word left for it, trailing whitespace whole.
TEST(ByteLevelBpe, SplitFollowsGpt2Pattern) {
  auto words = [](std::string_view s) {
    std::vector<std::string> out;
    for (auto [b, e] : tok::ByteLevelBpeTokenizer::split_words(s)) out.emplace_back(s.substr(b, e - b));
    return out;
  };
  EXPECT_EQ(words("I'm  here's 12ab!?  "), (std::vector<std::string>{"I", "'m", " ", " here", "'s", " 12", "ab", "!?", "  "}));
  EXPECT_EQ(words("a\n\nb"), (std::vector<std::string>{"a", "\n", "\n", "b"}));
  EXPECT_EQ(words("x  'll"), (std::vector<std::string>{"x", " ", " '", "ll"}));
  EXPECT_EQ(words(""), std::vector<std::string>{});
  EXPECT_THROW(tok::ByteLevelBpeTokenizer::split_words("bad \xff byte"), tok::TokenizerError);
}

TEST(ByteLevelBpe, WhatItCannotRunIsRefusedByName) {
  expect_refused(variant("bpe_norm", [](nlohmann::json& t) { t["normalizer"] = {{"type", "NFKC"}}; }), "normalizer (NFKC)");
  expect_refused(variant("bpe_meta", [](nlohmann::json& t) { t["pre_tokenizer"] = {{"type", "Metaspace"}}; }),
                 "ByteLevel pre-tokenizer");
  expect_refused(variant("bpe_drop", [](nlohmann::json& t) { t["model"]["dropout"] = 0.1; }), "dropout");
  expect_refused(variant("bpe_post", [](nlohmann::json& t) { t["post_processor"] = nullptr; }), "post_processor null");
  expect_refused(variant("bpe_merge", [](nlohmann::json& t) { t["model"]["merges"].push_back({"Ġzzz", "q"}); }),
                 "'Ġzzz' is not in the vocabulary");
  expect_refused(variant("bpe_ids", [](nlohmann::json& t) { t["model"]["vocab"]["Ġnew"] = 5000; }), "dense");
}

TEST(ByteLevelBpe, InvalidUtf8IsAnErrorWithItsOffset) {
  auto t = load(test::data_dir() + kDir);
  try {
    t->encode_raw("ok <mask> then \xc3\x28");
    FAIL() << "invalid UTF-8 was tokenized";
  } catch (const tok::TokenizerError& e) {
    EXPECT_NE(std::string(e.what()).find("byte 15"), std::string::npos) << e.what();
  }
}

}  // namespace rmsmp

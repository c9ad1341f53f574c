// Parity with Hugging Face `tokenizers` on every golden sentence and pair (tests/data/tokenizer_golden.tsv,
// made by converters/goldens/make_goldens.py from the shared data files), through the model file's tokenizer.
#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "rmsmp/model.h"
#include "util/test_env.h"

namespace rmsmp {

namespace {
std::vector<int32_t> parse_ids(const std::string& s) {
  std::vector<int32_t> v;
  std::istringstream is(s);
  int32_t x;
  while (is >> x) v.push_back(x);
  return v;
}
std::vector<std::string> split_tabs(const std::string& l) {
  std::vector<std::string> out;
  size_t a = 0, b;
  while ((b = l.find('\t', a)) != std::string::npos) out.push_back(l.substr(a, b - a)), a = b + 1;
  out.push_back(l.substr(a));
  return out;
}
}  // namespace

// Byte spans of every piece (TEI's /tokenize start/stop) against Hugging Face tokenizers' offsets: accents, CJK,
// emoji, control characters, unknown words, full-width forms, and 100 SST-2 dev sentences
// (tests/data/tokenizer_offsets_golden.json, made by converters/goldens/make_offset_goldens.py).
TEST(TokenizerGolden, PieceSpansEqualHuggingFaceOffsets) {
  auto m = Model::load(test::converted_minilm("fp32", {"--scheme", "fp32"}));
  std::ifstream in(test::data_dir() + "/tokenizer_offsets_golden.json");
  ASSERT_TRUE(in);
  const nlohmann::json g = nlohmann::json::parse(in);
  int ok = 0;
  for (const auto& c : g["cases"]) {
    const std::string text = c["text"];
    const Model::TokenSpans t = m->tokenize_raw_spans(text);
    EXPECT_EQ(t.ids, c["ids"].get<std::vector<int32_t>>()) << text;
    std::vector<std::pair<uint32_t, uint32_t>> want;
    for (const auto& s : c["spans"]) want.push_back({s[0].get<uint32_t>(), s[1].get<uint32_t>()});
    EXPECT_EQ(t.spans, want) << text;
    ok += t.spans == want;
  }
  std::cout << ok << " of " << g["cases"].size() << " texts: every span equal to HF tokenizers'\n";
}

TEST(TokenizerGolden, IdsIdenticalToHuggingFaceForEverySentence) {
  auto m = Model::load(test::converted_minilm("fp32", {"--scheme", "fp32"}));
  std::ifstream in(test::data_dir() + "/tokenizer_golden.tsv");
  ASSERT_TRUE(in) << "missing tests/data/tokenizer_golden.tsv";
  std::string line;
  std::getline(in, line);  // comment header
  std::map<std::string, std::pair<int, int>> per_source;  // source -> (ok, total)
  int shown = 0;
  while (std::getline(in, line)) {
    auto c = split_tabs(line);
    ASSERT_EQ(c.size(), 5u) << line;
    Tokenized t = c[2].empty() ? m->tokenize(c[1]) : m->tokenize(c[1], std::string_view(c[2]));
    const bool ok = t.ids == parse_ids(c[3]) && t.type_ids == parse_ids(c[4]);
    auto& ps = per_source[c[0]];
    ps.first += ok, ps.second += 1;
    if (!ok && shown++ < 10) ADD_FAILURE() << c[0] << ": '" << c[1] << "' / '" << c[2] << "'";
  }
  int total = 0;
  for (const auto& [src, ps] : per_source) {
    EXPECT_EQ(ps.first, ps.second) << src;
    total += ps.second;
  }
  EXPECT_EQ(total, 12269);  // 10,492 sentences + 1,777 pairs: the whole file was read
  EXPECT_EQ(per_source["sst2-train"].second, 5000);
}

}  // namespace rmsmp

// The shared corpora's items (tests/data/tokenizer_golden.tsv: source, text_a, text_b, ...) and gzipped golden id
// files with one line of ids per item (made by converters/goldens/make_tiny_roberta.py, make_tiny_xlmr.py).
#pragma once
#include <gtest/gtest.h>
#include <zlib.h>

#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "rmsmp/tokenizer/tokenizer.h"
#include "util/test_env.h"

namespace rmsmp::test {

inline std::vector<std::pair<std::string, std::string>> corpus_items() {
  std::ifstream tsv(data_dir() + "/tokenizer_golden.tsv");
  std::vector<std::pair<std::string, std::string>> items;
  std::string line;
  std::getline(tsv, line);  // header
  while (std::getline(tsv, line)) {
    const size_t a = line.find('\t'), b = line.find('\t', a + 1), c = line.find('\t', b + 1);
    items.push_back({line.substr(a + 1, b - a - 1), line.substr(b + 1, c - b - 1)});
  }
  return items;
}

// One vector of ids per line; empty when the file cannot be read.
inline std::vector<std::vector<int32_t>> gz_id_lines(const std::string& path) {
  std::vector<std::vector<int32_t>> out;
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) return out;
  std::string all;
  char buf[1 << 16];
  for (int n; (n = gzread(f, buf, sizeof buf)) > 0;) all.append(buf, size_t(n));
  gzclose(f);
  std::istringstream in(all);
  for (std::string l; std::getline(in, l);) {
    std::vector<int32_t> v;
    std::istringstream is(l);
    for (int32_t x; is >> x;) v.push_back(x);
    out.push_back(std::move(v));
  }
  return out;
}

// How many corpus items `t` encodes (its template, no truncation) otherwise than the golden file says; the first
// five are reported as test failures naming `what`, the item's line and text.
inline size_t corpus_mismatches(const tok::Tokenizer& t, const std::string& golden_gz, const std::string& what) {
  const auto items = corpus_items();
  const auto want = gz_id_lines(golden_gz);
  if (want.size() != items.size()) {
    ADD_FAILURE() << golden_gz << ": " << want.size() << " lines for " << items.size() << " corpus items";
    return items.size();
  }
  size_t bad = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    const auto& [a, b] = items[i];
    const tok::Encoding e = t.encode(a, b.empty() ? std::nullopt : std::optional<std::string_view>(b), 1 << 20);
    if (e.ids != want[i] && ++bad <= 5) ADD_FAILURE() << what << " item " << i + 2 << ": " << a;
  }
  return bad;
}

// One golden case {"text", "ids", "spans": [[begin, end], ...]} (Hugging Face offsets as UTF-8 byte spans):
// `t`'s encode_raw_spans must give those ids; returns whether it gives those spans, reporting a difference as a
// test failure when `report` (so a caller can cap the reports).
inline bool spans_match(const tok::Tokenizer& t, const nlohmann::json& c, bool report) {
  const std::string text = c["text"].get<std::string>();
  std::vector<int32_t> ids;
  std::vector<std::pair<uint32_t, uint32_t>> spans, want;
  EXPECT_TRUE(t.encode_raw_spans(text, ids, spans)) << text;
  EXPECT_EQ(ids, c["ids"].get<std::vector<int32_t>>()) << text;
  for (const auto& sp : c["spans"]) want.push_back({sp[0].get<uint32_t>(), sp[1].get<uint32_t>()});
  if (spans == want) return true;
  if (report) {
    auto str = [](const std::vector<std::pair<uint32_t, uint32_t>>& v) {
      std::string s;
      for (auto [a, b] : v) s += "(" + std::to_string(a) + "," + std::to_string(b) + ")";
      return s;
    };
    ADD_FAILURE() << "'" << text << "': " << str(spans) << " want " << str(want);
  }
  return false;
}

}  // namespace rmsmp::test

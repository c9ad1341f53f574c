// Byte-level BPE tokenizers of Hugging Face folders (RoBERTa, GPT-2 style): tokenizer.json, or the legacy
// vocab.json + merges.txt with tokenizer_config.json. Anything this tokenizer would not reproduce (a normaliser,
// another pre-tokenizer, dropout, subword prefixes) is refused naming the file and the setting.
#include <algorithm>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "hf_checkpoint.h"
#include "rmsmp/error.h"
#include "rmsmp/tokenizer/bpe.h"

namespace rmsmp {

namespace fs = std::filesystem;

namespace {

nlohmann::json read_json_file(const fs::path& p) { return hf_read_json(p.string()); }

// vocab.json / tokenizer.json's model.vocab: piece -> id, ids a dense 0..N-1 range.
std::vector<std::string> dense_vocab(const nlohmann::json& v, const fs::path& where) {
  RMSMP_CHECK(v.is_object() && !v.empty(), ErrorCode::InvalidFile, where.string() << ": vocabulary is not a non-empty object");
  std::vector<std::string> out(v.size());
  std::vector<bool> seen(v.size());
  for (const auto& [piece, id] : v.items()) {
    const int64_t i = id.get<int64_t>();
    RMSMP_CHECK(i >= 0 && i < int64_t(out.size()) && !seen[size_t(i)], ErrorCode::InvalidFile,
                where.string() << ": vocabulary ids are not a dense 0..N-1 range (piece '" << piece << "')");
    out[size_t(i)] = piece, seen[size_t(i)] = true;
  }
  return out;
}

// "a b" strings (tokenizers < 0.20, merges.txt) or ["a", "b"] pairs (tokenizers >= 0.20).
std::pair<std::string, std::string> merge_pair(const nlohmann::json& m, const fs::path& where, size_t i) {
  if (m.is_array() && m.size() == 2) return {m[0].get<std::string>(), m[1].get<std::string>()};
  const std::string s = m.get<std::string>();
  const size_t sp = s.find(' ');
  RMSMP_CHECK(sp != std::string::npos && sp > 0 && sp + 1 < s.size() && s.find(' ', sp + 1) == std::string::npos,
              ErrorCode::InvalidFile, where.string() << ": merge " << i + 1 << " '" << s << "' is not two pieces");
  return {s.substr(0, sp), s.substr(sp + 1)};
}

// Added tokens beyond the model's vocabulary get the ids after it, in order, as tokenizers assigns them.
void add_tokens(std::vector<std::string>& vocab, std::vector<tok::AddedToken>& added, const fs::path& where) {
  std::sort(added.begin(), added.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  for (const tok::AddedToken& t : added) {
    if (size_t(t.id) == vocab.size()) vocab.push_back(t.content);
    RMSMP_CHECK(t.id >= 0 && size_t(t.id) < vocab.size() && vocab[size_t(t.id)] == t.content, ErrorCode::InvalidFile,
                where.string() << ": added token '" << t.content << "' has id " << t.id
                               << ", which the vocabulary gives another piece");
  }
}

tok::BpeConfig from_tokenizer_json(const fs::path& p, std::vector<std::string>& vocab,
                                   std::vector<std::pair<std::string, std::string>>& merges) {
  const nlohmann::json t = read_json_file(p);
  const std::string w = p.string();
  RMSMP_CHECK(t["normalizer"].is_null(), ErrorCode::Unsupported,
              w << ": byte-level BPE with a normalizer (" << t["normalizer"].value("type", "?") << ") is not supported");
  const nlohmann::json& pre = t["pre_tokenizer"];
  RMSMP_CHECK(pre.is_object() && pre.value("type", "") == "ByteLevel" && pre.value("use_regex", true),
              ErrorCode::Unsupported,
              w << ": a BPE tokenizer.json is read only with the ByteLevel pre-tokenizer (GPT-2's split pattern); a "
                   "SentencePiece-style BPE is read through its .model file (put it beside tokenizer.json)");
  const nlohmann::json& m = t.at("model");
  auto unset = [&](const char* k) {  // absent, null, "" or false
    return !m.contains(k) || m[k].is_null() || m[k] == "" || m[k] == false;
  };
  RMSMP_CHECK(unset("dropout") && unset("continuing_subword_prefix") && unset("end_of_word_suffix") &&
                  unset("byte_fallback") && unset("ignore_merges"),
              ErrorCode::Unsupported,
              w << ": BPE dropout, subword prefixes/suffixes, byte_fallback and ignore_merges are not supported");
  vocab = dense_vocab(m.at("vocab"), p);
  const nlohmann::json& ms = m.at("merges");
  for (size_t i = 0; i < ms.size(); ++i) merges.push_back(merge_pair(ms[i], p, i));
  tok::BpeConfig c;
  c.add_prefix_space = pre.value("add_prefix_space", false);
  for (const auto& a : t.value("added_tokens", nlohmann::json::array()))
    c.added.push_back({a.at("content").get<std::string>(), a.at("id").get<int32_t>(), a.value("lstrip", false),
                       a.value("rstrip", false), a.value("single_word", false)});
  add_tokens(vocab, c.added, p);
  const nlohmann::json& post = t["post_processor"];
  RMSMP_CHECK(post.is_object() && post.value("type", "") == "RobertaProcessing", ErrorCode::Unsupported,
              w << ": post_processor " << (post.is_object() ? post.value("type", "?") : std::string("null"))
                << " is not supported (RobertaProcessing: <s> a </s></s> b </s>)");
  c.bos_token = post.at("cls").at(0).get<std::string>();
  c.eos_token = post.at("sep").at(0).get<std::string>();
  return c;
}

// RobertaTokenizer's files: vocab.json, merges.txt ("#version" line first), add_prefix_space and the special
// tokens from tokenizer_config.json; <mask> strips the whitespace before it, as RobertaTokenizer makes it.
tok::BpeConfig from_legacy_files(const fs::path& dir, std::vector<std::string>& vocab,
                                 std::vector<std::pair<std::string, std::string>>& merges,
                                 std::vector<std::string>& notes) {
  vocab = dense_vocab(read_json_file(dir / "vocab.json"), dir / "vocab.json");
  std::ifstream in(dir / "merges.txt");
  RMSMP_CHECK(in, ErrorCode::NotFound, (dir / "merges.txt").string() << ": cannot open");
  std::string line;
  for (size_t n = 0; std::getline(in, line); ++n) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || (n == 0 && line.rfind("#version", 0) == 0)) continue;
    merges.push_back(merge_pair(line, dir / "merges.txt", merges.size()));
  }
  tok::BpeConfig c;
  nlohmann::json tc = nlohmann::json::object();
  if (fs::exists(dir / "tokenizer_config.json")) tc = read_json_file(dir / "tokenizer_config.json");
  else notes.push_back("no tokenizer_config.json: RoBERTa's defaults (no prefix space, <s> </s> <mask>)");
  auto text = [&](const char* k, const std::string& d) {
    if (!tc.contains(k) || tc[k].is_null()) return d;
    return tc[k].is_string() ? tc[k].get<std::string>() : tc[k].value("content", d);
  };
  c.add_prefix_space = tc.value("add_prefix_space", false);
  c.bos_token = text("bos_token", "<s>"), c.eos_token = text("eos_token", "</s>");
  std::vector<std::string> specials = {c.bos_token, text("pad_token", "<pad>"), c.eos_token, text("unk_token", "<unk>")};
  const std::string mask = text("mask_token", "<mask>");
  auto id = [&](const std::string& s) {
    auto it = std::find(vocab.begin(), vocab.end(), s);
    return it == vocab.end() ? -1 : int32_t(it - vocab.begin());
  };
  for (const std::string& s : specials)
    if (id(s) >= 0) c.added.push_back({s, id(s), false, false, false});
  if (id(mask) >= 0) c.added.push_back({mask, id(mask), true, false, false});
  return c;
}

}  // namespace

std::unique_ptr<tok::Tokenizer> hf_load_byte_level_bpe(const std::string& dir_str, std::vector<std::string>& notes) {
  const fs::path dir(dir_str);
  const bool json = fs::exists(dir / "tokenizer.json");
  std::vector<std::string> vocab;
  std::vector<std::pair<std::string, std::string>> merges;
  tok::BpeConfig c;
  try {
    c = json ? from_tokenizer_json(dir / "tokenizer.json", vocab, merges) : from_legacy_files(dir, vocab, merges, notes);
  } catch (const nlohmann::json::exception& e) {
    RMSMP_FAIL(ErrorCode::InvalidFile, dir_str << ": byte-level BPE tokenizer files have an unexpected structure: " << e.what());
  }
  const std::string src = json ? "tokenizer.json" : "vocab.json + merges.txt";
  try {
    auto t = std::make_unique<tok::ByteLevelBpeTokenizer>(std::move(vocab), std::move(merges), c);
    RMSMP_CHECK(t->cls_id() >= 0 && t->sep_id() >= 0, ErrorCode::InvalidFile,
                dir_str << ": " << src << " lacks the template tokens '" << c.bos_token << "' / '" << c.eos_token << "'");
    notes.push_back("tokenizer: byte-level BPE from " + src + " (" + std::to_string(t->merges().size()) + " merges)");
    return t;
  } catch (const tok::TokenizerError& e) {
    RMSMP_FAIL(ErrorCode::InvalidFile, dir_str << "/" << (json ? "tokenizer.json" : "merges.txt") << ": " << e.what());
  }
}

}  // namespace rmsmp

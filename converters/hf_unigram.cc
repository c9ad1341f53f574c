// A Unigram tokenizer.json (XLM-R, T5 and ALBERT fast tokenizers) turned back into the SentencePiece model it
// was exported from, so the SentencePiece library tokenizes it: Hugging Face's re-implementation differs from the
// library at the edges, and the library is the reference its tokenizer.json was made to copy.
//
// What is read: model.vocab ([piece, score] in id order), model.unk_id, the normalizer (Precompiled's charsmap;
// Strip + Replace of repeated spaces, as spm's remove_extra_whitespaces; or none) and the Metaspace
// pre-tokenizer (its dummy prefix). The ids stay tokenizer.json's: added special tokens become CONTROL pieces at
// their ids, the unknown piece UNKNOWN. Anything else (byte fallback, other normalizers or pre-tokenizers) is
// refused, naming the setting.
//
// The ModelProto is written field by field (sentencepiece_model.proto): pieces = 1 {piece = 1, score = 2
// (float), type = 3}, trainer_spec = 2 {model_type = 3 (UNIGRAM = 1)}, normalizer_spec = 3 {name = 1,
// precompiled_charsmap = 2, add_dummy_prefix = 3, remove_extra_whitespaces = 4, escape_whitespaces = 5}.
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "hf_checkpoint.h"
#include "rmsmp/error.h"

namespace rmsmp {

namespace {

void varint(std::string& out, uint64_t v) {
  while (v >= 0x80) out.push_back(char((v & 0x7F) | 0x80)), v >>= 7;
  out.push_back(char(v));
}
void key(std::string& out, int field, int wire) { varint(out, uint64_t(field) << 3 | uint64_t(wire)); }
void bytes_field(std::string& out, int field, const std::string& b) {
  key(out, field, 2);
  varint(out, b.size());
  out += b;
}
void varint_field(std::string& out, int field, uint64_t v) {
  key(out, field, 0);
  varint(out, v);
}
void float_field(std::string& out, int field, float f) {
  key(out, field, 5);
  char b[4];
  std::memcpy(b, &f, 4);  // little-endian hosts only (x86-64, AArch64)
  out.append(b, 4);
}

std::string base64_decode(const std::string& in, const std::string& where) {
  auto val = [&](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    const int v = val(c);
    RMSMP_CHECK(v >= 0, ErrorCode::InvalidFile, where << ": precompiled_charsmap is not base64");
    acc = (acc << 6) | uint32_t(v), bits += 6;
    if (bits >= 8) bits -= 8, out.push_back(char((acc >> bits) & 0xFF));
  }
  return out;
}

enum PieceType { kNormal = 1, kUnknown = 2, kControl = 3 };

}  // namespace

std::string hf_unigram_model_from_tokenizer_json(const std::string& path) {
  nlohmann::json t = hf_read_json(path);
  try {
    const nlohmann::json& m = t.at("model");
    RMSMP_CHECK(m.value("type", "") == "Unigram", ErrorCode::Unsupported, path << ": model type is not Unigram");
    RMSMP_CHECK(!m.value("byte_fallback", false), ErrorCode::Unsupported,
                path << ": Unigram with byte_fallback is not supported");
    // Normaliser: Precompiled (the spm charsmap), optionally followed by Strip + Replace("  +", " "), which is
    // spm's remove_extra_whitespaces.
    std::string charsmap;
    bool collapse = false;
    const nlohmann::json& n = t["normalizer"];
    if (!n.is_null()) {
      RMSMP_CHECK(n.is_object(), ErrorCode::InvalidFile, path << ": normalizer is not an object");
      const nlohmann::json list = n.value("type", "") == "Sequence" ? n.at("normalizers") : nlohmann::json::array({n});
      for (const auto& s : list) {
        const std::string ty = s.value("type", "");
        if (ty == "Precompiled") charsmap = base64_decode(s.value("precompiled_charsmap", ""), path);
        else if (ty == "Strip" || ty == "Replace") collapse = true;
        else RMSMP_FAIL(ErrorCode::Unsupported, path << ": normalizer " << ty << " is not supported with Unigram "
                                                     "(Precompiled, Strip and Replace are)");
      }
    }
    const nlohmann::json& pre = t["pre_tokenizer"];
    nlohmann::json meta = pre;
    if (pre.is_object() && pre.value("type", "") == "Sequence")
      for (const auto& p : pre.at("pretokenizers"))
        if (p.value("type", "") == "Metaspace") meta = p;
    RMSMP_CHECK(meta.is_object() && meta.value("type", "") == "Metaspace" && meta.value("replacement", "") == "\u2581",
                ErrorCode::Unsupported, path << ": a Unigram tokenizer.json needs the Metaspace pre-tokenizer ('▁')");
    const bool dummy_prefix = meta.contains("prepend_scheme") ? meta["prepend_scheme"] != "never"
                                                              : meta.value("add_prefix_space", true);

    std::set<int64_t> control;
    for (const auto& a : t.value("added_tokens", nlohmann::json::array()))
      if (a.value("special", false)) control.insert(a.at("id").get<int64_t>());
    const int64_t unk = m.value("unk_id", int64_t(-1));
    std::string proto;
    const nlohmann::json& vocab = m.at("vocab");
    RMSMP_CHECK(vocab.is_array() && !vocab.empty(), ErrorCode::InvalidFile, path << ": model.vocab is empty");
    for (size_t i = 0; i < vocab.size(); ++i) {
      std::string piece;
      piece.reserve(32);
      const std::string text = vocab[i].at(0).get<std::string>();
      bytes_field(piece, 1, text);
      float_field(piece, 2, vocab[i].at(1).get<float>());
      varint_field(piece, 3, int64_t(i) == unk ? kUnknown : control.count(int64_t(i)) ? kControl : kNormal);
      bytes_field(proto, 1, piece);
    }
    std::string trainer;
    varint_field(trainer, 3, 1);  // UNIGRAM
    bytes_field(proto, 2, trainer);
    std::string norm;
    bytes_field(norm, 1, charsmap.empty() ? "identity" : "nmt_nfkc");
    if (!charsmap.empty()) bytes_field(norm, 2, charsmap);
    varint_field(norm, 3, dummy_prefix);
    varint_field(norm, 4, collapse);
    varint_field(norm, 5, 1);
    bytes_field(proto, 3, norm);
    return proto;
  } catch (const nlohmann::json::exception& e) {
    RMSMP_FAIL(ErrorCode::InvalidFile, path << ": unexpected structure: " << e.what());
  }
}

}  // namespace rmsmp

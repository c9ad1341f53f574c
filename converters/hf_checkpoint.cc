// HF encoder folder -> HfBertCheckpoint: the family's names (hf_family.h) for the canonical tensors
// (models/encoder_tensors.h), shape checks against config.json, tokenizer settings.
#include "hf_checkpoint.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>

#include <nlohmann/json.hpp>

#include "core/hash.h"
#include "hf_family.h"
#include "models/encoder_tensors.h"
#include "rmsmp/error.h"
#include "rmsmp/tokenizer/sentencepiece.h"
#include "pth_reader.h"
#include "safetensors.h"

namespace rmsmp {

namespace fs = std::filesystem;

nlohmann::json hf_read_json(const std::string& path) {
  std::ifstream in(path);
  RMSMP_CHECK(in, ErrorCode::NotFound, path << ": cannot open");
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    RMSMP_FAIL(ErrorCode::InvalidFile, path << ": not valid JSON: " << e.what());
  }
}

namespace {

nlohmann::json read_json(const fs::path& p) { return hf_read_json(p.string()); }

// A checkpoint folder's weights: model.safetensors, or else pytorch_model.bin (torch.save's zip or legacy
// container) through the restricted pickle reader, which runs no code from the file. Names are the state
// dict's; both readers check shapes, dtypes and values (no NaN/Inf) and name the file and tensor in errors.
class CheckpointWeights {
 public:
  explicit CheckpointWeights(const fs::path& dir) {
    const fs::path st = dir / "model.safetensors", bin = dir / "pytorch_model.bin";
    RMSMP_CHECK(fs::exists(st) || (!fs::exists(dir / "model.safetensors.index.json") &&
                                   !fs::exists(dir / "pytorch_model.bin.index.json")),
                ErrorCode::Unsupported,
                dir.string() << ": sharded checkpoints (*.index.json) are not supported; save the model as one file");
    RMSMP_CHECK(fs::exists(st) || fs::exists(bin), ErrorCode::NotFound,
                dir.string() << ": no model.safetensors or pytorch_model.bin in the checkpoint folder");
    if (fs::exists(st)) {
      path_ = st.string();
      st_ = std::make_unique<SafetensorsFile>(path_);
    } else {
      path_ = bin.string();
      pth_ = std::make_unique<PthFile>(path_);
    }
  }
  const std::string& path() const { return path_; }
  bool has(const std::string& n) const { return st_ ? st_->has(n) : pth_->has(n); }
  std::vector<int64_t> shape(const std::string& n) const { return st_ ? st_->entry(n).shape : pth_->tensor(n).shape; }
  std::vector<float> read_f32(const std::string& n) const { return st_ ? st_->read_f32(n) : pth_->read_f32(n); }

 private:
  std::string path_;
  std::unique_ptr<SafetensorsFile> st_;
  std::unique_ptr<PthFile> pth_;
};

// The family's HF weight name (without the model prefix) for one of our canonical names
// (models/encoder_tensors.h): the family's table for the embeddings, else encoder.<l>.<part>.<leaf>.
std::string hf_name(const std::string& ours, const HfFamily& f) {
  if (auto it = f.fixed.find(ours); it != f.fixed.end()) return it->second;
  const size_t a = ours.find('.', 8), b = ours.rfind('.');
  const std::string layer = ours.substr(8, a - 8), part = ours.substr(a + 1, b - a - 1), leaf = ours.substr(b + 1);
  const std::string hleaf = leaf == "gamma" ? "weight" : leaf == "beta" ? "bias" : leaf;
  return f.layers + "." + layer + "." + f.parts.at(part) + "." + hleaf;
}

tok::WordPieceConfig hf_tokenizer_settings_unchecked(const std::string& dir_str, std::vector<std::string>& notes) {
  const fs::path dir(dir_str);
  tok::WordPieceConfig c;
  if (fs::exists(dir / "tokenizer.json")) {
    nlohmann::json t = read_json(dir / "tokenizer.json");
    const auto& n = t["normalizer"];
    RMSMP_CHECK(n.is_object() && n.value("type", "") == "BertNormalizer", ErrorCode::Unsupported,
                (dir / "tokenizer.json").string() << ": normalizer is not BertNormalizer; only BERT WordPiece is supported");
    c.clean_text = n.value("clean_text", true);
    c.handle_chinese_chars = n.value("handle_chinese_chars", true);
    c.lowercase = n.value("lowercase", true);
    if (n.contains("strip_accents") && !n["strip_accents"].is_null()) c.strip_accents = n["strip_accents"].get<bool>();
    const auto& m = t["model"];
    RMSMP_CHECK(m.value("type", "") == "WordPiece", ErrorCode::Unsupported,
                (dir / "tokenizer.json").string() << ": model type is not WordPiece");
    c.unk_token = m.value("unk_token", c.unk_token);
    c.continuing_subword_prefix = m.value("continuing_subword_prefix", c.continuing_subword_prefix);
    c.max_input_chars_per_word = m.value("max_input_chars_per_word", c.max_input_chars_per_word);
  } else if (fs::exists(dir / "tokenizer_config.json")) {
    nlohmann::json t = read_json(dir / "tokenizer_config.json");
    c.lowercase = t.value("do_lower_case", true);
    c.handle_chinese_chars = t.value("tokenize_chinese_chars", true);
    if (t.contains("strip_accents") && !t["strip_accents"].is_null()) c.strip_accents = t["strip_accents"].get<bool>();
    notes.push_back("tokenizer settings from tokenizer_config.json (no tokenizer.json)");
  } else {
    notes.push_back("no tokenizer.json or tokenizer_config.json: assumed uncased BERT WordPiece defaults");
  }
  if (fs::exists(dir / "special_tokens_map.json")) {
    nlohmann::json s = read_json(dir / "special_tokens_map.json");
    auto get = [&](const char* k, std::string& dst) {
      if (s.contains(k)) dst = s[k].is_string() ? s[k].get<std::string>() : s[k].value("content", dst);
    };
    get("unk_token", c.unk_token), get("cls_token", c.cls_token), get("sep_token", c.sep_token);
    get("pad_token", c.pad_token), get("mask_token", c.mask_token);
  }
  return c;
}

std::vector<std::string> hf_vocab_from_tokenizer_json_unchecked(const std::string& path) {
  const fs::path p(path);
  nlohmann::json t = read_json(p);
  const auto& v = t.at("model").at("vocab");
  std::vector<std::string> out(v.size());
  for (const auto& [tokn, id] : v.items()) {
    const int64_t i = id.get<int64_t>();
    RMSMP_CHECK(i >= 0 && i < int64_t(out.size()) && out[size_t(i)].empty(), ErrorCode::InvalidFile,
                p.string() << ": vocabulary ids are not a dense 0..N-1 range");
    out[size_t(i)] = tokn;
  }
  return out;
}

}  // namespace

// Public wrappers: a JSON file of the wrong shape is an InvalidFile error naming the file, never a json exception.
tok::WordPieceConfig hf_tokenizer_settings(const std::string& dir_str, std::vector<std::string>& notes) {
  try {
    return hf_tokenizer_settings_unchecked(dir_str, notes);
  } catch (const nlohmann::json::exception& e) {
    RMSMP_FAIL(ErrorCode::InvalidFile, dir_str << ": tokenizer files have an unexpected structure: " << e.what());
  }
}

std::vector<std::string> hf_vocab_from_tokenizer_json(const std::string& path) {
  try {
    return hf_vocab_from_tokenizer_json_unchecked(path);
  } catch (const nlohmann::json::exception& e) {
    RMSMP_FAIL(ErrorCode::InvalidFile, path << ": vocabulary has an unexpected structure: " << e.what());
  }
}

namespace {

// The SentencePiece model file of a folder, if any (ALBERT/T5: spiece.model; Llama: tokenizer.model;
// XLM-R: sentencepiece.bpe.model).
std::optional<fs::path> sentencepiece_file(const fs::path& dir) {
  for (const char* n : {"spiece.model", "tokenizer.model", "sentencepiece.bpe.model"})
    if (fs::exists(dir / n)) return dir / n;
  return std::nullopt;
}

std::string tokenizer_json_model_type(const fs::path& p) {
  try {
    return read_json(p).at("model").value("type", "");
  } catch (const nlohmann::json::exception& e) {
    RMSMP_FAIL(ErrorCode::InvalidFile, p.string() << ": unexpected structure: " << e.what());
  }
}

// model: a .model file, or a Unigram tokenizer.json rebuilt into one (its ids are final: no fairseq shift).
std::unique_ptr<tok::Tokenizer> sentencepiece_tokenizer(const fs::path& dir, const fs::path& model,
                                                        std::vector<std::string>& notes, const std::string& family) {
  const bool from_json = model.extension() == ".json";
  tok::SentencePieceConfig c;
  using Fairseq = tok::SentencePieceConfig::Fairseq;
  c.fairseq = family == "xlm-roberta" ? Fairseq::XlmRoberta : family == "camembert" ? Fairseq::Camembert : Fairseq::None;
  try {
    if (fs::exists(dir / "tokenizer_config.json")) {
      nlohmann::json t = read_json(dir / "tokenizer_config.json");
      c.lowercase = t.value("do_lower_case", false);
      // ALBERT's keep_accents=false strips accents before SentencePiece.
      if (t.contains("keep_accents")) c.strip_accents = !t["keep_accents"].get<bool>();
      auto tokstr = [&](const char* k, std::string& dst) {
        if (t.contains(k) && !t[k].is_null()) dst = t[k].is_string() ? t[k].get<std::string>() : t[k].value("content", dst);
      };
      tokstr("cls_token", c.cls_token), tokstr("sep_token", c.sep_token);
      const std::string cls = t.value("tokenizer_class", "");
      if (cls.rfind("XLMRoberta", 0) == 0) c.fairseq = Fairseq::XlmRoberta;
      if (cls.rfind("Camembert", 0) == 0) c.fairseq = Fairseq::Camembert;
      // AlbertTokenizer and XLNetTokenizer (the tokenizers with keep_accents) turn `` and '' into " first.
      if (t.contains("keep_accents") || cls.rfind("Albert", 0) == 0 || cls.rfind("XLNet", 0) == 0) c.latex_quotes = true;
    } else {
      notes.push_back("no tokenizer_config.json: SentencePiece used as is (no lowercasing), [CLS]/[SEP] template");
    }
  } catch (const nlohmann::json::exception& e) {
    RMSMP_FAIL(ErrorCode::InvalidFile, (dir / "tokenizer_config.json").string() << ": unexpected structure: " << e.what());
  }
  if (from_json) c.fairseq = Fairseq::None;
  try {
    auto t = std::make_unique<tok::SentencePieceTokenizer>(
        from_json ? hf_unigram_model_from_tokenizer_json(model.string())
                  : tok::SentencePieceTokenizer::read_model_file(model.string()),
        c, model.string());
    RMSMP_CHECK(t->cls_id() >= 0 && t->sep_id() >= 0, ErrorCode::Unsupported,
                model.string() << ": has no '" << c.cls_token << "'/'" << c.sep_token
                               << "' pieces for the BERT template (set cls_token/sep_token in tokenizer_config.json)");
    notes.push_back("tokenizer: SentencePiece model " +
                    (from_json ? "rebuilt from the Unigram tokenizer.json" : model.filename().string()) + " embedded" +
                    (c.fairseq != Fairseq::None ? " (fairseq ids)" : ""));
    return t;
  } catch (const tok::TokenizerError& e) {
    RMSMP_FAIL(ErrorCode::InvalidFile, e.what());
  }
}

}  // namespace

std::unique_ptr<tok::Tokenizer> hf_load_tokenizer(const std::string& dir_str, std::vector<std::string>& notes,
                                                  const std::string& family) {
  const fs::path dir(dir_str);
  const bool has_vocab = fs::exists(dir / "vocab.txt");
  const bool has_json = fs::exists(dir / "tokenizer.json");
  const auto spm = sentencepiece_file(dir);
  const std::string json_type = has_json ? tokenizer_json_model_type(dir / "tokenizer.json") : "";
  if (!has_vocab && spm && json_type != "WordPiece") return sentencepiece_tokenizer(dir, *spm, notes, family);
  if (!has_vocab && json_type == "Unigram") return sentencepiece_tokenizer(dir, dir / "tokenizer.json", notes, family);
  const bool bpe_files = fs::exists(dir / "vocab.json") && fs::exists(dir / "merges.txt");
  if (!has_vocab && (json_type == "BPE" || (!has_json && bpe_files))) return hf_load_byte_level_bpe(dir_str, notes);
  // Other tokenizer.json models (SentencePiece-style BPE) are exported from a SentencePiece model; HF's
  // re-implementation differs from the library at the edges, so we read the .model they were made from.
  RMSMP_CHECK(has_vocab || !has_json || json_type == "WordPiece", ErrorCode::Unsupported,
              (dir / "tokenizer.json").string()
                  << ": a " << json_type
                  << " tokenizer.json is read through the SentencePiece model it was made from; put its spiece.model "
                     "/ tokenizer.model / sentencepiece.bpe.model beside it");
  RMSMP_CHECK(has_vocab || has_json, ErrorCode::InvalidFile,
              dir_str << ": no tokenizer found (expected vocab.txt, a WordPiece or byte-level BPE tokenizer.json, "
                         "vocab.json + merges.txt, or a SentencePiece spiece.model / tokenizer.model / "
                         "sentencepiece.bpe.model)");
  tok::WordPieceConfig tc = hf_tokenizer_settings(dir_str, notes);
  try {
    std::vector<std::string> vocab = has_vocab ? tok::WordPieceTokenizer::read_vocab_file((dir / "vocab.txt").string())
                                               : hf_vocab_from_tokenizer_json((dir / "tokenizer.json").string());
    return std::make_unique<tok::WordPieceTokenizer>(std::move(vocab), tc);
  } catch (const tok::TokenizerError& e) {
    RMSMP_FAIL(ErrorCode::InvalidFile, dir_str << ": " << e.what());
  }
}

void hf_read_labels(const std::string& dir_str, int num_labels, std::vector<std::string>& labels, bool& regression) {
  const fs::path p = fs::path(dir_str) / "config.json";
  try {
    const nlohmann::json c = read_json(p);
    regression = num_labels == 1 || c.value("problem_type", "") == "regression";
    labels.clear();
    for (int i = 0; i < num_labels; ++i) {
      const std::string k = std::to_string(i);
      labels.push_back(c.contains("id2label") && c["id2label"].contains(k) ? c["id2label"][k].get<std::string>()
                                                                           : "LABEL_" + k);
    }
  } catch (const nlohmann::json::exception& e) {
    RMSMP_FAIL(ErrorCode::InvalidFile, p.string() << ": id2label has an unexpected structure: " << e.what());
  }
}

const std::vector<float>& HfBertCheckpoint::tensor(const std::string& name) const {
  auto it = tensors.find(name);
  RMSMP_CHECK(it != tensors.end(), ErrorCode::Internal, "checkpoint tensor '" << name << "' not loaded");
  return it->second;
}

namespace {

// RoBERTa counts positions from pad_token_id + 1 (fairseq's convention): a text's token i has position row
// pad_token_id + 1 + i. The rows before are dropped at conversion, so the engine's position i is row i and the
// file needs no offset. (A <pad> typed inside a text would keep HF's position from advancing; it is not
// reproduced.)

// modules.json's modules after the Transformer: (type's last name, folder), in order. Errors name the module.
std::vector<std::pair<std::string, std::string>> st_modules(const fs::path& dir) {
  std::vector<std::pair<std::string, std::string>> out;
  if (!fs::exists(dir / "modules.json")) return out;
  for (const auto& m : read_json(dir / "modules.json")) {
    const std::string type = m.value("type", "");
    const std::string leaf = type.substr(type.rfind('.') + 1), path = m.value("path", "");
    RMSMP_CHECK(leaf == "Transformer" || leaf == "Pooling" || leaf == "Dense" || leaf == "Normalize",
                ErrorCode::Unsupported,
                (dir / "modules.json").string() << ": module " << m.value("path", m.value("name", "?")) << " of type "
                                                << type << " is not supported (Transformer, Pooling, Dense and Normalize are)");
    RMSMP_CHECK(path.find("..") == std::string::npos && (path.empty() || path[0] != '/'), ErrorCode::InvalidFile,
                (dir / "modules.json").string() << ": module path '" << path << "' leaves the folder");
    if (leaf != "Transformer") out.push_back({leaf, path});
  }
  return out;
}

// A Dense module's config.json as the architecture's "dense" entry: torch activations by class name.
nlohmann::json read_dense_config(const fs::path& dir) {
  const fs::path p = dir / "config.json";
  const nlohmann::json c = read_json(p);
  const std::string fn = c.value("activation_function", "torch.nn.modules.activation.Tanh");
  const std::string leaf = fn.substr(fn.rfind('.') + 1);
  const std::map<std::string, std::string> acts = {{"Identity", "identity"}, {"Tanh", "tanh"}, {"ReLU", "relu"}, {"GELU", "gelu"}};
  RMSMP_CHECK(acts.count(leaf), ErrorCode::Unsupported,
              p.string() << ": Dense activation " << fn << " is not supported (Identity, Tanh, ReLU, GELU)");
  return {{"in_features", c.at("in_features")}, {"out_features", c.at("out_features")},
          {"bias", c.value("bias", true)}, {"activation", acts.at(leaf)}};
}

}  // namespace

BertConfig hf_read_config(const std::string& dir_str, std::vector<std::string>& notes) {
  const fs::path dir(dir_str);
  nlohmann::json cfg = read_json(dir / "config.json");
  const std::string where = (dir / "config.json").string();
  try {
    const HfFamily& fam = hf_family(cfg.value("model_type", "bert"), where);
    RMSMP_CHECK(cfg.value("position_embedding_type", "absolute") == "absolute", ErrorCode::Unsupported,
                where << ": only absolute position embeddings are supported");
    if (fam.normalize_config) fam.normalize_config(cfg, where);
    if (fam.position_offset)  // positions: see hf_position_offset
      cfg["max_position_embeddings"] = cfg.at("max_position_embeddings").get<int64_t>() - hf_position_offset(cfg);
    nlohmann::json a = {{"type", "bert"},
                        {"vocab_size", cfg.at("vocab_size")},
                        {"hidden_size", cfg.at("hidden_size")},
                        {"num_layers", cfg.at("num_hidden_layers")},
                        {"num_heads", cfg.at("num_attention_heads")},
                        {"intermediate_size", cfg.at("intermediate_size")},
                        {"max_position_embeddings", cfg.at("max_position_embeddings")},
                        {"type_vocab_size", cfg.value("type_vocab_size", 2)},
                        {"layer_norm_eps", cfg.value("layer_norm_eps", 1e-12)},
                        {"hidden_act", cfg.value("hidden_act", "gelu")},
                        {"pooling", "mean"},
                        {"normalize", false},
                        {"max_seq_length", cfg.at("max_position_embeddings")}};
    if (fam.architecture_extras) fam.architecture_extras(cfg, a);
    if (fs::exists(dir / "sentence_bert_config.json"))
      a["max_seq_length"] = read_json(dir / "sentence_bert_config.json").value("max_seq_length", a["max_seq_length"].get<int64_t>());
    else
      notes.push_back("no sentence_bert_config.json: max_seq_length = max_position_embeddings");
    // sentence-transformers' module pipeline (modules.json; without it, a Pooling folder "1_Pooling" alone).
    // Transformer, Pooling, Dense and Normalize are what the engine runs; any other module changes the vectors,
    // so it is refused by name, never skipped.
    std::string pooling_dir = "1_Pooling";
    nlohmann::json dense = nlohmann::json::array();
    std::vector<std::string> dense_dirs;
    for (const auto& [leaf, path] : st_modules(dir)) {
      if (leaf == "Pooling") pooling_dir = path;
      if (leaf == "Normalize") a["normalize"] = true;
      if (leaf == "Dense") dense.push_back(read_dense_config(dir / path)), dense_dirs.push_back(path);
    }
    if (fs::exists(dir / pooling_dir / "config.json")) {
      const fs::path pc_path = dir / pooling_dir / "config.json";
      const nlohmann::json pc = read_json(pc_path);
      std::string modes;
      for (const char* m : {"cls_token", "max_tokens", "mean_tokens", "mean_sqrt_len_tokens"})
        if (pc.value(std::string("pooling_mode_") + m, false)) {
          const std::string name = m == std::string("cls_token") ? "cls" : std::string(m).substr(0, std::string(m).size() - 7);
          modes += (modes.empty() ? "" : "+") + name;
        }
      for (const char* m : {"pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken"})
        RMSMP_CHECK(!pc.value(m, false), ErrorCode::Unsupported,
                    pc_path.string() << ": " << m << " is not supported (cls, max, mean and mean_sqrt_len are)");
      RMSMP_CHECK(!modes.empty(), ErrorCode::Unsupported, pc_path.string() << ": no pooling mode is set");
      a["pooling"] = modes;
    } else {
      notes.push_back("no " + pooling_dir + "/config.json: mean pooling");
    }
    if (!dense.empty()) {
      const std::string modes = a["pooling"].get<std::string>();
      int64_t width = a["hidden_size"].get<int64_t>() * int64_t(1 + std::count(modes.begin(), modes.end(), '+'));
      for (size_t d = 0; d < dense.size(); ++d) {
        RMSMP_CHECK(dense[d]["in_features"].get<int64_t>() == width, ErrorCode::InvalidFile,
                    (dir / dense_dirs[d] / "config.json").string()
                        << ": in_features " << dense[d]["in_features"] << ", but the modules before it give " << width);
        width = dense[d]["out_features"].get<int64_t>();
      }
      a["dense"] = dense;
    }
    return BertConfig::from_json(a, where);
  } catch (const nlohmann::json::exception& e) {
    RMSMP_FAIL(ErrorCode::InvalidFile, where << ": missing or malformed field: " << e.what());
  }

}

HfBertCheckpoint load_hf_bert(const std::string& dir_str) {
  const fs::path dir(dir_str);
  RMSMP_CHECK(fs::is_directory(dir), ErrorCode::NotFound, dir_str << ": checkpoint folder does not exist");
  HfBertCheckpoint ck;
  ck.dir = dir_str;
  ck.cfg = hf_read_config(dir_str, ck.notes);

  const CheckpointWeights st(dir);
  ck.weights_path = st.path();
  ck.weights_sha256 = sha256_file_hex(ck.weights_path);
  const BertConfig& c = ck.cfg;
  const int64_t H = c.hidden_size, F = c.intermediate_size;
  const nlohmann::json raw_cfg = read_json(dir / "config.json");
  const std::string family = raw_cfg.value("model_type", "bert");
  const HfFamily& fam = hf_family(family, (dir / "config.json").string());
  const std::string prefix = st.has(fam.model_prefix + hf_name(enc::kWord, fam)) ? fam.model_prefix : "";
  auto load = [&](const std::string& ours, std::vector<int64_t> shape) {
    if (fam.position_offset && ours == enc::kPosition) {  // drop the rows before the first position
      const int64_t off = hf_position_offset(raw_cfg);
      const std::string hf = prefix + hf_name(ours, fam);
      RMSMP_CHECK(st.shape(hf) == (std::vector<int64_t>{shape[0] + off, H}), ErrorCode::InvalidFile,
                  ck.weights_path << ": tensor '" << hf << "' has a shape that contradicts config.json");
      std::vector<float> all = st.read_f32(hf);
      ck.tensors[ours].assign(all.begin() + off * H, all.end());
      return;
    }
    if (!fam.token_types && ours == enc::kTokenType) {  // none: one row of zeros adds nothing
      ck.tensors[ours].assign(size_t(H), 0.f);
      return;
    }
    const std::string name = hf_name(ours, fam);
    std::string hf = prefix + name;
    if (!st.has(hf) && (ours.ends_with(".gamma") || ours.ends_with(".beta")))  // pre-2019 LayerNorm names
      hf = prefix + name.substr(0, name.rfind('.')) + (ours.ends_with(".gamma") ? ".gamma" : ".beta");
    RMSMP_CHECK(st.shape(hf) == shape, ErrorCode::InvalidFile,
                ck.weights_path << ": tensor '" << hf << "' has a shape that contradicts config.json");
    ck.tensors[ours] = st.read_f32(hf);
  };
  load(enc::kWord, {c.vocab_size, H});
  for (const enc::Tensor& t : enc::fp32_tensors_before_linears(c)) load(t.name, t.shape);
  for (int64_t l = 0; l < c.num_layers; ++l) {
    for (const char* k : kBertLinearKinds) {
      const std::string kind = k, name = enc::linear(l, k);
      const int64_t rows = kind == "ffn_in" ? F : H, cols = kind == "ffn_out" ? F : H;
      load(name + ".weight", {rows, cols});
      load(name + ".bias", {rows});
    }
  }
  // The layer norms (the rest of fp32_tensors_after_linears comes from the head and the Dense modules below).
  for (int64_t l = 0; l < c.num_layers; ++l)
    for (const char* ln : enc::kLayerNorms) {
      load(enc::layer_norm(l, ln, "gamma"), {H});
      load(enc::layer_norm(l, ln, "beta"), {H});
    }

  // A sequence-classification head, kept in fp32, on the first token's state: BertForSequenceClassification's
  // pooler (tanh), DistilBertForSequenceClassification's pre_classifier (ReLU) or RoBERTa's classifier.dense
  // (tanh), then the classifier (RoBERTa: classifier.out_proj).
  const std::string classifier = fam.head_classifier;
  if (st.has(classifier + ".weight")) {
    const std::string pooler = (fam.pooler_prefixed ? prefix : std::string()) + fam.head_pooler;
    const std::vector<int64_t> cw = st.shape(classifier + ".weight");
    RMSMP_CHECK(cw.size() == 2 && cw[1] == H && cw[0] >= 1 && st.has(pooler + ".weight"), ErrorCode::InvalidFile,
                ck.weights_path << ": " << classifier << ".weight must be [num_labels, " << H << "] with " << pooler
                                << ".weight beside it");
    ck.head_activation = fam.head_activation;
    ck.num_labels = int(cw[0]);
    auto head = [&](const std::string& ours, const std::string& hf, std::vector<int64_t> shape) {
      RMSMP_CHECK(st.shape(hf) == shape, ErrorCode::InvalidFile, ck.weights_path << ": tensor '" << hf << "' has the wrong shape");
      ck.tensors[ours] = st.read_f32(hf);
    };
    head(enc::kHeadPoolerWeight, pooler + ".weight", {H, H});
    head(enc::kHeadPoolerBias, pooler + ".bias", {H});
    head(enc::kHeadClassifierWeight, classifier + ".weight", {ck.num_labels, H});
    head(enc::kHeadClassifierBias, classifier + ".bias", {ck.num_labels});
    hf_read_labels(dir_str, ck.num_labels, ck.labels, ck.regression);
  }
  // sentence-transformers Dense modules: linear.weight [out, in] and linear.bias in each module's own folder.
  size_t d = 0;
  for (const auto& [leaf, path] : st_modules(dir)) {
    if (leaf != "Dense") continue;
    const DenseSpec& spec = c.dense.at(d);
    const CheckpointWeights dw(dir / path);
    const size_t di = d++;
    RMSMP_CHECK(dw.has("linear.weight") && dw.shape("linear.weight") == (std::vector<int64_t>{spec.out, spec.in}) &&
                    (!spec.bias || (dw.has("linear.bias") && dw.shape("linear.bias") == std::vector<int64_t>{spec.out})),
                ErrorCode::InvalidFile,
                dw.path() << ": Dense weights must be linear.weight [" << spec.out << ", " << spec.in << "]"
                          << (spec.bias ? " and linear.bias" : "") << " as its config.json says");
    ck.tensors[enc::dense(di, "weight")] = dw.read_f32("linear.weight");
    if (spec.bias) ck.tensors[enc::dense(di, "bias")] = dw.read_f32("linear.bias");
  }
  ck.tokenizer = hf_load_tokenizer(dir_str, ck.notes, family);
  ck.tokenizer->set_template(fam.tmpl);
  RMSMP_CHECK(int64_t(ck.tokenizer->vocab_size()) == c.vocab_size, ErrorCode::InvalidFile,
              dir_str << ": vocabulary has " << ck.tokenizer->vocab_size() << " tokens but config.json says "
                      << c.vocab_size);
  ck.identity_perm_.resize(size_t(std::max(H, F)));
  for (size_t i = 0; i < ck.identity_perm_.size(); ++i) ck.identity_perm_[i] = int32_t(i);
  return ck;
}

BertWeights HfBertCheckpoint::fp32_weights() const {
  BertWeights w;
  w.cfg = cfg;
  w.word_emb = tensor(enc::kWord).data();
  w.pos_emb = tensor(enc::kPosition).data();
  w.type_emb = tensor(enc::kTokenType).data();
  w.emb_ln_g = tensor(enc::kEmbLnGamma).data();
  w.emb_ln_b = tensor(enc::kEmbLnBeta).data();
  if (cfg.rel_buckets > 0) w.rel_table = tensor(enc::kRelativeBias).data();
  for (int64_t l = 0; l < cfg.num_layers; ++l) {
    BertLayerWeights L;
    auto lin = [&](const char* kind, int64_t rows, int64_t cols) {
      RowMixedLinear r;
      r.name = bert_linear_name(l, kind);
      r.rows = rows, r.cols = cols;
      r.groups = {{QuantKind::F32, rows, reinterpret_cast<const uint8_t*>(tensor(r.name + ".weight").data()), nullptr}};
      r.perm = identity_perm_.data();
      r.bias = tensor(r.name + ".bias").data();
      return r;
    };
    const int64_t H = cfg.hidden_size, F = cfg.intermediate_size;
    L.q = lin("q", H, H), L.k = lin("k", H, H), L.v = lin("v", H, H), L.attn_out = lin("attn_out", H, H);
    L.ffn_in = lin("ffn_in", F, H), L.ffn_out = lin("ffn_out", H, F);
    L.ln_attn_g = tensor(enc::layer_norm(l, "ln_attn", "gamma")).data();
    L.ln_attn_b = tensor(enc::layer_norm(l, "ln_attn", "beta")).data();
    L.ln_ffn_g = tensor(enc::layer_norm(l, "ln_ffn", "gamma")).data();
    L.ln_ffn_b = tensor(enc::layer_norm(l, "ln_ffn", "beta")).data();
    w.layers.push_back(std::move(L));
  }
  return w;
}

}  // namespace rmsmp

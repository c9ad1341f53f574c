// Binds BERT weights from a .rmsmp file: config validation, tensor shapes, row-group tables, permutations.
#include <algorithm>
#include <cmath>
#include <map>
#include <string>

#include <nlohmann/json.hpp>
#include <vector>

#include "io/model_format.h"
#include "models/bert.h"
#include "models/encoder_tensors.h"
#include "models/row_mixed_binding.h"
#include "rmsmp/error.h"

namespace rmsmp {

namespace {

constexpr std::pair<unsigned, const char*> kPoolingNames[] = {
    {kPoolCls, "cls"}, {kPoolMax, "max"}, {kPoolMean, "mean"}, {kPoolMeanSqrtLen, "mean_sqrt_len"}};
constexpr std::pair<DenseActivation, const char*> kDenseActivations[] = {{DenseActivation::Identity, "identity"},
                                                                          {DenseActivation::Tanh, "tanh"},
                                                                          {DenseActivation::Relu, "relu"},
                                                                          {DenseActivation::Gelu, "gelu"}};

}  // namespace

std::string pooling_name(unsigned modes) {
  std::string s;
  for (const auto& [bit, name] : kPoolingNames)
    if (modes & bit) s.append(s.empty() ? "" : "+").append(name);
  return s;
}

unsigned pooling_from_name(const std::string& name, const std::string& where) {
  unsigned modes = 0;
  size_t at = 0;
  while (at <= name.size()) {
    const size_t plus = std::min(name.find('+', at), name.size());
    const std::string part = name.substr(at, plus - at);
    unsigned bit = 0;
    for (const auto& [b, n] : kPoolingNames)
      if (part == n) bit = b;
    RMSMP_CHECK(bit != 0 && modes < bit, ErrorCode::InvalidFile,
                where << ": pooling '" << name << "' is not a '+'-joined list of cls, max, mean, mean_sqrt_len in that order");
    modes |= bit;
    at = plus + 1;
  }
  return modes;
}

int64_t BertConfig::pooled_size() const { return hidden_size * int64_t(__builtin_popcount(pooling)); }
int64_t BertConfig::embedding_size() const { return dense.empty() ? pooled_size() : dense.back().out; }

BertConfig BertConfig::from_json(const nlohmann::json& a, const std::string& where) {
  BertConfig c;
  try {
    RMSMP_CHECK(a.at("type").get<std::string>() == "bert", ErrorCode::Unsupported,
                where << ": architecture '" << a.at("type").get<std::string>() << "' is not supported (only bert)");
    c.vocab_size = a.at("vocab_size").get<int64_t>();
    c.hidden_size = a.at("hidden_size").get<int64_t>();
    c.num_layers = a.at("num_layers").get<int64_t>();
    c.num_heads = a.at("num_heads").get<int64_t>();
    c.intermediate_size = a.at("intermediate_size").get<int64_t>();
    c.max_position_embeddings = a.at("max_position_embeddings").get<int64_t>();
    c.type_vocab_size = a.at("type_vocab_size").get<int64_t>();
    c.layer_norm_eps = a.at("layer_norm_eps").get<float>();
    c.pooling = pooling_from_name(a.at("pooling").get<std::string>(), where);
    c.normalize = a.at("normalize").get<bool>();
    for (const auto& d : a.value("dense", nlohmann::json::array())) {  // absent in files before Dense modules
      DenseSpec ds;
      ds.in = d.at("in_features").get<int64_t>();
      ds.out = d.at("out_features").get<int64_t>();
      ds.bias = d.at("bias").get<bool>();
      const std::string act = d.at("activation").get<std::string>();
      bool known = false;
      for (const auto& [k, n] : kDenseActivations)
        if (act == n) ds.act = k, known = true;
      RMSMP_CHECK(known, ErrorCode::InvalidFile, where << ": Dense activation '" << act << "' is not supported");
      c.dense.push_back(ds);
    }
    if (a.contains("relative_attention")) {  // MPNet
      c.rel_buckets = a["relative_attention"].at("num_buckets").get<int64_t>();
      c.rel_max_distance = a["relative_attention"].at("max_distance").get<int64_t>();
    }
    c.max_seq_length = a.at("max_seq_length").get<int64_t>();
    std::string act = a.value("hidden_act", "gelu");
    RMSMP_CHECK(act == "gelu", ErrorCode::Unsupported, where << ": hidden_act '" << act << "' is not supported (gelu only)");
  } catch (const nlohmann::json::exception& e) {
    RMSMP_FAIL(ErrorCode::InvalidFile, where << ": architecture config is incomplete: " << e.what());
  }
  auto in = [](int64_t v, int64_t lo, int64_t hi) { return v >= lo && v <= hi; };
  RMSMP_CHECK(in(c.vocab_size, 1, 10'000'000) && in(c.hidden_size, 1, 65536) && in(c.num_layers, 1, 1024) &&
                  in(c.num_heads, 1, 1024) && in(c.intermediate_size, 1, 1 << 20) &&
                  in(c.max_position_embeddings, 2, 1 << 20) && in(c.type_vocab_size, 1, 1024),
              ErrorCode::InvalidFile, where << ": architecture sizes are out of range");
  RMSMP_CHECK(c.hidden_size % c.num_heads == 0, ErrorCode::InvalidFile,
              where << ": hidden_size " << c.hidden_size << " is not divisible by num_heads " << c.num_heads);
  RMSMP_CHECK(in(c.max_seq_length, 2, c.max_position_embeddings), ErrorCode::InvalidFile,
              where << ": max_seq_length " << c.max_seq_length << " exceeds max_position_embeddings "
                    << c.max_position_embeddings);
  RMSMP_CHECK(c.layer_norm_eps > 0.f && c.layer_norm_eps < 1.f, ErrorCode::InvalidFile,
              where << ": layer_norm_eps out of range");
  RMSMP_CHECK(c.rel_buckets == 0 || (in(c.rel_buckets, 4, 4096) && c.rel_buckets % 4 == 0 &&
                                      in(c.rel_max_distance, c.rel_buckets / 4 + 1, 1 << 20)),
              ErrorCode::InvalidFile, where << ": relative_attention buckets/max_distance out of range");
  int64_t width = c.pooled_size();
  for (size_t i = 0; i < c.dense.size(); ++i) {
    RMSMP_CHECK(c.dense[i].in == width && in(c.dense[i].out, 1, 1 << 20), ErrorCode::InvalidFile,
                where << ": Dense module " << i << " takes " << c.dense[i].in << " inputs, but " << width
                      << " come to it (out_features must be 1..2^20)");
    width = c.dense[i].out;
  }
  return c;
}

nlohmann::json BertConfig::to_json() const {
  nlohmann::json j = {{"type", "bert"},
          {"vocab_size", vocab_size},
          {"hidden_size", hidden_size},
          {"num_layers", num_layers},
          {"num_heads", num_heads},
          {"intermediate_size", intermediate_size},
          {"max_position_embeddings", max_position_embeddings},
          {"type_vocab_size", type_vocab_size},
          {"layer_norm_eps", layer_norm_eps},
          {"hidden_act", "gelu"},
          {"pooling", pooling_name(pooling)},
          {"normalize", normalize},
          {"max_seq_length", max_seq_length}};
  if (rel_buckets > 0) j["relative_attention"] = {{"num_buckets", rel_buckets}, {"max_distance", rel_max_distance}};
  if (!dense.empty()) {
    nlohmann::json& d = j["dense"] = nlohmann::json::array();
    for (const DenseSpec& s : dense) {
      const char* act = "";
      for (const auto& [k, n] : kDenseActivations)
        if (s.act == k) act = n;
      d.push_back({{"in_features", s.in}, {"out_features", s.out}, {"bias", s.bias}, {"activation", act}});
    }
  }
  return j;
}

BertWeights bert_bind(const ModelFile& f) {
  BertWeights w;
  RMSMP_CHECK(f.header().contains("architecture"), ErrorCode::InvalidFile, f.path() << ": no architecture config");
  w.cfg = BertConfig::from_json(f.header()["architecture"], f.path());
  const BertConfig& c = w.cfg;
  const int64_t H = c.hidden_size, F = c.intermediate_size;
  // Word embeddings: an fp32 tensor, or a row-quantized table (rmsmp-convert --embeddings fixed8|fixed4).
  if (f.header().contains("tables") && f.header()["tables"].contains(enc::kWord))
    w.word_table = bind_row_mixed_table(f, enc::kWord, c.vocab_size, H);
  else
    w.word_emb = f.f32(enc::kWord, {c.vocab_size, H});
  if (f.header().contains("head")) {
    const nlohmann::json& hd = f.header()["head"];
    RMSMP_CHECK(hd.is_object() && hd.value("type", "") == "sequence_classification" && hd.contains("num_labels") &&
                    hd["num_labels"].is_number_integer() && hd["num_labels"].get<int64_t>() >= 1 &&
                    hd["num_labels"].get<int64_t>() <= 1 << 16 && hd.contains("labels") && hd["labels"].is_array() &&
                    int64_t(hd["labels"].size()) == hd["num_labels"].get<int64_t>(),
                ErrorCode::InvalidFile, f.path() << ": malformed \"head\" section");
    w.num_labels = hd["num_labels"].get<int64_t>();
    const std::string act = hd.value("pooler_activation", "tanh");  // files before DistilBERT heads: tanh
    RMSMP_CHECK(act == "tanh" || act == "relu", ErrorCode::InvalidFile,
                f.path() << ": head pooler_activation '" << act << "' (tanh or relu)");
    w.pooler_relu = act == "relu";
  }
  // Every other fp32 tensor by the schema's list (names and shapes, encoder_tensors.h).
  std::map<std::string, const float*> t;
  for (const auto& list : {enc::fp32_tensors_before_linears(c), enc::fp32_tensors_after_linears(c, w.num_labels)})
    for (const enc::Tensor& e : list) t[e.name] = f.f32(e.name, e.shape);
  if (w.num_labels > 0) {
    w.pooler_w = t.at(enc::kHeadPoolerWeight);
    w.pooler_b = t.at(enc::kHeadPoolerBias);
    w.cls_w = t.at(enc::kHeadClassifierWeight);
    w.cls_b = t.at(enc::kHeadClassifierBias);
  }
  w.pos_emb = t.at(enc::kPosition);
  w.type_emb = t.at(enc::kTokenType);
  w.emb_ln_g = t.at(enc::kEmbLnGamma);
  w.emb_ln_b = t.at(enc::kEmbLnBeta);
  for (int64_t l = 0; l < c.num_layers; ++l) {
    BertLayerWeights L;
    auto lin = [&](const char* which, int64_t rows, int64_t cols) {
      return bind_row_mixed_linear(f, enc::linear(l, which), rows, cols);
    };
    L.q = lin("q", H, H);
    L.k = lin("k", H, H);
    L.v = lin("v", H, H);
    L.attn_out = lin("attn_out", H, H);
    L.ffn_in = lin("ffn_in", F, H);
    L.ffn_out = lin("ffn_out", H, F);
    L.ln_attn_g = t.at(enc::layer_norm(l, "ln_attn", "gamma"));
    L.ln_attn_b = t.at(enc::layer_norm(l, "ln_attn", "beta"));
    L.ln_ffn_g = t.at(enc::layer_norm(l, "ln_ffn", "gamma"));
    L.ln_ffn_b = t.at(enc::layer_norm(l, "ln_ffn", "beta"));
    w.layers.push_back(std::move(L));
  }
  if (c.rel_buckets > 0) w.rel_table = t.at(enc::kRelativeBias);
  for (size_t i = 0; i < c.dense.size(); ++i)
    w.dense.push_back({t.at(enc::dense(i, "weight")), c.dense[i].bias ? t.at(enc::dense(i, "bias")) : nullptr});
  return w;
}

}  // namespace rmsmp

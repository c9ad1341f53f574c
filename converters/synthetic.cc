// Synthetic BERT checkpoints (see synthetic.h). Tensor names follow transformers' BertModel.
#include "synthetic.h"

#include <filesystem>
#include <fstream>
#include <random>

#include <nlohmann/json.hpp>

#include "rmsmp/error.h"
#include "safetensors.h"

namespace rmsmp {

const std::vector<BertArch>& bert_archs() {
  static const std::vector<BertArch> a = {
      {"minilm-l6", 30522, 384, 6, 12, 1536, 512},   // sentence-transformers/all-MiniLM-L6-v2
      {"bert-base", 30522, 768, 12, 12, 3072, 512},  // bert-base-uncased
  };
  return a;
}

const BertArch& bert_arch(const std::string& name) {
  std::string known;
  for (const auto& a : bert_archs()) {
    if (name == a.name) return a;
    known += known.empty() ? "" : ", ";
    known += a.name;
  }
  RMSMP_FAIL(ErrorCode::InvalidArgument, "unknown architecture '" << name << "' (known: " << known << ")");
  return bert_archs().front();  // not reached: RMSMP_FAIL throws
}

void write_random_bert_checkpoint(const std::string& dir, const BertArch& a, uint64_t seed, const std::string& vocab_txt) {
  namespace fs = std::filesystem;
  fs::create_directories(dir);
  const int64_t H = a.hidden, F = a.ffn, V = a.vocab, P = a.max_positions;
  const nlohmann::json cfg = {{"model_type", "bert"}, {"architectures", {"BertModel"}}, {"vocab_size", V},
                              {"hidden_size", H}, {"num_hidden_layers", a.layers}, {"num_attention_heads", a.heads},
                              {"intermediate_size", F}, {"max_position_embeddings", P}, {"type_vocab_size", 2},
                              {"layer_norm_eps", 1e-12}, {"hidden_act", "gelu"}};
  std::ofstream(dir + "/config.json") << cfg.dump(2) << "\n";
  if (!vocab_txt.empty()) {
    std::ifstream in(vocab_txt);
    RMSMP_CHECK(bool(in), ErrorCode::NotFound, vocab_txt << ": cannot open");
    int64_t lines = 0;
    for (std::string l; std::getline(in, l);) ++lines;
    RMSMP_CHECK(lines == V, ErrorCode::InvalidArgument,
                vocab_txt << ": " << lines << " tokens, architecture " << a.name << " needs " << V);
    fs::copy_file(vocab_txt, dir + "/vocab.txt", fs::copy_options::overwrite_existing);
  } else {
    std::ofstream vf(dir + "/vocab.txt");
    vf << "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n";
    for (int64_t i = 5; i < V; ++i) vf << "tok" << i << "\n";
  }
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> nd(0.f, 0.02f);
  F32TensorMap t;
  auto rnd = [&](std::vector<int64_t> shape) {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    std::vector<float> v(static_cast<size_t>(n));
    for (auto& x : v) x = nd(rng);
    return std::make_pair(shape, std::move(v));
  };
  auto fill = [](int64_t n, float x) { return std::make_pair(std::vector<int64_t>{n}, std::vector<float>(size_t(n), x)); };
  t["embeddings.word_embeddings.weight"] = rnd({V, H});
  t["embeddings.position_embeddings.weight"] = rnd({P, H});
  t["embeddings.token_type_embeddings.weight"] = rnd({2, H});
  t["embeddings.LayerNorm.weight"] = fill(H, 1.f), t["embeddings.LayerNorm.bias"] = fill(H, 0.f);
  for (int64_t l = 0; l < a.layers; ++l) {
    const std::string p = "encoder.layer." + std::to_string(l) + ".";
    for (const char* n : {"attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"})
      t[p + n + ".weight"] = rnd({H, H}), t[p + n + ".bias"] = rnd({H});
    t[p + "intermediate.dense.weight"] = rnd({F, H}), t[p + "intermediate.dense.bias"] = rnd({F});
    t[p + "output.dense.weight"] = rnd({H, F}), t[p + "output.dense.bias"] = rnd({H});
    for (const char* n : {"attention.output.LayerNorm", "output.LayerNorm"})
      t[p + n + ".weight"] = fill(H, 1.f), t[p + n + ".bias"] = fill(H, 0.f);
  }
  write_safetensors_f32(dir + "/model.safetensors", t);
}

}  // namespace rmsmp

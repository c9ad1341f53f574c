// Synthetic BERT checkpoints (see synthetic.h). Tensor names follow transformers' BertModel.
#include "synthetic.h"

#include <cmath>
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

void write_random_resnet_checkpoint(const std::string& path, const std::string& arch, uint64_t seed) {
  std::vector<int> blocks;
  bool bottleneck = false;
  if (arch == "resnet18") blocks = {2, 2, 2, 2};
  else if (arch == "resnet34") blocks = {3, 4, 6, 3};
  else if (arch == "resnet50") blocks = {3, 4, 6, 3}, bottleneck = true;
  else RMSMP_FAIL(ErrorCode::InvalidArgument, "unknown ResNet '" << arch << "' (known: resnet18, resnet34, resnet50)");
  std::mt19937_64 rng(seed);
  F32TensorMap t;
  auto conv = [&](const std::string& name, int64_t cout, int64_t cin, int64_t k) {
    std::normal_distribution<float> nd(0.f, float(std::sqrt(2.0 / double(cin * k * k))));
    std::vector<float> w(size_t(cout * cin * k * k));
    for (auto& v : w) v = nd(rng);
    t[name + ".weight"] = {{cout, cin, k, k}, std::move(w)};
  };
  auto bn = [&](const std::string& name, int64_t c) {
    t[name + ".weight"] = {{c}, std::vector<float>(size_t(c), 1.f)};
    t[name + ".bias"] = {{c}, std::vector<float>(size_t(c), 0.f)};
    t[name + ".running_mean"] = {{c}, std::vector<float>(size_t(c), 0.f)};
    t[name + ".running_var"] = {{c}, std::vector<float>(size_t(c), 1.f)};
  };
  conv("conv1", 64, 3, 7);
  bn("bn1", 64);
  int64_t cin = 64;
  for (size_t s = 0; s < blocks.size(); ++s) {
    const int64_t width = 64 << s, cout = bottleneck ? width * 4 : width;
    for (int b = 0; b < blocks[s]; ++b) {
      const std::string p = "layer" + std::to_string(s + 1) + "." + std::to_string(b) + ".";
      if (b == 0 && (s > 0 || cin != cout)) {
        conv(p + "downsample.0", cout, cin, 1);
        bn(p + "downsample.1", cout);
      }
      if (bottleneck) {
        conv(p + "conv1", width, cin, 1), bn(p + "bn1", width);
        conv(p + "conv2", width, width, 3), bn(p + "bn2", width);
        conv(p + "conv3", cout, width, 1), bn(p + "bn3", cout);
      } else {
        conv(p + "conv1", width, cin, 3), bn(p + "bn1", width);
        conv(p + "conv2", width, width, 3), bn(p + "bn2", width);
      }
      cin = cout;
    }
  }
  std::normal_distribution<float> nd(0.f, float(1.0 / std::sqrt(double(cin))));
  std::vector<float> fc(size_t(1000 * cin));
  for (auto& v : fc) v = nd(rng);
  t["fc.weight"] = {{1000, cin}, std::move(fc)};
  t["fc.bias"] = {{1000}, std::vector<float>(1000, 0.f)};
  write_safetensors_f32(path, t);
}

}  // namespace rmsmp

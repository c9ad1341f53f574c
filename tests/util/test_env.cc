// Test helpers (see test_env.h).
#include "util/test_env.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>

#include <nlohmann/json.hpp>

#include "backends/registry.h"
#include "rmsmp/devices.h"
#include "safetensors.h"

namespace rmsmp::test {

namespace fs = std::filesystem;

std::string data_dir() { return RMSMP_TEST_DATA_DIR; }
std::string bin_dir() {
  const char* e = std::getenv("RMSMP_TOOLS_DIR");  // the tools copied elsewhere (the lent device machine)
  return e && *e ? e : RMSMP_BIN_DIR;
}

// Removed when the test process exits normally (every test binary run leaves nothing behind: a CI host that ran
// the suites many times had filled its disk with these), unless RMSMP_KEEP_TEST_TMP is set to look inside. Only
// the creating process removes it (a forked child exiting would otherwise take its parent's files).
std::string temp_dir() {
  struct Dir {
    std::string path;
    pid_t owner = ::getpid();
    Dir() : path((fs::temp_directory_path() / ("rmsmp_test_" + std::to_string(::getpid()))).string()) {
      fs::create_directories(path);
    }
    ~Dir() {
      const char* keep = std::getenv("RMSMP_KEEP_TEST_TMP");
      std::error_code ec;
      if (::getpid() == owner && !(keep && *keep)) fs::remove_all(path, ec);
    }
  };
  static const Dir dir;
  return dir.path;
}

std::string checkpoint_dir() {
  const char* e = std::getenv("RMSMP_CHECKPOINT_DIR");
  if (!e || !*e) {
    ADD_FAILURE() << "RMSMP_CHECKPOINT_DIR is not set: run the tests through scripts/test.sh (it installs the "
                     "all-MiniLM-L6-v2 checkpoint and sets the variable)";
    return "/nonexistent";
  }
  return e;
}

int run_cmd(const std::string& cmd, std::string* output) {
  std::string full = cmd + " 2>&1";
  FILE* p = ::popen(full.c_str(), "r");
  if (!p) return -1;
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int st = ::pclose(p);
  if (output) *output = out;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

std::string converted_model(const std::string& key, const std::string& in, const std::vector<std::string>& extra_args) {
  static std::mutex mu;
  static std::map<std::string, std::string> done;
  std::lock_guard<std::mutex> lock(mu);
  if (auto it = done.find(key); it != done.end()) return it->second;
  const std::string out = temp_dir() + "/" + key + ".rmsmp";
  std::string cmd = bin_dir() + "/rmsmp-convert --quiet --in '" + in + "' --out '" + out + "'";
  for (const auto& a : extra_args) cmd += " " + a;
  std::string log;
  const int rc = run_cmd(cmd, &log);
  EXPECT_EQ(rc, 0) << cmd << "\n" << log;
  done[key] = out;
  return out;
}

std::string converted_minilm(const std::string& key, const std::vector<std::string>& extra_args) {
  return converted_model("minilm-" + key, checkpoint_dir(), extra_args);
}

namespace {
std::string env_or_fail(const char* var, const char* what) {
  const char* e = std::getenv(var);
  if (!e || !*e) {
    ADD_FAILURE() << var << " is not set: run the tests through scripts/test.sh (it installs " << what
                  << " and sets the variable)";
    return "/nonexistent";
  }
  return e;
}
}  // namespace

std::string effnet_pth() { return env_or_fail("RMSMP_EFFNET_PTH", "the EfficientNet-Lite0 weights"); }
std::string calib_images_dir() { return env_or_fail("RMSMP_CALIB_IMAGES", "the calibration photos"); }
std::string fmnist_pth() { return data_dir() + "/fmnist/resnet20_fmnist.pth"; }
std::string fmnist_dir() {
  const char* e = std::getenv("RMSMP_FMNIST_DIR");  // a copy elsewhere (the lent device machine has no apt)
  return e && *e ? e : "/usr/share/datasets/fashion-mnist";
}

std::string make_tiny_checkpoint(const std::string& name, uint64_t seed, const TinyOptions& opt) {
  const std::string dir = temp_dir() + "/" + name;
  fs::create_directories(dir);
  const int64_t V = opt.spiece_model.empty() ? 64 : int64_t(opt.spiece_vocab), H = 32, L = 2, NH = 4, F = 48, P = 40;
  nlohmann::json cfg = {{"model_type", "bert"}, {"vocab_size", V}, {"hidden_size", H}, {"num_hidden_layers", L},
                        {"num_attention_heads", NH}, {"intermediate_size", F}, {"max_position_embeddings", P},
                        {"type_vocab_size", 2}, {"layer_norm_eps", 1e-12}, {"hidden_act", "gelu"}};
  if (opt.num_labels > 0) {
    cfg["architectures"] = {"BertForSequenceClassification"};
    for (int i = 0; i < opt.num_labels; ++i) cfg["id2label"][std::to_string(i)] = "LABEL_" + std::to_string(i);
  }
  std::ofstream(dir + "/config.json") << cfg.dump(2);
  if (!opt.spiece_model.empty()) {
    fs::copy_file(opt.spiece_model, dir + "/spiece.model", fs::copy_options::overwrite_existing);
    std::ofstream(dir + "/tokenizer_config.json") << R"({"do_lower_case": true, "keep_accents": false})";
  }
  std::vector<std::string> vocab = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
  for (const char* w : {"the", "a", "movie", "was", "good", "bad", "not", "very", "!", ".", ",", "it", "is",
                        "##s", "##ing", "play", "fun", "dull", "great", "plot"})
    vocab.push_back(w);
  for (char c = 'a'; vocab.size() < size_t(V); ++c) vocab.push_back(std::string(1, c)), vocab.push_back("##" + std::string(1, c));
  vocab.resize(size_t(V));
  if (opt.spiece_model.empty()) {
    std::ofstream vf(dir + "/vocab.txt");
    for (const auto& v : vocab) vf << v << "\n";
  }
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> nd(0.f, 0.2f);
  std::map<std::string, std::pair<std::vector<int64_t>, std::vector<float>>> t;
  auto rnd = [&](std::vector<int64_t> shape, float mean = 0.f) {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    std::vector<float> v(static_cast<size_t>(n));
    for (auto& x : v) x = mean + nd(rng);
    return std::make_pair(shape, v);
  };
  t["embeddings.word_embeddings.weight"] = rnd({V, H});
  t["embeddings.position_embeddings.weight"] = rnd({P, H});
  t["embeddings.token_type_embeddings.weight"] = rnd({2, H});
  t["embeddings.LayerNorm.weight"] = rnd({H}, 1.f);
  t["embeddings.LayerNorm.bias"] = rnd({H});
  for (int l = 0; l < L; ++l) {
    const std::string p = "encoder.layer." + std::to_string(l) + ".";
    for (const char* n : {"attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"})
      t[p + n + ".weight"] = rnd({H, H}), t[p + n + ".bias"] = rnd({H});
    t[p + "intermediate.dense.weight"] = rnd({F, H}), t[p + "intermediate.dense.bias"] = rnd({F});
    t[p + "output.dense.weight"] = rnd({H, F}), t[p + "output.dense.bias"] = rnd({H});
    for (const char* n : {"attention.output.LayerNorm", "output.LayerNorm"})
      t[p + n + ".weight"] = rnd({H}, 1.f), t[p + n + ".bias"] = rnd({H});
  }
  if (opt.num_labels > 0) {  // BertForSequenceClassification names: bert.* + pooler + classifier
    std::map<std::string, std::pair<std::vector<int64_t>, std::vector<float>>> u;
    for (auto& [k, v] : t) u["bert." + k] = std::move(v);
    t.swap(u);
    t["bert.pooler.dense.weight"] = rnd({H, H}), t["bert.pooler.dense.bias"] = rnd({H});
    t["classifier.weight"] = rnd({opt.num_labels, H}), t["classifier.bias"] = rnd({opt.num_labels});
  }
  write_safetensors_f32(dir + "/model.safetensors", t);
  return dir;
}

std::vector<std::string> backend_sweep() {
  std::vector<std::string> out;
  for (const BackendKind& k : backend_kinds()) {
    const std::string n = k.name;
    if (k.alias || n == "reference") continue;
    out.push_back(n);
    if (n == "cpu:avx512") out.push_back(n + "/bytes");
    if (n == "cpu:amx") out.push_back(n + "/nibbles");
  }
  return out;
}

std::vector<std::string> golden_backends() {
  std::vector<std::string> out = {"reference", "cpu"};
  if (opencl_built()) out.push_back("opencl");
  return out;
}

}  // namespace rmsmp::test

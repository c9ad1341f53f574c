// Shared test helpers: paths to golden data and tools, the real checkpoint, a tiny random BERT checkpoint.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace rmsmp::test {

std::string data_dir();     // tests/data (committed goldens)
std::string bin_dir();      // where rmsmp-run / rmsmp-convert were built
std::string temp_dir();     // a fresh folder per test process
// The real all-MiniLM-L6-v2 folder from $RMSMP_CHECKPOINT_DIR (scripts/test.sh sets it). Fails the calling
// test (never skips) when it is not set.
std::string checkpoint_dir();
// Converts the real checkpoint once per process with the given rmsmp-convert arguments; returns the path.
std::string converted_minilm(const std::string& key, const std::vector<std::string>& extra_args);
// Converts `in` (a checkpoint folder or file) once per process per key; returns the model's path.
std::string converted_model(const std::string& key, const std::string& in, const std::vector<std::string>& extra_args);
// Vision inputs: $RMSMP_EFFNET_PTH, $RMSMP_CALIB_IMAGES (scripts/test.sh sets both; fail, never skip, without),
// the committed Fashion-MNIST ResNet-20 and Debian's Fashion-MNIST folder ($RMSMP_FMNIST_DIR overrides it).
std::string effnet_pth();
std::string calib_images_dir();
std::string fmnist_pth();
std::string fmnist_dir();

struct TinyOptions {
  // Non-empty: a SentencePiece .model copied in as spiece.model (vocab_size follows it; no vocab.txt), with
  // tokenizer_config.json {do_lower_case: true, keep_accents: false} as ALBERT ships it.
  std::string spiece_model;
  size_t spiece_vocab = 0;  // pieces of that model
  // > 0: a BertForSequenceClassification checkpoint (pooler + classifier with this many labels).
  int num_labels = 0;
};
// Writes a tiny random BERT checkpoint folder (config.json, vocab.txt, model.safetensors) and returns it.
// Sizes: vocab 64, hidden 32, 2 layers, 4 heads, FFN 48 (odd-ish shapes on purpose), max positions 40.
std::string make_tiny_checkpoint(const std::string& name, uint64_t seed = 1, const TinyOptions& opt = {});

// Backends to sweep, from the backend table (registry.h): every entry of this build that is not an alias and
// not the reference (the oracle they are compared with), plus, for cpu:avx512 and cpu:amx, their other 4-bit
// form ("cpu:avx512/bytes", "cpu:amx/nibbles": see linear_backend_test's test_backend). Whether each runs here
// is the test's business (BackendKind::available).
std::vector<std::string> backend_sweep();
// The backends a model-level golden test compares: "reference", "cpu", and "opencl" when the build has it.
std::vector<std::string> golden_backends();

// Runs a shell command; returns its exit status and captures stdout+stderr.
int run_cmd(const std::string& cmd, std::string* output);

}  // namespace rmsmp::test

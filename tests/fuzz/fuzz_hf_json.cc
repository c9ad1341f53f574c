// Fuzzes the Hugging Face checkpoint's JSON files as the converter reads them: config.json (with the
// sentence-transformers files), tokenizer.json (normalizer, model, vocabulary) and special_tokens_map.json.
// The input's first byte picks which file the rest becomes; the others are absent.
#include <filesystem>
#include <fstream>

#include "hf_checkpoint.h"
#include "rmsmp/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace fs = std::filesystem;
  static const std::string dir = "/tmp/rmsmp_fuzz_hf_" + std::to_string(::getpid());
  fs::remove_all(dir);
  fs::create_directories(dir + "/1_Pooling");
  static const char* kFiles[] = {"config.json", "tokenizer.json", "special_tokens_map.json", "tokenizer_config.json",
                                 "1_Pooling/config.json", "modules.json", "sentence_bert_config.json"};
  if (size == 0) return 0;
  const std::string name = kFiles[data[0] % std::size(kFiles)];
  std::ofstream(dir + "/" + name, std::ios::binary).write(reinterpret_cast<const char*>(data + 1), std::streamsize(size - 1));
  if (name != "config.json") std::ofstream(dir + "/config.json") << R"({"vocab_size":10,"hidden_size":8,
      "num_hidden_layers":1,"num_attention_heads":2,"intermediate_size":16,"max_position_embeddings":16})";
  std::vector<std::string> notes;
  try {
    rmsmp::hf_read_config(dir, notes);
  } catch (const rmsmp::Error&) {
  }
  try {
    rmsmp::hf_tokenizer_settings(dir, notes);
  } catch (const rmsmp::Error&) {
  }
  try {
    if (name == "tokenizer.json") rmsmp::hf_vocab_from_tokenizer_json(dir + "/tokenizer.json");
  } catch (const rmsmp::Error&) {
  }
  return 0;
}

// Fuzzes the JSON configs a model file or checkpoint carries: architecture (BertConfig::from_json) and the
// tokenizer section (tokenizer_from_header), from arbitrary bytes through nlohmann::json.
#include <nlohmann/json.hpp>

#include "models/bert.h"
#include "models/tokenizer_config.h"
#include "rmsmp/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nlohmann::json j = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  try {
    if (j.is_object() && j.contains("architecture")) rmsmp::BertConfig::from_json(j["architecture"], "fuzz");
  } catch (const rmsmp::Error&) {
  }
  try {
    if (j.is_object()) rmsmp::tokenizer_from_header(j, "fuzz");
  } catch (const rmsmp::Error&) {
  }
  return 0;
}

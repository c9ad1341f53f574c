// Fuzzes the .rmsmp reader end to end (preamble, JSON header, tensor table, BERT binding, tokenizer config),
// with the checksum off so mutations reach the deeper validation, then embeds one text if the load succeeds.
#include "fuzz/fuzz_util.h"
#include "rmsmp/model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string p = rmsmp::fuzz::input_file(data, size, ".rmsmp");
  rmsmp::LoadOptions lo;
  lo.verify_checksum = false;
  lo.backend = "reference";
  try {
    auto m = rmsmp::Model::load(p, lo);
    m->embed({m->tokenize("the movie was good")});
  } catch (const rmsmp::Error&) {
  }
  return 0;
}

// Fuzzes the QAT plan reader (converters/qat_plan.h): the safetensors container plus the plan's invariants
// (format tag, kinds, steps, every value on its row's grid).
#include "fuzz/fuzz_util.h"
#include "qat_plan.h"
#include "rmsmp/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string p = rmsmp::fuzz::input_file(data, size, ".plan");
  try {
    rmsmp::read_qat_plan(p);
  } catch (const rmsmp::Error&) {
  }
  return 0;
}

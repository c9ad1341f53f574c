// Fuzzes the safetensors reader: header length, JSON, dtypes, shapes, offsets, and float conversion.
#include "fuzz/fuzz_util.h"
#include "rmsmp/error.h"
#include "safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string p = rmsmp::fuzz::input_file(data, size, ".safetensors");
  try {
    rmsmp::SafetensorsFile f(p);
    for (const auto& e : f.entries()) {
      try {
        f.read_f32(e.name);
      } catch (const rmsmp::Error&) {
      }
    }
  } catch (const rmsmp::Error&) {
  }
  return 0;
}

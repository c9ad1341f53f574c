// Fuzzes the restricted .pth reader: both containers (zip directory, legacy pickle stream), the pickle machine,
// storage extents, strides and float conversion.
#include "fuzz/fuzz_util.h"
#include "pth_reader.h"
#include "rmsmp/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string p = rmsmp::fuzz::input_file(data, size, ".pth");
  try {
    rmsmp::PthFile f(p);
    for (const auto& n : f.names()) {
      try {
        f.read_f32(n);
      } catch (const rmsmp::Error&) {
      }
    }
  } catch (const rmsmp::Error&) {
  }
  return 0;
}

// Fuzzes the CNN side of the .rmsmp reader: graph JSON (values, nodes, windows, residuals, layers), layer
// binding and grouped-weight unpacking, with the checksum off; runs one zero image when the load succeeds and
// the input is small (the loader bounds every value's size).
#include <vector>

#include "fuzz/fuzz_util.h"
#include "rmsmp/vision.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string p = rmsmp::fuzz::input_file(data, size, ".rmsmp");
  rmsmp::LoadOptions lo;
  lo.verify_checksum = false;
  lo.backend = "reference";
  try {
    auto m = rmsmp::VisionModel::load(p, lo);
    const auto& i = m->info();
    if (i.height * i.width * i.channels <= (1 << 16) && i.gmacs < 0.05) {
      std::vector<float> x(size_t(i.height * i.width * i.channels), 0.f);
      m->logits(x.data(), int64_t(x.size()));
    }
  } catch (const rmsmp::Error&) {
  }
  return 0;
}

// Fuzzes the image path a classifier service runs on untrusted files: PNG/JPEG decoding (libpng and
// libjpeg-turbo behind our error handlers, corrupt-data warnings refused) with the pixel budget, then
// torchvision's eval transform, whose resize is where a tiny file with an extreme aspect ratio amplifies.
// The input is tried as both containers (the decoder picks by magic bytes).
#include "fuzz/fuzz_util.h"
#include "rmsmp/error.h"
#include "vision_io/image.h"
#include "vision_io/preprocess.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string p = rmsmp::fuzz::input_file(data, size, ".img");
  try {
    // The budget keeps a decoded image within a few hundred MB under ASan's shadow memory.
    const rmsmp::vision::ImageRgb8 img = rmsmp::vision::load_image(p, int64_t(1) << 24);
    (void)rmsmp::vision::imagenet_eval_transform(img);
  } catch (const rmsmp::Error&) {
  }
  return 0;
}

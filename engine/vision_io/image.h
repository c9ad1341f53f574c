// Image files to 8-bit RGB: PNG (libpng) and JPEG (libjpeg-turbo), both from Debian. Gray, palette, alpha and
// 16-bit PNGs are converted to RGB8 (alpha dropped, as PIL's convert("RGB") does); CMYK JPEGs are refused.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace rmsmp::vision {

struct ImageRgb8 {
  int64_t width = 0, height = 0;
  std::vector<uint8_t> pixels;  // height x width x 3, row-major
};

// Detects the format from the file's first bytes. Errors (Error{NotFound|InvalidFile|Unsupported}) name the
// file and the problem; images above max_pixels are refused before decoding.
ImageRgb8 load_image(const std::string& path, int64_t max_pixels = int64_t(1) << 28);

}  // namespace rmsmp::vision

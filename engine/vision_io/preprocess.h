// torchvision's ImageNet evaluation transform, reproduced exactly for PIL inputs:
//   Resize(256): shorter side to 256, longer side int(256 * long / short), PIL bilinear with antialias
//   (Pillow's Resample.c: separable passes, horizontal first, 22-bit fixed-point coefficients, each pass
//   rounded and clipped to uint8);
//   CenterCrop(224): offsets int(round((size - 224) / 2)) with Python's round-half-to-even;
//   ToTensor + Normalize: float(p) / 255, then (x - mean) / std per channel, in float32.
// Tests compare against Pillow on real photos, byte for byte on the uint8 stages.
#pragma once
#include <array>
#include <cstdint>
#include <vector>

#include "vision_io/image.h"

namespace rmsmp::vision {

// PIL Image.resize(size, BILINEAR) of an RGB8 image.
ImageRgb8 resize_bilinear_pil(const ImageRgb8& in, int64_t out_w, int64_t out_h);
// torchvision Resize(size) output size for a single int (shorter side -> size).
void resize_shorter_side(int64_t w, int64_t h, int64_t size, int64_t* out_w, int64_t* out_h);
// torchvision CenterCrop; InvalidArgument if the crop is larger than the image.
ImageRgb8 center_crop(const ImageRgb8& in, int64_t crop_w, int64_t crop_h);

struct Normalization {
  std::array<float, 3> mean{0.485f, 0.456f, 0.406f}, std{0.229f, 0.224f, 0.225f};  // ImageNet
};
// 3 x H x W float32 (CHW), (p / 255 - mean) / std.
std::vector<float> to_normalized_chw(const ImageRgb8& in, const Normalization& n = {});

// The whole evaluation transform: resize shorter side to `resize`, center crop `crop`, normalize.
std::vector<float> imagenet_eval_transform(const ImageRgb8& in, int64_t resize = 256, int64_t crop = 224,
                                           const Normalization& n = {});

}  // namespace rmsmp::vision

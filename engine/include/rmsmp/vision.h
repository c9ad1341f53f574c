// Public API for image classifiers (ResNet, EfficientNet-Lite, ...) converted by rmsmp-convert: load once,
// classify preprocessed images. Like rmsmp::Model, a VisionModel is immutable after load and its const
// methods may be called from many threads at once.
//
// Input: one image as float32 in NHWC order (height x width x channels), already normalised as
// info().mean/std say ((p / 255 - mean) / std). Decoding and torchvision's eval transform are in the tools
// (rmsmp-run classify), so this header needs no image library.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "rmsmp/error.h"
#include "rmsmp/load_options.h"

namespace rmsmp {

struct VisionInfo {
  std::string path, name;          // name: the architecture ("resnet18", "efficientnet-lite0", ...)
  std::string scheme;              // fp32, rmsmp, fixed8, ...
  double avg_weight_bits = 32;
  int act_bits = 32;               // activation bits of the quantized convs (32 for fp32)
  uint64_t file_bytes = 0;
  std::string backend;
  int64_t num_classes = 0;
  std::vector<std::string> labels;  // class names in logit order; empty when the file has none
  int64_t channels = 3, height = 224, width = 224;
  int64_t resize = 256, crop = 224;  // eval transform: shorter side to `resize`, center crop `crop` (0: none)
  std::vector<float> mean, std;
  int64_t conv_layers = 0;
  double gmacs = 0;                // multiply-accumulates of one image, in 1e9
};

class VisionModel {
 public:
  // Throws Error{InvalidFile} (naming the file and the problem) for a file that is not a CNN model.
  static std::shared_ptr<const VisionModel> load(const std::string& path, const LoadOptions& opts = {});
  ~VisionModel();
  const VisionInfo& info() const;
  std::string header_json() const;
  // Logits (num_classes) of one image, NHWC. Throws InvalidArgument when `n_values` is not
  // height * width * channels.
  std::vector<float> logits(const float* image_nhwc, int64_t n_values) const;
  // Same for a CHW image (torchvision's tensor layout).
  std::vector<float> logits_chw(const float* image_chw, int64_t n_values) const;

  struct Impl;

 private:
  explicit VisionModel(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace rmsmp

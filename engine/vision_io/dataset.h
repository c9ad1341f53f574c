// Image datasets for evaluation and calibration, and the per-model input transform.
//   ImageNet validation layouts: class-named subfolders (sorted names give class indices 0..n-1, as
//   torchvision's ImageFolder does, or indices from the names in a class list), or a flat folder with a label
//   file of "file<TAB or space>class_index" lines.
//   IDX files (MNIST / Fashion-MNIST, optionally gzip'd): uint8 images n x h x w and uint8 labels.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "rmsmp/vision.h"
#include "vision_io/image.h"

namespace rmsmp::vision {

struct LabeledImage {
  std::string path;
  int64_t label = -1;  // -1: unknown
};

// Image files (.jpg .jpeg .png, any case) under dir, recursively, sorted by path. NotFound if dir is missing.
std::vector<std::string> list_images(const std::string& dir);

// An ImageNet-style validation set. With label_file: a flat folder (or any layout) labelled by the file, whose
// names are relative to dir. Without: class subfolders; a subfolder's index is its position in class_names when
// given (names must match; InvalidArgument naming the folder otherwise), else its rank in sorted order.
// Errors name the folder/file and the problem (no images, unknown file in the label file, bad index).
std::vector<LabeledImage> imagenet_layout(const std::string& dir, const std::string& label_file,
                                          const std::vector<std::string>& class_names);

struct IdxImages {
  int64_t n = 0, h = 0, w = 0;
  std::vector<uint8_t> pixels;  // n x h x w
};
// Reads an IDX3 uint8 image file or an IDX1 uint8 label file (gzip'd or not); errors name the file.
IdxImages read_idx_images(const std::string& path);
std::vector<uint8_t> read_idx_labels(const std::string& path);

// The model's input transform for an RGB image: torchvision's Resize/CenterCrop (info.resize/crop, when set),
// then (p / 255 - mean) / std, as NHWC floats. InvalidArgument if the result is not height x width (a model
// without resize/crop needs images of its exact size) or the model does not take 3 channels.
std::vector<float> model_input(const VisionInfo& info, const ImageRgb8& img);
// Same for one grayscale IDX image (channels must be 1).
std::vector<float> model_input_gray(const VisionInfo& info, const uint8_t* pixels, int64_t h, int64_t w);

}  // namespace rmsmp::vision

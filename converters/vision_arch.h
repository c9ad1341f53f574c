// CNN architectures for the converter: reads a torchvision-style state dict (.pth or .safetensors), folds
// BatchNorm into the preceding conv, and builds the engine's graph (engine/src/models/cnn.h) with one fp32
// layer spec per conv. The engine knows ops only; architecture knowledge lives here.
//
// Supported (--arch, inferred from the tensor names and shapes when absent):
//   resnet18, resnet34, resnet50   torchvision names (conv1, bn1, layerS.B.{conv,bn}N, downsample.{0,1}, fc);
//                                  7x7/2 stem + 3x3/2 max pool, stride on the first block of stages 2-4
//                                  (on conv2 in bottlenecks, torchvision's v1.5); BN eps 1e-5
//   resnet20                       the same names with a 3x3/1 stem and no max pool (CIFAR-style ResNet-20,
//                                  three stages; converters/train/fmnist_resnet20.py trains one on Fashion-MNIST)
//   efficientnet-lite0             lukemelas-style names (_conv_stem, _bn0, _blocks.N._expand_conv/_depthwise_conv/
//                                  _project_conv/_bn0-2, _conv_head, _bn1, _fc); ReLU6, no squeeze-excite,
//                                  TensorFlow "SAME" padding (asymmetric at stride 2), BN eps 1e-3
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/cnn.h"

namespace rmsmp {

// Name -> float32 tensors of a checkpoint file (.pth/.pt through the restricted pickle reader, or .safetensors).
// Checkpoints saved from a wrapper are read through their prefix: a DataParallel "module.", a training
// checkpoint's "state_dict." / "model." / "model_state_dict." (the .pth reader flattens nested dicts to dotted
// names). The prefix is found by looking for a known stem tensor; prefix() says which one applied.
class StateDict {
 public:
  static std::unique_ptr<StateDict> open(const std::string& path);
  virtual ~StateDict() = default;
  virtual const std::string& path() const = 0;
  bool has(const std::string& name) const { return raw_has(prefix_ + name); }
  std::vector<int64_t> shape(const std::string& name) const;  // InvalidFile naming it if missing
  std::vector<float> read(const std::string& name) const { return raw_read(prefix_ + name); }
  // read() with a shape check; the error names the file, the tensor, and both shapes.
  std::vector<float> read(const std::string& name, const std::vector<int64_t>& expect) const;
  const std::string& prefix() const { return prefix_; }

 protected:
  virtual bool raw_has(const std::string& name) const = 0;
  virtual std::vector<int64_t> raw_shape(const std::string& name) const = 0;
  virtual std::vector<float> raw_read(const std::string& name) const = 0;

 private:
  std::string prefix_;
};

// One conv after BN folding: w is [cout][kh][kw][cin_g] (the engine's (ky, kx, ci) column order).
struct ConvLayerSpec {
  std::string name;  // the file's "linears" key
  int64_t cout = 0, cin_g = 0, kh = 1, kw = 1, groups = 1;  // cout / groups rows per group
  std::vector<float> w, bias;
  bool input_nonneg = false;  // its input follows a ReLU (unsigned activation grid)
  int64_t cols() const { return kh * kw * cin_g; }
};

struct CnnPreprocess {
  int64_t channels = 3, height = 224, width = 224, resize = 256, crop = 224;
  std::vector<float> mean{0.485f, 0.456f, 0.406f}, std{0.229f, 0.224f, 0.225f};
  std::string note;  // where the numbers come from
};

struct CnnModelSpec {
  std::string arch;
  int64_t num_classes = 0;
  CnnPreprocess pre;
  std::vector<ConvLayerSpec> convs;  // in graph order; convs.front() is the stem, convs.back() the classifier
  // The engine's graph (models/cnn.h): a conv node's `layer` indexes convs.
  std::vector<CnnValue> values;
  std::vector<CnnNode> nodes;
  int output = 0;
  std::vector<std::string> notes;
  // The "architecture" header object (labels may be empty), written by the engine's schema (cnn_schema.h).
  nlohmann::json to_json(const std::vector<std::string>& labels) const;
};

// Known --arch names.
const std::vector<std::string>& cnn_arch_names();
// Infers the architecture from the state dict when `arch` is empty; else checks that the names fit it.
CnnModelSpec build_cnn(const StateDict& sd, const std::string& arch);

}  // namespace rmsmp

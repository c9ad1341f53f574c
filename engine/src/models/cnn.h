// Convolutional networks (ResNet, EfficientNet-Lite, ...) as a small static graph read from the model file.
// The converter writes the graph; the engine knows ops, not architectures.
//
// Activations are NHWC float32, one image at a time (results never depend on batching). A conv's weight is a
// RowMixedLinear with one row per output channel and cols = kh * kw * (Cin / groups) in (ky, kx, ci) order, so
// that an NHWC patch is contiguous per (ky, kx): groups == 1 runs as im2col + Backend::linear (a 1x1 stride-1
// conv needs no im2col at all), depthwise and other grouped convs run the shared integer kernel in cnn_ops.
// Every conv computes  out = act(conv(x) + bias + residual)  where residual (optional) is another value of the
// output's shape: a ResNet block's second conv adds the shortcut before its ReLU, an MBConv's projection adds
// the block input with no activation.
//
// Header "architecture" for these files (written and read by models/cnn_schema.h: the converter fills a
// CnnSchema, the loader and the FPGA model parse it there):
//   {type: "cnn", name, num_classes, labels: [..] | null,
//    input: {channels, height, width, resize, crop, mean: [C], std: [C]},
//    values: [{name, h, w, c}],  (value 0 is the input image)
//    nodes: [{op: "conv", layer, in, out, residual: index | -1, kernel: [kh, kw], stride: [sh, sw],
//             pad: [top, left, bottom, right], groups, act: "none"|"relu"|"relu6"}
//          | {op: "maxpool" | "avgpool", in, out, kernel, stride, pad}   (avgpool divides by the whole window,
//                                                                   padding included: PyTorch's default)
//          | {op: "global_avgpool", in, out}],
//    output: value index (1 x 1 x num_classes logits)}
// A conv's layer is a "linears" entry (rows = Cout, cols = kh*kw*Cin/groups). Values are written once, in
// node order; the loader checks every shape.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "backends/backend.h"
#include "quant/row_mixed.h"

namespace rmsmp {

class ModelFile;

enum class CnnAct { None, Relu, Relu6 };

struct CnnValue {
  std::string name;
  int64_t h = 0, w = 0, c = 0;
  int64_t size() const { return h * w * c; }
};

struct CnnNode {
  enum class Op { Conv, MaxPool, AvgPool, GlobalAvgPool } op = Op::Conv;
  int in = 0, out = 0, residual = -1;
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, pt = 0, pl = 0, pb = 0, pr = 0, groups = 1;
  CnnAct act = CnnAct::None;
  int layer = -1;  // index into CnnGraph::layers (convs only)
};

struct CnnInput {
  int64_t channels = 3, height = 224, width = 224;
  int64_t resize = 256, crop = 224;  // torchvision eval transform; 0 = the image must already be height x width
  std::vector<float> mean, std;      // per channel, applied to p / 255
};

struct CnnGraph {
  std::string name;
  int64_t num_classes = 0;
  std::vector<std::string> labels;  // may be empty
  CnnInput input;
  std::vector<CnnValue> values;
  std::vector<CnnNode> nodes;
  std::vector<RowMixedLinear> layers;
  // Grouped convs' weights in the layout the grouped kernels read (Backend::prepare_grouped, made by cnn_prepare
  // with the backend that runs the model; the packed codes are not read by those kernels).
  using Unpacked = PreparedGrouped;
  static constexpr int64_t kMaxTapMajorTaps = kMaxDepthwiseTaps;  // larger depthwise windows keep [c][tap] (the generic loop)
  std::vector<Unpacked> unpacked;  // per layer; empty for groups == 1 layers and before cnn_prepare
  std::vector<char> grouped;       // per layer: its conv has groups > 1 (runs cnn_ops, not Backend::linear)
  int output = 0;
  std::vector<int> last_use;  // per value: index of the last node reading it (buffers freed after)
};

// Parses and validates the graph in f's header (architecture.type == "cnn") and binds its layers.
CnnGraph cnn_bind(const ModelFile& f);
// Load time: the backend's layouts of every conv's weights (prepare_linear for groups == 1, prepare_grouped for
// the others); cnn_forward needs it.
void cnn_prepare(CnnGraph& g, const Backend& be, const ModelFile& f);
// How many values the forward pass hands over as int8 (cnn.cc's int8 handoff: outputs whose every reader is an
// integer conv with one and the same static clip); 0 with RMSMP_CNN_INT8_HANDOFF=0.
int cnn_int8_handoffs(const CnnGraph& g);
// True when the header's architecture is a CNN graph.
bool is_cnn_header(const nlohmann::json& header);

// Called with each conv's input patch matrix before it runs (calibration): n rows of layer.cols values
// (patches for groups == 1; for grouped convs, n = pixels * groups patches of one group each).
using CnnLayerHook = std::function<void(int layer_index, const float* patches, int64_t n)>;

// One image (NHWC, input.height x input.width x input.channels) -> logits (num_classes).
std::vector<float> cnn_forward(const CnnGraph& g, const Backend& be, const float* image_nhwc,
                               const CnnLayerHook* hook = nullptr);

}  // namespace rmsmp

// See vision_arch.h.
#include "vision_arch.h"

#include <cmath>
#include <sstream>

#include "models/cnn_ops.h"
#include "models/cnn_schema.h"
#include "pth_reader.h"
#include "rmsmp/error.h"
#include "safetensors.h"

namespace rmsmp {

namespace {

std::string shape_str(const std::vector<int64_t>& s) {
  std::ostringstream o;
  o << "[";
  for (size_t i = 0; i < s.size(); ++i) o << (i ? ", " : "") << s[i];
  return o.str() + "]";
}

class PthStateDict : public StateDict {
 public:
  explicit PthStateDict(const std::string& p) : f_(p) {}
  const std::string& path() const override { return f_.path(); }

 protected:
  bool raw_has(const std::string& n) const override { return f_.has(n); }
  std::vector<int64_t> raw_shape(const std::string& n) const override { return f_.tensor(n).shape; }
  std::vector<float> raw_read(const std::string& n) const override { return f_.read_f32(n); }

 private:
  PthFile f_;
};

class SafetensorsStateDict : public StateDict {
 public:
  explicit SafetensorsStateDict(const std::string& p) : f_(p) {}
  const std::string& path() const override { return f_.path(); }

 protected:
  bool raw_has(const std::string& n) const override { return f_.has(n); }
  std::vector<int64_t> raw_shape(const std::string& n) const override { return f_.entry(n).shape; }
  std::vector<float> raw_read(const std::string& n) const override { return f_.read_f32(n); }

 private:
  SafetensorsFile f_;
};

// Builds values/nodes/convs; tracks which values are >= 0 (outputs of ReLU/ReLU6, and pools of those).
class Builder {
 public:
  Builder(const StateDict& sd, CnnModelSpec& spec, float bn_eps) : sd_(sd), spec_(spec), eps_(bn_eps) {}

  int input(int64_t c, int64_t h, int64_t w) { return add_value("input", h, w, c, false); }

  // conv (+ folded BN `bn`, or the conv's own bias when bn is empty) -> act(. + residual).
  int conv(int in, const std::string& layer, const std::string& wname, const std::string& bn, int64_t stride,
           bool tf_same, int64_t groups, const std::string& act, int residual = -1) {
    const std::vector<int64_t> ws = sd_.shape(wname);
    RMSMP_CHECK(ws.size() == 4 || ws.size() == 2, ErrorCode::InvalidFile,
                sd_.path() << ": " << wname << " has shape " << shape_str(ws) << ", expected a conv or linear weight");
    const int64_t cout = ws[0], cin_g = ws[1], kh = ws.size() == 4 ? ws[2] : 1, kw = ws.size() == 4 ? ws[3] : 1;
    const CnnValue& vi = spec_.values[size_t(in)];
    const int64_t ih = vi.h, iw = vi.w, ic = vi.c;
    RMSMP_CHECK(cin_g * groups == ic, ErrorCode::InvalidFile,
                sd_.path() << ": " << wname << " " << shape_str(ws) << " takes " << cin_g * groups
                           << " input channels, the graph gives it " << ic);
    int64_t pt, pl, pb, pr;
    pads(ih, kh, stride, tf_same, pt, pb);
    pads(iw, kw, stride, tf_same, pl, pr);
    const int64_t oh = cnn_out_dim(ih, kh, stride, pt, pb), ow = cnn_out_dim(iw, kw, stride, pl, pr);
    ConvLayerSpec c;
    c.name = layer;
    c.cout = cout, c.cin_g = cin_g, c.kh = kh, c.kw = kw, c.groups = groups;
    c.input_nonneg = nonneg_[size_t(in)];
    const std::vector<float> w = sd_.read(wname, ws);
    std::vector<float> scale(size_t(cout), 1.f);
    c.bias.assign(size_t(cout), 0.f);
    if (!bn.empty()) {  // y = gamma (conv - mean) / sqrt(var + eps) + beta
      const auto g = sd_.read(bn + ".weight", {cout}), b = sd_.read(bn + ".bias", {cout});
      const auto m = sd_.read(bn + ".running_mean", {cout}), v = sd_.read(bn + ".running_var", {cout});
      for (int64_t o = 0; o < cout; ++o) {
        RMSMP_CHECK(v[size_t(o)] >= 0.f, ErrorCode::InvalidFile, sd_.path() << ": " << bn << ".running_var < 0");
        scale[size_t(o)] = float(double(g[size_t(o)]) / std::sqrt(double(v[size_t(o)]) + double(eps_)));
        c.bias[size_t(o)] = float(double(b[size_t(o)]) - double(m[size_t(o)]) * double(scale[size_t(o)]));
      }
    } else {
      const std::string bname = wname.substr(0, wname.size() - 6) + "bias";  // "X.weight" -> "X.bias"
      if (sd_.has(bname)) c.bias = sd_.read(bname, {cout});
    }
    c.w.resize(size_t(cout * kh * kw * cin_g));  // [o][ci][ky][kx] -> [o][ky][kx][ci]
    for (int64_t o = 0; o < cout; ++o)
      for (int64_t ci = 0; ci < cin_g; ++ci)
        for (int64_t y = 0; y < kh; ++y)
          for (int64_t x = 0; x < kw; ++x)
            c.w[size_t(((o * kh + y) * kw + x) * cin_g + ci)] = w[size_t(((o * cin_g + ci) * kh + y) * kw + x)] * scale[size_t(o)];
    spec_.convs.push_back(std::move(c));
    const int out = add_value(layer, oh, ow, cout, act != "none");
    CnnNode n;
    n.op = CnnNode::Op::Conv;
    n.layer = int(spec_.convs.size()) - 1;
    n.in = in, n.out = out, n.residual = residual;
    n.kh = kh, n.kw = kw, n.sh = n.sw = stride;
    n.pt = pt, n.pl = pl, n.pb = pb, n.pr = pr;
    n.groups = groups;
    RMSMP_CHECK(act == "none" || act == "relu" || act == "relu6", ErrorCode::Internal, "activation " << act);
    n.act = act == "relu" ? CnnAct::Relu : act == "relu6" ? CnnAct::Relu6 : CnnAct::None;
    spec_.nodes.push_back(n);
    return out;
  }

  int maxpool(int in, int64_t k, int64_t s, int64_t p) {
    const CnnValue& vi = spec_.values[size_t(in)];
    const int out = add_value("maxpool", cnn_out_dim(vi.h, k, s, p, p), cnn_out_dim(vi.w, k, s, p, p), vi.c,
                              nonneg_[size_t(in)]);
    CnnNode n;
    n.op = CnnNode::Op::MaxPool;
    n.in = in, n.out = out;
    n.kh = n.kw = k, n.sh = n.sw = s;
    n.pt = n.pl = n.pb = n.pr = p;
    spec_.nodes.push_back(n);
    return out;
  }

  int global_avgpool(int in) {
    const int out = add_value("avgpool", 1, 1, spec_.values[size_t(in)].c, nonneg_[size_t(in)]);
    CnnNode n;
    n.op = CnnNode::Op::GlobalAvgPool;
    n.in = in, n.out = out;
    spec_.nodes.push_back(n);
    return out;
  }

 private:
  int add_value(const std::string& name, int64_t h, int64_t w, int64_t c, bool nonneg) {
    spec_.values.push_back(CnnValue{name, h, w, c});
    nonneg_.push_back(nonneg);
    return int(spec_.values.size()) - 1;
  }
  // torchvision: (k - 1) / 2 on both sides. TF SAME: total = max((ceil(in / s) - 1) * s + k - in, 0), the odd
  // pixel at the end.
  static void pads(int64_t in, int64_t k, int64_t s, bool tf_same, int64_t& lo, int64_t& hi) {
    if (!tf_same) {
      lo = hi = (k - 1) / 2;
      return;
    }
    const int64_t out = (in + s - 1) / s, total = std::max<int64_t>((out - 1) * s + k - in, 0);
    lo = total / 2;
    hi = total - lo;
  }
  const StateDict& sd_;
  CnnModelSpec& spec_;
  float eps_;
  std::vector<bool> nonneg_;
};

// ResNet family (torchvision names). Stage/block counts come from the names.
CnnModelSpec build_resnet(const StateDict& sd, const std::string& want) {
  CnnModelSpec spec;
  std::vector<int> blocks;
  for (int s = 1; sd.has("layer" + std::to_string(s) + ".0.conv1.weight"); ++s) {
    int b = 0;
    while (sd.has("layer" + std::to_string(s) + "." + std::to_string(b) + ".conv1.weight")) ++b;
    blocks.push_back(b);
  }
  const bool bottleneck = sd.has("layer1.0.conv3.weight");
  const auto stem = sd.shape("conv1.weight");
  RMSMP_CHECK(stem.size() == 4 && (stem[2] == 7 || stem[2] == 3), ErrorCode::Unsupported,
              sd.path() << ": conv1.weight " << shape_str(stem) << " is not a 7x7 or 3x3 ResNet stem");
  const bool small = stem[2] == 3;
  std::string arch = "resnet-custom";
  if (!small && !bottleneck && blocks == std::vector<int>{2, 2, 2, 2}) arch = "resnet18";
  if (!small && !bottleneck && blocks == std::vector<int>{3, 4, 6, 3}) arch = "resnet34";
  if (!small && bottleneck && blocks == std::vector<int>{3, 4, 6, 3}) arch = "resnet50";
  if (small && !bottleneck && blocks == std::vector<int>{3, 3, 3}) arch = "resnet20";
  RMSMP_CHECK(want.empty() || want == arch, ErrorCode::InvalidArgument,
              sd.path() << ": --arch " << want << " does not fit the checkpoint (its names and shapes are a "
                        << arch << ")");
  RMSMP_CHECK(arch != "resnet-custom", ErrorCode::Unsupported,
              sd.path() << ": a ResNet with an unknown block layout; supported: resnet18, resnet34, resnet50, resnet20");
  spec.arch = arch;
  CnnPreprocess& pre = spec.pre;
  pre.channels = stem[1];
  if (small) {  // converters/train/fmnist_resnet20.py: Fashion-MNIST 28x28 gray, normalised by its pixel statistics
    pre.height = pre.width = 28;
    pre.resize = pre.crop = 0;
    pre.mean.assign(size_t(pre.channels), 0.2860f);
    pre.std.assign(size_t(pre.channels), 0.3530f);
    pre.note = "Fashion-MNIST training-set statistics, as converters/train/fmnist_resnet20.py";
  } else {
    pre.note = "torchvision ImageNet eval transform (Resize 256, CenterCrop 224, ImageNet mean/std)";
  }
  Builder b(sd, spec, 1e-5f);
  int x = b.input(pre.channels, pre.height, pre.width);
  x = b.conv(x, "conv1", "conv1.weight", "bn1", small ? 1 : 2, false, 1, "relu");
  if (!small) x = b.maxpool(x, 3, 2, 1);
  for (size_t s = 0; s < blocks.size(); ++s)
    for (int k = 0; k < blocks[s]; ++k) {
      const std::string p = "layer" + std::to_string(s + 1) + "." + std::to_string(k) + ".";
      const int64_t stride = (s > 0 && k == 0) ? 2 : 1;
      int shortcut = x;
      if (sd.has(p + "downsample.0.weight"))
        shortcut = b.conv(x, p + "downsample", p + "downsample.0.weight", p + "downsample.1", stride, false, 1, "none");
      else
        RMSMP_CHECK(stride == 1, ErrorCode::InvalidFile, sd.path() << ": " << p << " changes shape but has no downsample");
      if (bottleneck) {
        int y = b.conv(x, p + "conv1", p + "conv1.weight", p + "bn1", 1, false, 1, "relu");
        y = b.conv(y, p + "conv2", p + "conv2.weight", p + "bn2", stride, false, 1, "relu");
        x = b.conv(y, p + "conv3", p + "conv3.weight", p + "bn3", 1, false, 1, "relu", shortcut);
      } else {
        int y = b.conv(x, p + "conv1", p + "conv1.weight", p + "bn1", stride, false, 1, "relu");
        x = b.conv(y, p + "conv2", p + "conv2.weight", p + "bn2", 1, false, 1, "relu", shortcut);
      }
    }
  x = b.global_avgpool(x);
  spec.output = b.conv(x, "fc", "fc.weight", "", 1, false, 1, "none");
  spec.num_classes = sd.shape("fc.weight")[0];
  spec.notes.push_back("BatchNorm folded into the preceding conv (eps 1e-5)");
  if (!sd.prefix().empty()) spec.notes.push_back("tensor names read under the prefix '" + sd.prefix() + "'");
  return spec;
}

CnnModelSpec build_efficientnet_lite0(const StateDict& sd) {
  CnnModelSpec spec;
  spec.arch = "efficientnet-lite0";
  CnnPreprocess& pre = spec.pre;
  pre.mean.assign(3, 127.f / 255.f);  // TF EfficientNet-Lite: (p - 127) / 128
  pre.std.assign(3, 128.f / 255.f);
  pre.note = "EfficientNet-Lite's (p - 127) / 128 after Resize 256, CenterCrop 224";
  // (repeats, kernel, stride, expand, in, out) per stage, EfficientNet-Lite0 (width and depth 1.0).
  struct Stage { int r, k, s, e, cin, cout; };
  const Stage stages[] = {{1, 3, 1, 1, 32, 16}, {2, 3, 2, 6, 16, 24}, {2, 5, 2, 6, 24, 40}, {3, 3, 2, 6, 40, 80},
                          {3, 5, 1, 6, 80, 112}, {4, 5, 2, 6, 112, 192}, {1, 3, 1, 6, 192, 320}};
  Builder b(sd, spec, 1e-3f);
  int x = b.input(3, 224, 224);
  x = b.conv(x, "stem", "_conv_stem.weight", "_bn0", 2, true, 1, "relu6");
  int bi = 0;
  for (const Stage& st : stages)
    for (int j = 0; j < st.r; ++j, ++bi) {
      const std::string p = "_blocks." + std::to_string(bi) + ".", L = "blocks." + std::to_string(bi) + ".";
      const int64_t stride = j == 0 ? st.s : 1, cin = j == 0 ? st.cin : st.cout;
      const int in = x;
      int y = x;
      if (st.e != 1) y = b.conv(y, L + "expand", p + "_expand_conv.weight", p + "_bn0", 1, true, 1, "relu6");
      const int64_t ch = spec.values[size_t(y)].c;
      const auto dws = sd.shape(p + "_depthwise_conv.weight");
      RMSMP_CHECK(dws.size() == 4 && dws[2] == st.k, ErrorCode::InvalidFile,
                  sd.path() << ": " << p << "_depthwise_conv.weight " << shape_str(dws) << " is not EfficientNet-Lite0's "
                            << st.k << "x" << st.k << " depthwise conv");
      y = b.conv(y, L + "depthwise", p + "_depthwise_conv.weight", p + "_bn1", stride, true, ch, "relu6");
      const bool skip = stride == 1 && cin == st.cout;
      x = b.conv(y, L + "project", p + "_project_conv.weight", p + "_bn2", 1, true, 1, "none", skip ? in : -1);
    }
  RMSMP_CHECK(!sd.has("_blocks." + std::to_string(bi) + "._depthwise_conv.weight"), ErrorCode::InvalidFile,
              sd.path() << ": more than " << bi << " blocks: not EfficientNet-Lite0");
  x = b.conv(x, "head", "_conv_head.weight", "_bn1", 1, true, 1, "relu6");
  x = b.global_avgpool(x);
  spec.output = b.conv(x, "fc", "_fc.weight", "", 1, true, 1, "none");
  spec.num_classes = sd.shape("_fc.weight")[0];
  spec.notes.push_back("BatchNorm folded into the preceding conv (eps 1e-3); TF SAME padding");
  if (!sd.prefix().empty()) spec.notes.push_back("tensor names read under the prefix '" + sd.prefix() + "'");
  return spec;
}

}  // namespace

std::unique_ptr<StateDict> StateDict::open(const std::string& path) {
  const bool st = path.size() >= 12 && path.compare(path.size() - 12, 12, ".safetensors") == 0;
  std::unique_ptr<StateDict> sd;
  if (st) sd = std::make_unique<SafetensorsStateDict>(path);
  else sd = std::make_unique<PthStateDict>(path);
  for (const char* p : {"", "module.", "state_dict.", "state_dict.module.", "model.", "model.module.",
                        "model_state_dict.", "model_state_dict.module."})
    if (sd->raw_has(std::string(p) + "conv1.weight") || sd->raw_has(std::string(p) + "_conv_stem.weight")) {
      sd->prefix_ = p;
      break;
    }
  return sd;
}

std::vector<int64_t> StateDict::shape(const std::string& name) const {
  RMSMP_CHECK(has(name), ErrorCode::InvalidFile, path() << ": no tensor '" << prefix_ + name << "'");
  return raw_shape(prefix_ + name);
}

std::vector<float> StateDict::read(const std::string& name, const std::vector<int64_t>& expect) const {
  const auto s = shape(name);
  RMSMP_CHECK(s == expect, ErrorCode::InvalidFile,
              path() << ": tensor " << name << " has shape " << shape_str(s) << ", expected " << shape_str(expect));
  return read(name);
}

const std::vector<std::string>& cnn_arch_names() {
  static const std::vector<std::string> k = {"resnet18", "resnet34", "resnet50", "resnet20", "efficientnet-lite0"};
  return k;
}

CnnModelSpec build_cnn(const StateDict& sd, const std::string& arch) {
  if (!arch.empty()) {
    bool known = false;
    for (const auto& n : cnn_arch_names()) known |= n == arch;
    RMSMP_CHECK(known, ErrorCode::InvalidArgument,
                "unknown --arch '" << arch << "' (known: resnet18, resnet34, resnet50, resnet20, efficientnet-lite0)");
  }
  if (arch == "efficientnet-lite0" || (arch.empty() && sd.has("_conv_stem.weight"))) {
    RMSMP_CHECK(sd.has("_conv_stem.weight"), ErrorCode::InvalidArgument,
                sd.path() << ": --arch efficientnet-lite0 needs _conv_stem.weight (lukemelas-style names)");
    return build_efficientnet_lite0(sd);
  }
  RMSMP_CHECK(sd.has("conv1.weight") && sd.has("fc.weight"), ErrorCode::Unsupported,
              sd.path() << ": cannot infer the architecture (no conv1/fc or _conv_stem tensors); known: "
                           "torchvision ResNets and EfficientNet-Lite0 state dicts");
  return build_resnet(sd, arch);
}

nlohmann::json CnnModelSpec::to_json(const std::vector<std::string>& labels) const {
  CnnSchema s;
  s.name = arch;
  s.num_classes = num_classes;
  s.labels = labels;
  s.input.channels = pre.channels, s.input.height = pre.height, s.input.width = pre.width;
  s.input.resize = pre.resize, s.input.crop = pre.crop, s.input.mean = pre.mean, s.input.std = pre.std;
  s.input_note = pre.note;
  s.values = values;
  s.nodes = nodes;
  for (const ConvLayerSpec& c : convs) s.layer_names.push_back(c.name);
  s.output = output;
  return cnn_schema_to_json(s);
}

}  // namespace rmsmp

// CNN path end to end: rmsmp-convert on the real EfficientNet-Lite0 .pth and the committed Fashion-MNIST
// ResNet-20, the engine's logits against PyTorch (tests/data/vision/goldens.json, made by
// converters/goldens/make_vision_goldens.py), every CPU ISA bit-identical to the reference backend on quantized
// models (depthwise, all three schemes, unsigned 4-bit activations), and the grouped-conv kernel against a
// direct convolution.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>

#include <nlohmann/json.hpp>

#include "backends/backend.h"
#include "backends/cpu/isa.h"
#include "io/model_format.h"
#include "models/cnn.h"
#include "models/cnn_ops.h"
#include "models/cnn_schema.h"
#include "pth_reader.h"
#include "rmsmp/devices.h"
#include "rmsmp/error.h"
#include "rmsmp/model.h"
#include "rmsmp/vision.h"
#include "safetensors.h"
#include "util/test_env.h"
#include "vision_io/dataset.h"
#include "vision_io/image.h"

namespace rmsmp {
namespace {

const nlohmann::json& golden() {
  static const nlohmann::json g = [] {
    std::ifstream f(test::data_dir() + "/vision/goldens.json");
    return nlohmann::json::parse(f);
  }();
  return g;
}

std::string photo(const std::string& name) { return test::data_dir() + "/../../data/images/" + name; }

std::string effnet(const std::string& key, const std::vector<std::string>& args) {
  std::vector<std::string> a = args;
  a.push_back("--labels " + test::data_dir() + "/../../data/images/imagenet_classes.txt");
  return test::converted_model("effnet-" + key, test::effnet_pth(), a);
}

std::string fmnist(const std::string& key, const std::vector<std::string>& args) {
  return test::converted_model("fmnist-" + key, test::fmnist_pth(), args);
}

std::vector<int64_t> top5(const std::vector<float>& l) {
  std::vector<int64_t> idx(l.size());
  for (size_t i = 0; i < l.size(); ++i) idx[i] = int64_t(i);
  std::partial_sort(idx.begin(), idx.begin() + 5, idx.end(), [&](int64_t a, int64_t b) { return l[size_t(a)] > l[size_t(b)]; });
  idx.resize(5);
  return idx;
}

// max |a - b| relative to the golden's largest |logit|.
double rel_err(const std::vector<float>& a, const nlohmann::json& g) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num = std::max(num, std::fabs(double(a[i]) - g[i].get<double>()));
    den = std::max(den, std::fabs(g[i].get<double>()));
  }
  return num / den;
}

TEST(CnnEffNet, Fp32LogitsMatchPyTorchOnThePhotos) {
  for (const char* be : {"cpu", "reference"}) {
    LoadOptions lo;
    lo.backend = be;
    auto m = VisionModel::load(effnet("fp32", {"--scheme fp32"}), lo);
    EXPECT_EQ(m->info().name, "efficientnet-lite0");
    EXPECT_EQ(m->info().num_classes, 1000);
    EXPECT_EQ(m->info().labels.at(967), "espresso");
    for (const char* name : {"chelsea.png", "coffee.png"}) {
      const auto x = vision::model_input(m->info(), vision::load_image(photo(name)));
      const auto l = m->logits(x.data(), int64_t(x.size()));
      ASSERT_EQ(l.size(), 1000u);
      const auto& g = golden()["effnet"][name];
      EXPECT_LT(rel_err(l, g["logits"]), 1e-3) << be << " " << name;
      EXPECT_EQ(nlohmann::json(top5(l)), g["top5"]) << be << " " << name;
    }
  }
}

// Both ImageNet layouts through rmsmp-run imagenet: a flat folder with a label file (data/images/labels.tsv:
// tabby 281, espresso 967), and class subfolders named after the model's class names.
TEST(CnnEffNet, ImagenetCommandReadsBothLayouts) {
  const std::string m = effnet("fp32", {"--scheme fp32"});
  const auto& g = golden()["effnet"];
  auto expect = [&](int64_t label, const char* name, bool top5) {
    const auto& t = g[name]["top5"];
    if (!top5) return t[0].get<int64_t>() == label ? 1 : 0;
    for (const auto& v : t) if (v.get<int64_t>() == label) return 1;
    return 0;
  };
  std::string out;
  const std::string images = test::data_dir() + "/../../data/images";
  ASSERT_EQ(test::run_cmd(test::bin_dir() + "/rmsmp-run imagenet --model " + m + " --data " + images + " --labels " +
                              images + "/labels.tsv", &out), 0) << out;
  auto j = nlohmann::json::parse(out.substr(out.rfind("\n{") + 1));
  EXPECT_EQ(j["n"], 2);
  EXPECT_DOUBLE_EQ(j["top1"].get<double>(), 50.0 * (expect(281, "chelsea.png", false) + expect(967, "coffee.png", false)));
  EXPECT_DOUBLE_EQ(j["top5"].get<double>(), 50.0 * (expect(281, "chelsea.png", true) + expect(967, "coffee.png", true)));
  const std::string d = test::temp_dir() + "/imagenet_layout";
  std::filesystem::create_directories(d + "/tiger cat");
  std::filesystem::create_directories(d + "/espresso");
  std::filesystem::copy_file(images + "/chelsea.png", d + "/tiger cat/chelsea.png",
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(images + "/coffee.png", d + "/espresso/coffee.png",
                             std::filesystem::copy_options::overwrite_existing);
  ASSERT_EQ(test::run_cmd(test::bin_dir() + "/rmsmp-run imagenet --model " + m + " --data '" + d + "'", &out), 0) << out;
  j = nlohmann::json::parse(out.substr(out.rfind("\n{") + 1));
  EXPECT_DOUBLE_EQ(j["top1"].get<double>(), 50.0 * (expect(282, "chelsea.png", false) + expect(967, "coffee.png", false)));
  EXPECT_GT(j["images_per_second"].get<double>(), 0.0);
  // classify --json: integer class indices, the golden's top-5 order.
  ASSERT_EQ(test::run_cmd(test::bin_dir() + "/rmsmp-run classify --json --model " + m + " " + images + "/coffee.png", &out), 0);
  j = nlohmann::json::parse(out);
  EXPECT_EQ(j["classes"], g["coffee.png"]["top5"]);
  EXPECT_EQ(j["names"][0], "espresso");
}

bool any_of(const std::vector<int64_t>& v, std::initializer_list<int64_t> want) {
  for (int64_t x : v)
    for (int64_t w : want)
      if (x == w) return true;
  return false;
}

TEST(CnnEffNet, RmsmpModelKeepsTheRightClassesInTheTop5) {
  auto m = VisionModel::load(effnet("rmsmp", {"--calib-images", test::calib_images_dir()}));
  EXPECT_EQ(m->info().scheme, "rmsmp");
  EXPECT_LT(m->info().avg_weight_bits, 5.5);  // 4.2 in the convs; the pinned 8-bit classifier is 28% of weights
  const auto xc = vision::model_input(m->info(), vision::load_image(photo("chelsea.png")));
  const auto xe = vision::model_input(m->info(), vision::load_image(photo("coffee.png")));
  EXPECT_TRUE(any_of(top5(m->logits(xc.data(), int64_t(xc.size()))), {281, 282, 283, 284, 285}));
  EXPECT_TRUE(any_of(top5(m->logits(xe.data(), int64_t(xe.size()))), {967, 968}));
}

// Every CPU ISA this machine has must give exactly the reference backend's logits.
void expect_isas_match_reference(const std::string& path, const std::vector<float>& x) {
  LoadOptions ref;
  ref.backend = "reference";
  const auto want = VisionModel::load(path, ref)->logits(x.data(), int64_t(x.size()));
  for (const std::string isa : {"generic", "avx2", "avx512"}) {
    LoadOptions lo;
    lo.backend = "cpu:" + isa;
    std::shared_ptr<const VisionModel> m;
    try {
      m = VisionModel::load(path, lo);
    } catch (const Error& e) {
      ASSERT_EQ(e.code(), ErrorCode::Unsupported) << e.what();
      continue;  // this CPU lacks the ISA
    }
    const auto got = m->logits(x.data(), int64_t(x.size()));
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], want[i]) << path << " cpu:" << isa << " logit " << i;
  }
}

TEST(CnnEffNet, EveryCpuIsaIsBitIdenticalToReference) {
  const std::string p = effnet("rmsmp", {"--calib-images", test::calib_images_dir()});
  auto m = VisionModel::load(p);
  expect_isas_match_reference(p, vision::model_input(m->info(), vision::load_image(photo("coffee.png"))));
}

// --act-range static: one clip per layer, so producers hand their outputs over as int8 (cnn.cc) and their
// readers skip the quantization pass. The handoff only moves work: the logits equal those of a forward pass
// without it (a calibration hook turns it off) bit for bit, on the fused CPU paths and on the reference
// backend's generic ones, and every ISA equals the reference. Static is the default when the conversion
// calibrates; --act-range dynamic hands nothing over.
TEST(CnnEffNet, StaticActivationRangesHandInt8OverWithTheSameLogits) {
  const std::string p = effnet("rmsmp", {"--calib-images", test::calib_images_dir()});
  auto m = VisionModel::load(p);
  EXPECT_NE(m->header_json().find("static per-layer int8"), std::string::npos);
  const auto x = vision::model_input(m->info(), vision::load_image(photo("coffee.png")));
  expect_isas_match_reference(p, x);
  const auto file = ModelFile::open(p);
  for (const std::string be_name : {"cpu", "reference"}) {
    CnnGraph g = cnn_bind(*file);
    const auto be = make_backend(be_name);
    cnn_prepare(g, *be, *file);
    EXPECT_GE(cnn_int8_handoffs(g), 30) << "every MBConv block's expansion and depthwise outputs";
    const CnnLayerHook none = [](int, const float*, int64_t) {};
    const std::vector<float> handed = cnn_forward(g, *be, x.data()), plain = cnn_forward(g, *be, x.data(), &none);
    ASSERT_EQ(handed.size(), plain.size());
    for (size_t i = 0; i < handed.size(); ++i) ASSERT_EQ(handed[i], plain[i]) << be_name << " logit " << i;
  }
  const auto dyn = ModelFile::open(effnet("rmsmp-dynamic", {"--calib-images", test::calib_images_dir(), "--act-range dynamic"}));
  EXPECT_EQ(cnn_int8_handoffs(cnn_bind(*dyn)), 0);
}

std::vector<float> fmnist_image(const VisionInfo& info, int64_t i) {
  static const vision::IdxImages im = vision::read_idx_images(test::fmnist_dir() + "/t10k-images-idx3-ubyte.gz");
  return vision::model_input_gray(info, im.pixels.data() + i * im.h * im.w, im.h, im.w);
}

TEST(CnnFmnist, Fp32MatchesPyTorch) {
  auto m = VisionModel::load(fmnist("fp32", {"--scheme fp32"}));
  EXPECT_EQ(m->info().name, "resnet20");
  const auto& g = golden()["fmnist"];
  for (int64_t i = 0; i < 8; ++i) {
    const auto x = fmnist_image(m->info(), i);
    EXPECT_LT(rel_err(m->logits(x.data(), int64_t(x.size())), g["logits_first8"][size_t(i)]), 1e-4) << i;
  }
  int64_t same = 0, n = 200;
  for (int64_t i = 0; i < n; ++i) {
    const auto x = fmnist_image(m->info(), i);
    const auto l = m->logits(x.data(), int64_t(x.size()));
    same += int64_t(std::max_element(l.begin(), l.end()) - l.begin()) == g["pred"][size_t(i)].get<int64_t>();
  }
  EXPECT_GE(same, n - 1) << "predictions differing from PyTorch's";
}

// The same weights as .safetensors under a DataParallel "module." prefix convert to the same model: identical
// logits, and the provenance says which prefix was read.
TEST(CnnFmnist, SafetensorsWithModulePrefixConvertsIdentically) {
  PthFile pth(test::fmnist_pth());
  F32TensorMap t;
  for (const auto& n : pth.names()) t["module." + n] = {pth.tensor(n).shape, pth.read_f32(n)};
  const std::string st = test::temp_dir() + "/resnet20_module.safetensors";
  write_safetensors_f32(st, t);
  auto a = VisionModel::load(fmnist("fp32", {"--scheme fp32"}));
  auto b = VisionModel::load(test::converted_model("fmnist-st-module", st, {"--scheme fp32"}));
  EXPECT_NE(b->header_json().find("prefix 'module.'"), std::string::npos);
  const auto x = fmnist_image(a->info(), 5);
  EXPECT_EQ(a->logits(x.data(), int64_t(x.size())), b->logits(x.data(), int64_t(x.size())));
}

TEST(CnnFmnist, EveryCpuIsaIsBitIdenticalToReferenceAt8And4BitActivations) {
  const std::string idx = test::fmnist_dir() + "/train-images-idx3-ubyte.gz";
  for (const std::string bits : {"8", "4"}) {
    const std::string p = fmnist("rmsmp-a" + bits, {"--calib-images", idx, "--calib-n 32", "--act-bits", bits});
    auto m = VisionModel::load(p);
    EXPECT_EQ(m->info().act_bits, std::stoi(bits));
    for (int64_t i : {0, 1}) expect_isas_match_reference(p, fmnist_image(m->info(), i));
  }
}

// The OpenCL backend (PoCL in CI) runs the same graph: its GEMM kernels take the unsigned 4-bit grid too.
TEST(CnnFmnist, OpenClIsBitIdenticalToReference) {
  if (!opencl_built()) GTEST_SKIP() << "this build has no OpenCL (RMSMP_WITH_OPENCL=OFF)";
  const std::string p = fmnist("rmsmp-a4", {"--calib-images", test::fmnist_dir() + "/train-images-idx3-ubyte.gz",
                                            "--calib-n 32", "--act-bits", "4"});
  LoadOptions ref, ocl;
  ref.backend = "reference";
  ocl.backend = "opencl";
  auto r = VisionModel::load(p, ref);
  auto o = VisionModel::load(p, ocl);
  const auto x = fmnist_image(r->info(), 3);
  const auto want = r->logits(x.data(), int64_t(x.size())), got = o->logits(x.data(), int64_t(x.size()));
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], want[i]) << i;
}

// The graph's header object has one reader and one writer (models/cnn_schema.h): what the converter wrote reads
// back into the same structs and writes out as the same JSON, and the reader's checks catch a broken graph.
TEST(CnnFmnist, GraphSchemaReadsBackWhatTheConverterWrote) {
  const auto f = ModelFile::open(fmnist("fp32", {"--scheme fp32"}));
  const nlohmann::json& a = f->header()["architecture"];
  const CnnSchema s = cnn_schema_from_json(a, "resnet20");
  EXPECT_EQ(s.name, "resnet20");
  EXPECT_EQ(s.layer_names.size(), f->header()["linears"].size());
  EXPECT_EQ(cnn_schema_to_json(s), a);
  nlohmann::json bad = a;
  bad["nodes"][3]["in"] = 1000;
  try {
    cnn_schema_from_json(bad, "resnet20");
    FAIL() << "an undefined input must be refused";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("node 3"), std::string::npos) << e.what();
  }
}

TEST(CnnFmnist, MnistCommandReportsTop1) {
  const std::string p = fmnist("fp32", {"--scheme fp32"});
  std::string out;
  ASSERT_EQ(test::run_cmd(test::bin_dir() + "/rmsmp-run mnist --model " + p + " --data " + test::fmnist_dir() +
                              " --limit 200", &out), 0) << out;
  const auto j = nlohmann::json::parse(out.substr(out.find('{')));
  EXPECT_EQ(j["n"], 200);
  int64_t correct = 0;
  const auto lab = vision::read_idx_labels(test::fmnist_dir() + "/t10k-labels-idx1-ubyte.gz");
  for (int64_t i = 0; i < 200; ++i) correct += golden()["fmnist"]["pred"][size_t(i)].get<int64_t>() == lab[size_t(i)];
  EXPECT_NEAR(j["top1"].get<double>(), 100.0 * double(correct) / 200.0, 0.51);  // PyTorch's, +-1 image
}

// Grouped conv (groups 2, 3x3, stride 2, asymmetric padding) against a direct float convolution, fp32 and int.
TEST(CnnOps, GroupedConvMatchesDirectConvolution) {
  std::mt19937 rng(7);
  std::normal_distribution<float> nd;
  const CnnValue in{"x", 7, 6, 4}, out{"y", 4, 3, 6};
  CnnNode n;
  n.kh = n.kw = 3, n.sh = n.sw = 2, n.pt = 1, n.pl = 1, n.pb = 1, n.pr = 0, n.groups = 2;
  ASSERT_EQ(cnn_out_dim(in.h, 3, 2, 1, 1), out.h);
  ASSERT_EQ(cnn_out_dim(in.w, 3, 2, 1, 0), out.w);
  const int64_t cin_g = 2, cout_g = 3, K = 9 * cin_g;
  std::vector<float> x(size_t(in.size())), w(size_t(out.c * K)), bias(size_t(out.c));
  for (auto& v : x) v = nd(rng);
  for (auto& v : w) v = nd(rng);
  for (auto& v : bias) v = nd(rng);
  RowMixedLinear L;
  L.rows = out.c, L.cols = K, L.bias = bias.data();
  // Direct: y[p][co] = sum over (ky, kx, ci) of x * w, with w in (ky, kx, ci) order.
  auto direct = [&](const std::vector<float>& xs, const std::vector<float>& ws) {
    std::vector<double> y(size_t(out.size()));
    for (int64_t oy = 0; oy < out.h; ++oy)
      for (int64_t ox = 0; ox < out.w; ++ox)
        for (int64_t co = 0; co < out.c; ++co) {
          double s = 0;
          const int64_t g = co / cout_g;
          for (int64_t ky = 0; ky < 3; ++ky)
            for (int64_t kx = 0; kx < 3; ++kx) {
              const int64_t iy = oy * 2 - 1 + ky, ix = ox * 2 - 1 + kx;
              if (iy < 0 || iy >= in.h || ix < 0 || ix >= in.w) continue;
              for (int64_t ci = 0; ci < cin_g; ++ci)
                s += double(xs[size_t((iy * in.w + ix) * in.c + g * cin_g + ci)]) *
                     double(ws[size_t(co * K + (ky * 3 + kx) * cin_g + ci)]);
            }
          y[size_t((oy * out.w + ox) * out.c + co)] = s;
        }
    return y;
  };
  CnnGraph::Unpacked uf;
  uf.integer = false;
  uf.f = w;
  std::vector<float> y(size_t(out.size()));
  ActQuant none;
  const auto ref = make_backend("reference");
  cnn_conv_grouped(*ref, uf, L, none, x.data(), in, n, out, LinearPost{}, y.data());
  const auto want = direct(x, w);
  for (size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(y[i], want[i] + bias[i % size_t(out.c)], 1e-4) << i;
  // Integer: int8 weights with per-row steps, input quantized with a static clip.
  CnnGraph::Unpacked ui;
  ui.q.resize(w.size());
  ui.step.resize(size_t(out.c));
  std::vector<float> wdq(w.size());
  for (int64_t co = 0; co < out.c; ++co) {
    ui.step[size_t(co)] = 0.02f * float(co + 1);
    for (int64_t k = 0; k < K; ++k) {
      const int q = std::clamp(int(std::lround(w[size_t(co * K + k)] / ui.step[size_t(co)])), -127, 127);
      ui.q[size_t(co * K + k)] = int8_t(q);
      wdq[size_t(co * K + k)] = float(q);
    }
  }
  ActQuant aq;
  aq.dynamic = false;
  aq.clip = 2.5f;
  std::vector<int8_t> xq(x.size());
  const float xs = act_quantize_row(x.data(), int64_t(x.size()), aq, xq.data());
  std::vector<float> xqf(xq.begin(), xq.end());
  cnn_conv_grouped(*ref, ui, L, aq, x.data(), in, n, out, LinearPost{}, y.data());
  const auto acc = direct(xqf, wdq);  // exact integers
  for (size_t i = 0; i < y.size(); ++i) {
    const size_t co = i % size_t(out.c);
    EXPECT_EQ(y[i], rowq_epilogue(int32_t(acc[i]), xs, ui.step[co], bias[co])) << i;
  }
}

// Depthwise (groups = channels): the vectorised tap-major kernel and the backends' prepared kernels (AVX-512
// VNNI's int16 tap pairs, whose rows run with the epilogue fused), with a residual and ReLU6 fused (then the
// other post ops), against direct loops. 40 channels: one 32-channel
// block and a tail; 9 taps: an odd pair; stride 2 with asymmetric padding hits every border.
TEST(CnnOps, DepthwiseConvMatchesDirectConvolution) {
  std::mt19937 rng(11);
  std::normal_distribution<float> nd;
  const int64_t C = 40;
  const CnnValue in{"x", 9, 8, C}, out{"y", 5, 4, C};
  CnnNode n;
  n.kh = n.kw = 3, n.sh = n.sw = 2, n.pt = 1, n.pl = 1, n.pb = 1, n.pr = 0, n.groups = C;
  ASSERT_EQ(cnn_out_dim(in.h, 3, 2, 1, 1), out.h);
  ASSERT_EQ(cnn_out_dim(in.w, 3, 2, 1, 0), out.w);
  std::vector<float> x(size_t(in.size())), w(static_cast<size_t>(C * 9)), bias(static_cast<size_t>(C)), res(static_cast<size_t>(out.size()));
  for (auto& v : x) v = nd(rng);
  for (auto& v : w) v = nd(rng);
  for (auto& v : bias) v = nd(rng);
  for (auto& v : res) v = 3.f * nd(rng);  // some sums pass 6 and some stay below 0
  RowMixedLinear L;
  L.rows = C, L.cols = 9, L.bias = bias.data();
  const LinearPost post{res.data(), LinearPost::Act::Relu6};
  // Direct, in double: acc[p][c] = sum over the window of x * w (w is [c][tap] here).
  auto direct = [&](const std::vector<float>& xs, const std::vector<float>& ws) {
    std::vector<double> y(size_t(out.size()));
    for (int64_t oy = 0; oy < out.h; ++oy)
      for (int64_t ox = 0; ox < out.w; ++ox)
        for (int64_t c = 0; c < C; ++c) {
          double s = 0;
          for (int64_t ky = 0; ky < 3; ++ky)
            for (int64_t kx = 0; kx < 3; ++kx) {
              const int64_t iy = oy * 2 - 1 + ky, ix = ox * 2 - 1 + kx;
              if (iy < 0 || iy >= in.h || ix < 0 || ix >= in.w) continue;
              s += double(xs[size_t((iy * in.w + ix) * C + c)]) * double(ws[size_t(c * 9 + ky * 3 + kx)]);
            }
          y[size_t((oy * out.w + ox) * C + c)] = s;
        }
    return y;
  };
  auto tap_major = [&](auto v) {  // [c][tap] -> [tap][c], as cnn_loader stores depthwise weights
    auto t = v;
    for (int64_t c = 0; c < C; ++c)
      for (int64_t k = 0; k < 9; ++k) t[size_t(k * C + c)] = v[size_t(c * 9 + k)];
    return t;
  };
  const auto ref = make_backend("reference");
  std::vector<float> y(size_t(out.size()));
  CnnGraph::Unpacked uf;
  uf.integer = false;
  uf.tap_major = true;
  uf.f = tap_major(w);
  cnn_conv_grouped(*ref, uf, L, ActQuant{}, x.data(), in, n, out, post, y.data());
  const auto want = direct(x, w);
  for (size_t i = 0; i < y.size(); ++i) {
    const double v = std::clamp(want[i] + bias[i % size_t(C)] + res[i], 0.0, 6.0);
    EXPECT_NEAR(y[i], v, 1e-4) << i;
  }
  CnnGraph::Unpacked ui;
  ui.tap_major = true;
  ui.step.resize(size_t(C));
  std::vector<int8_t> wq(w.size());
  std::vector<float> wdq(w.size());
  for (int64_t c = 0; c < C; ++c) {
    ui.step[size_t(c)] = 0.03f * float(c + 1);
    for (int64_t k = 0; k < 9; ++k) {
      const int q = std::clamp(int(std::lround(w[size_t(c * 9 + k)] / ui.step[size_t(c)])), -127, 127);
      wq[size_t(c * 9 + k)] = int8_t(q);
      wdq[size_t(c * 9 + k)] = float(q);
    }
  }
  ui.q = tap_major(wq);
  ActQuant aq;
  aq.dynamic = false;
  aq.clip = 2.f;
  std::vector<int8_t> xq(x.size());
  const float xs = act_quantize_row(x.data(), int64_t(x.size()), aq, xq.data());
  const std::vector<float> xqf(xq.begin(), xq.end());
  const auto acc = direct(xqf, wdq);  // exact integers
  std::vector<std::string> backends = {"reference", "cpu", "cpu:generic"};
  if (isa_supported(Isa::Avx2)) backends.push_back("cpu:avx2");
  if (isa_supported(Isa::Avx512Vnni)) backends.push_back("cpu:avx512");
  for (const std::string& be : backends) {
    const auto b = make_backend(be);
    CnnGraph::Unpacked up = ui;
    up.prepared = b->prepare_depthwise(up.q.data(), 3, 3, C);
    if (be == "cpu:avx512") {
      EXPECT_TRUE(up.prepared) << "AVX-512 VNNI prepares depthwise layers";
    }
    uint32_t amax = 0;
    LinearPost pm = post;
    pm.abs_max = &amax;
    std::fill(y.begin(), y.end(), -1.f);
    cnn_conv_grouped(*b, up, L, aq, x.data(), in, n, out, pm, y.data());
    float m = 0.f;
    for (size_t i = 0; i < y.size(); ++i) {
      const size_t c = i % size_t(C);
      const float v = post_value(rowq_epilogue(int32_t(acc[i]), xs, ui.step[c], bias[c]), &res[i], post.act);
      EXPECT_EQ(y[i], v) << be << " " << i;
      m = std::max(m, std::fabs(v));
    }
    EXPECT_EQ(float_of_bits(amax), m) << be << ": the reported max |y|";
    // The other post ops (none, ReLU; with and without residual and bias) on the same kernel, and no max.
    for (const LinearPost::Act act : {LinearPost::Act::None, LinearPost::Act::Relu})
      for (const bool with_res : {false, true}) {
        RowMixedLinear Lb = L;
        Lb.bias = with_res ? bias.data() : nullptr;
        const LinearPost pa{with_res ? res.data() : nullptr, act};
        std::fill(y.begin(), y.end(), -1.f);
        cnn_conv_grouped(*b, up, Lb, aq, x.data(), in, n, out, pa, y.data());
        for (size_t i = 0; i < y.size(); ++i) {
          const size_t c = i % size_t(C);
          const float v = post_value(rowq_epilogue(int32_t(acc[i]), xs, ui.step[c], with_res ? bias[c] : 0.f),
                                     with_res ? &res[i] : nullptr, act);
          ASSERT_EQ(y[i], v) << be << " act " << int(act) << (with_res ? " with" : " without") << " residual, " << i;
        }
      }
  }
}

// Every backend's depthwise kernels on int8 input (the handoff: float and int8 outputs together) against the
// reference backend's plain loops, bit for bit: strides 1 and 2, 3x3 and 5x5 windows with asymmetric padding,
// channel counts of half a 64-channel block, one and a half blocks, and more (the AVX-512 row kernel takes
// stride-1 windows of at most 4 rows by input column, the others per pixel; both are covered).
TEST(CnnOps, DepthwiseRowKernelsMatchTheReferenceOnInt8Input) {
  struct Shape {
    int64_t k, s, c, h, w;
  };
  for (const Shape sh : {Shape{3, 1, 32, 9, 11}, Shape{3, 1, 96, 6, 7}, Shape{3, 2, 40, 9, 8}, Shape{5, 1, 72, 7, 6},
                         Shape{5, 2, 136, 9, 9}, Shape{3, 1, 200, 4, 5}}) {
    std::mt19937 rng(uint32_t(sh.k * 1000 + sh.s * 100 + sh.c));
    std::uniform_int_distribution<int> qd(-127, 127);
    std::normal_distribution<float> nd;
    const int64_t C = sh.c, taps = sh.k * sh.k;
    CnnNode n;
    n.kh = n.kw = sh.k, n.sh = n.sw = sh.s, n.groups = C;
    n.pt = n.pl = (sh.k - 1) / 2, n.pb = sh.k / 2, n.pr = sh.k / 2 - (sh.s == 2 ? 1 : 0);  // TF SAME-like
    const CnnValue in{"x", sh.h, sh.w, C};
    const CnnValue out{"y", cnn_out_dim(sh.h, sh.k, sh.s, n.pt, n.pb), cnn_out_dim(sh.w, sh.k, sh.s, n.pl, n.pr), C};
    std::vector<int8_t> xq(size_t(in.size()));
    for (auto& v : xq) v = int8_t(qd(rng));
    CnnGraph::Unpacked u;
    u.tap_major = true;
    u.q.resize(size_t(taps * C));
    for (auto& v : u.q) v = int8_t(qd(rng));
    u.step.resize(size_t(C));
    std::vector<float> bias(static_cast<size_t>(C)), res(static_cast<size_t>(out.size()));
    for (int64_t c = 0; c < C; ++c) u.step[size_t(c)] = 1e-3f * float(1 + c % 7), bias[size_t(c)] = nd(rng);
    for (auto& v : res) v = 2.f * nd(rng);
    RowMixedLinear L;
    L.rows = C, L.cols = taps, L.bias = bias.data();
    const ActQuant act{};  // unused with int8 input
    for (const LinearPost::Act a : {LinearPost::Act::Relu6, LinearPost::Act::Relu, LinearPost::Act::None})
      for (const int mode : {0, 1, 2}) {  // residual; none; none and int8 outputs only (the fused fast paths)
        const bool with_res = mode == 0, q_only = mode == 2;
        auto run = [&](const std::string& name, std::vector<float>& y, std::vector<int8_t>& q) {
          const auto b = make_backend(name);
          CnnGraph::Unpacked ub = u;
          ub.prepared = b->prepare_depthwise(ub.q.data(), sh.k, sh.k, C);
          LinearPost post{with_res ? res.data() : nullptr, a};
          post.q_out = q.data(), post.q_inv = 1.f / 0.05f, post.q_max = 127, post.q_only = q_only;
          cnn_conv_grouped(*b, ub, L, act, nullptr, in, n, out, post, y.data(), xq.data(), 0.02f);
          return ub.prepared != nullptr;
        };
        std::vector<float> want(size_t(out.size())), got(want.size());
        std::vector<int8_t> want_q(want.size()), got_q(want.size());
        run("reference", want, want_q);
        std::vector<std::string> backends = {"cpu:generic"};
        if (isa_supported(Isa::Avx2)) backends.push_back("cpu:avx2");
        if (isa_supported(Isa::Avx512Vnni)) backends.push_back("cpu:avx512");
        for (const std::string& be : backends) {
          std::fill(got.begin(), got.end(), -1.f);
          std::fill(got_q.begin(), got_q.end(), int8_t(99));
          const bool prepared = run(be, got, got_q);
          if (be == "cpu:avx512") {
            EXPECT_TRUE(prepared) << "AVX-512 VNNI prepares depthwise layers";
          }
          const std::string what = be + " k" + std::to_string(sh.k) + " s" + std::to_string(sh.s) + " C" +
                                   std::to_string(C) + " act " + std::to_string(int(a)) + " mode " + std::to_string(mode);
          for (size_t i = 0; i < want.size(); ++i) {
            if (!q_only) {
              ASSERT_EQ(got[i], want[i]) << what << ", output " << i;
            }
            ASSERT_EQ(got_q[i], want_q[i]) << what << ", int8 output " << i;
          }
        }
      }
  }
}

// Max pool (padding never wins) and average pool (window size divides, padding included, as PyTorch's
// defaults) with a 3x3/2 window, padding 1, against direct loops; 3 channels (the scalar tail) and 35 (two
// blocks of 16 channels, then the tail).
TEST(CnnOps, PoolsMatchDirectComputation) {
  for (int64_t C : {3, 35}) {
  SCOPED_TRACE("channels " + std::to_string(C));
  const CnnValue in{"x", 5, 4, C}, out{"y", 3, 2, C};
  CnnNode n;
  n.kh = n.kw = 3, n.sh = n.sw = 2, n.pt = n.pl = n.pb = n.pr = 1;
  std::vector<float> x(size_t(in.size()));
  for (size_t i = 0; i < x.size(); ++i) x[i] = -5.f + float((i * 7) % 11);  // negatives: padding must not be 0
  std::vector<float> ym(size_t(out.size())), ya(size_t(out.size()));
  cnn_maxpool(x.data(), in, n, out, ym.data());
  cnn_avgpool(x.data(), in, n, out, ya.data());
  for (int64_t oy = 0; oy < out.h; ++oy)
    for (int64_t ox = 0; ox < out.w; ++ox)
      for (int64_t c = 0; c < in.c; ++c) {
        float mx = -1e30f, sum = 0.f;
        for (int64_t ky = 0; ky < 3; ++ky)
          for (int64_t kx = 0; kx < 3; ++kx) {
            const int64_t iy = oy * 2 - 1 + ky, ix = ox * 2 - 1 + kx;
            if (iy < 0 || iy >= in.h || ix < 0 || ix >= in.w) continue;
            const float v = x[size_t((iy * in.w + ix) * in.c + c)];
            mx = std::max(mx, v);
            sum += v;
          }
        const size_t o = size_t((oy * out.w + ox) * out.c + c);
        EXPECT_EQ(ym[o], mx) << o;
        EXPECT_FLOAT_EQ(ya[o], sum / 9.f) << o;
      }
  }
}

// The per-tensor max |x| (bit-pattern form) equals the float loop's, NaN ignored, Inf kept, -0 handled; and
// every backend's quantize_activations equals act_quantize_row.
TEST(CnnOps, AbsMaxAndTensorQuantizationMatchTheScalarDefinitions) {
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.f, 3.f);
  std::vector<float> x(1001);
  for (auto& v : x) v = nd(rng);
  auto scalar = [](const std::vector<float>& v) {
    float r = 0.f;
    for (float a : v) r = std::fabs(a) > r ? std::fabs(a) : r;
    return r;
  };
  EXPECT_EQ(cnn_abs_max(x.data(), int64_t(x.size())), scalar(x));
  x[17] = std::nanf("");
  x[400] = -0.f;
  EXPECT_EQ(cnn_abs_max(x.data(), int64_t(x.size())), scalar(x));
  x[999] = -std::numeric_limits<float>::infinity();
  EXPECT_EQ(cnn_abs_max(x.data(), int64_t(x.size())), std::numeric_limits<float>::infinity());
  x[999] = 1.f;
  ActQuant aq;
  aq.dynamic = false, aq.clip = 4.f, aq.bits = 4, aq.nonneg = true;
  std::vector<int8_t> want(x.size()), got(x.size());
  const float ws = act_quantize_row(x.data(), int64_t(x.size()), aq, want.data());
  for (const std::string be : {"reference", "cpu:generic", "cpu:avx2", "cpu:avx512"}) {
    std::unique_ptr<Backend> b;
    try {
      b = make_backend(be);
    } catch (const Error&) {
      continue;  // ISA not on this CPU
    }
    EXPECT_EQ(b->quantize_activations(x.data(), int64_t(x.size()), aq, got.data()), ws) << be;
    EXPECT_EQ(got, want) << be;
  }
  // Tensors large enough for the chunked, multi-threaded paths (abs max and static-clip quantization), with
  // the extremes in different chunks and a length that is no multiple of the chunk or of 8.
  std::vector<float> big(300007);
  for (auto& v : big) v = nd(rng);
  big[5] = std::nanf(""), big[70000] = -0.f, big[299990] = -37.5f, big[150001] = 37.25f;
  EXPECT_EQ(cnn_abs_max(big.data(), int64_t(big.size())), 37.5f);
  EXPECT_EQ(cnn_abs_max(big.data(), int64_t(big.size())), scalar(big));
  std::vector<int8_t> bw(big.size()), bg(big.size());
  aq.bits = 8, aq.nonneg = false, aq.clip = 31.75f;  // step 0.25: exact half-way products below
  const float halves[] = {0.125f, -0.375f, 2.625f, -31.875f, 31.875f, 0.f, -0.f, 32.125f};
  for (size_t i = 0; i < 64; ++i) big[100 + 7 * i] = halves[i % 8];  // in the 16-lane body and the tails
  for (size_t i = 0; i < 8; ++i) big[big.size() - 1 - i] = halves[i];
  const float bs = act_quantize_row(big.data(), int64_t(big.size()), aq, bw.data());
  for (const std::string be : {"cpu:avx2", "cpu:avx512"}) {
    std::unique_ptr<Backend> b;
    try {
      b = make_backend(be);
    } catch (const Error&) {
      continue;
    }
    EXPECT_EQ(b->quantize_activations(big.data(), int64_t(big.size()), aq, bg.data()), bs) << be;
    EXPECT_EQ(bg, bw) << be;
  }
}

TEST(CnnErrors, BadInputsGiveClearErrors) {
  // A BERT-style loader refuses a CNN file and vice versa, naming the file.
  const std::string p = fmnist("fp32", {"--scheme fp32"});
  try {
    Model::load(p);
    FAIL() << "Model::load accepted a CNN";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("VisionModel"), std::string::npos) << e.what();
  }
  auto m = VisionModel::load(p);
  std::vector<float> small(10);
  EXPECT_THROW(m->logits(small.data(), 10), Error);
  // Wrong --arch, a truncated .pth, a missing image: non-zero exit with the file named.
  std::string out;
  EXPECT_NE(test::run_cmd(test::bin_dir() + "/rmsmp-convert --in " + test::fmnist_pth() + " --out " +
                              test::temp_dir() + "/x.rmsmp --scheme fp32 --arch resnet50", &out), 0);
  EXPECT_NE(out.find("does not fit"), std::string::npos) << out;
  const std::string trunc = test::temp_dir() + "/trunc.pth";
  {
    std::ifstream f(test::fmnist_pth(), std::ios::binary);
    std::string all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    std::ofstream(trunc, std::ios::binary) << all.substr(0, all.size() / 2);
  }
  EXPECT_NE(test::run_cmd(test::bin_dir() + "/rmsmp-convert --in " + trunc + " --out " + test::temp_dir() +
                              "/y.rmsmp --scheme fp32", &out), 0);
  EXPECT_NE(out.find("trunc.pth"), std::string::npos) << out;
  EXPECT_FALSE(std::ifstream(test::temp_dir() + "/y.rmsmp").good()) << "no output on failure";
  EXPECT_NE(test::run_cmd(test::bin_dir() + "/rmsmp-run classify --model " + effnet("fp32", {"--scheme fp32"}) +
                              " /nonexistent.png", &out), 0);
  EXPECT_NE(out.find("/nonexistent.png"), std::string::npos) << out;
  // A model without resize/crop refuses images of another size.
  vision::ImageRgb8 img;
  img.width = 30, img.height = 28;
  img.pixels.assign(30 * 28 * 3, 0);
  EXPECT_THROW(vision::model_input(m->info(), img), Error);
}

}  // namespace
}  // namespace rmsmp

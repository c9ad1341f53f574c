// The OpenCL backend beyond linear layers (see linear_backend_test.cc for those): LayerNorm, GELU and
// attention against the reference backend, whole models against transformers' logits and against the
// reference backend, device discovery and selection errors. Runs on the first OpenCL device (PoCL in CI).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "backends/backend.h"
#include "backends/opencl/cl_runtime.h"
#include "convert.h"
#include "rmsmp/context.h"
#include "rmsmp/error.h"
#include "util/test_env.h"

namespace rmsmp {
namespace {

std::vector<float> randn(size_t n, uint64_t seed, float scale = 1.f) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> nd;
  std::vector<float> v(n);
  for (auto& x : v) x = nd(rng) * scale;
  return v;
}

std::string convert(const std::string& dir, const std::string& key, const std::string& scheme) {
  ConvertOptions o;
  o.in_dir = dir;
  o.out_path = test::temp_dir() + "/ocl_" + key + ".rmsmp";
  o.scheme = scheme;
  o.calib_sentences = {"the movie was very good !", "it is not fun , the plot was dull .", "a great play"};
  o.calib_source = "inline";
  convert_checkpoint(o);
  return o.out_path;
}

}  // namespace

TEST(OpenCl, DevicesAreListedInCi) {
  const auto devs = ocl::list_devices();
  ASSERT_FALSE(devs.empty()) << "no OpenCL device: scripts/setup.sh installs PoCL (pocl-opencl-icd)";
  EXPECT_FALSE(devs[0].device_name.empty());
}

// Bit-identical: same operation order, shared exp/erf (core/portable_math.h), no contraction, correctly rounded
// division/sqrt, LayerNorm statistics in double (PoCL has fp64).
TEST(OpenCl, EncoderOpsAreBitIdenticalToReference) {
  ASSERT_TRUE(ocl::list_devices().at(0).fp64);
  auto ref = make_backend("reference"), ocl = make_backend("opencl");
  const int64_t T = 7, H = 48, nh = 4, hd = 12;
  const auto x = randn(size_t(T * H), 1), r = randn(size_t(T * H), 2), g = randn(size_t(H), 3), b = randn(size_t(H), 4);
  for (const float* res : {r.data(), static_cast<const float*>(nullptr)}) {
    std::vector<float> a(x.size()), c(x.size());
    ref->layer_norm(x.data(), res, g.data(), b.data(), 1e-12f, T, H, a.data());
    ocl->layer_norm(x.data(), res, g.data(), b.data(), 1e-12f, T, H, c.data());
    EXPECT_EQ(a, c);
  }
  auto a = randn(4099, 5, 3.f), c = a;
  ref->gelu(a.data(), int64_t(a.size()));
  ocl->gelu(c.data(), int64_t(c.size()));
  EXPECT_EQ(a, c);
  const auto q = randn(size_t(T * H), 6), k = randn(size_t(T * H), 7), v = randn(size_t(T * H), 8);
  std::vector<float> oa(q.size()), oc(q.size());
  ref->attention(q.data(), k.data(), v.data(), T, nh, hd, oa.data());
  ocl->attention(q.data(), k.data(), v.data(), T, nh, hd, oc.data());
  EXPECT_EQ(oa, oc);
  const auto bias = randn(size_t(nh * rel_bias_stride(T)), 9);  // MPNet's relative position bias
  std::vector<float> ba(q.size()), bc(q.size());
  ref->attention(q.data(), k.data(), v.data(), T, nh, hd, ba.data(), bias.data());
  ocl->attention(q.data(), k.data(), v.data(), T, nh, hd, bc.data(), bias.data());
  EXPECT_EQ(ba, bc);
  EXPECT_NE(ba, oa);
}

// fp32 classifier through every op on the device: transformers' logits within 1e-4.
TEST(OpenCl, WholeModelMatchesTransformers) {
  const std::string path = convert(test::data_dir() + "/tiny_classifier", "cls_fp32", "fp32");
  for (const char* be : {"opencl", "opencl-fpga"}) {
    LoadOptions lo;
    lo.backend = be;
    auto m = Model::load(path, lo);
    EXPECT_EQ(m->info().backend.rfind(be, 0), 0u);
    Context ctx(m);
    const auto l = ctx.classify({ctx.tokenize("the movie was good !"), ctx.tokenize("the movie", "it was very bad .")});
    const float want[2][3] = {{-0.944013238f, 0.139396831f, -0.211811155f}, {-0.274744093f, 0.333074749f, -0.057275027f}};
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 3; ++j) EXPECT_NEAR(l[size_t(i)][size_t(j)], want[i][j], 1e-4) << be;
  }
}

// A quantized RMSMP model: OpenCL (both kernel styles) gives the reference backend's embeddings bit for bit.
TEST(OpenCl, RmsmpModelIsBitIdenticalToReference) {
  const std::string path = convert(test::make_tiny_checkpoint("tiny_ocl"), "rmsmp", "rmsmp");
  const std::vector<std::string> texts = {"the movie was good", "not fun !", "a very dull plot , it is bad .", "great"};
  auto embed = [&](const std::string& be) {
    LoadOptions lo;
    lo.backend = be;
    Context ctx(Model::load(path, lo));
    return ctx.embed_texts(texts);
  };
  const auto want = embed("reference");
  for (const char* be : {"opencl", "opencl-fpga"}) {
    const auto got = embed(be);
    EXPECT_EQ(got, want) << be;
  }
}

TEST(OpenCl, BadDeviceNamesSaySo) {
  try {
    make_backend("opencl:9:0");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::NotFound);
    EXPECT_NE(std::string(e.what()).find("platform 9 does not exist"), std::string::npos) << e.what();
  }
  try {
    make_backend("opencl:0:7");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("device 0:7 does not exist"), std::string::npos) << e.what();
  }
  EXPECT_THROW(make_backend("opencl:x"), Error);
}

}  // namespace rmsmp

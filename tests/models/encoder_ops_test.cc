// The cpu backend's vectorised GELU, attention and LayerNorm against the reference backend, bit for bit, on every CPU ISA
// this machine has (the generic path is the reference itself). Bit-identity is what keeps integer models
// identical across backends, so any reordering of the fp32 arithmetic fails here.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "backends/backend.h"
#include "backends/cpu/isa.h"
#include "backends/cpu/isa/encoder_ops.h"
#include "backends/reference/reference_backend.h"

namespace rmsmp {
namespace {

bool same_bits(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  uint32_t x, y;
  std::memcpy(&x, &a, 4);
  std::memcpy(&y, &b, 4);
  return x == y;
}

class EncoderOpsTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    Isa isa;
    ASSERT_TRUE(isa_parse(GetParam().substr(4), &isa));
    if (!isa_supported(isa)) GTEST_SKIP() << "this CPU lacks " << GetParam();
  }
};

TEST_P(EncoderOpsTest, GeluIsBitIdenticalToReference) {
  std::vector<float> xs = {0.f, -0.f, 1.f, -1.f, 1e-30f, -1e-30f, 1e-45f, 3.f, -3.f, 5.f, -5.f, 9.f, -9.f, 12.f,
                           -12.f, 88.f, -88.f, 1e30f, -1e30f, std::numeric_limits<float>::infinity(),
                           -std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN()};
  std::mt19937_64 rng(3);
  std::normal_distribution<float> nd(0.f, 3.f);
  for (int i = 0; i < 100000; ++i) xs.push_back(nd(rng));
  std::vector<float> a = xs, b = xs;
  ReferenceBackend().gelu(a.data(), int64_t(a.size()));
  make_backend(GetParam())->gelu(b.data(), int64_t(b.size()));
  for (size_t i = 0; i < xs.size(); ++i) ASSERT_TRUE(same_bits(a[i], b[i])) << "x = " << xs[i] << ": " << a[i] << " vs " << b[i];
}

TEST_P(EncoderOpsTest, AttentionIsBitIdenticalToReference) {
  auto be = make_backend(GetParam());
  ReferenceBackend ref;
  std::mt19937_64 rng(9);
  std::normal_distribution<float> nd(0.f, 2.f);
  for (int64_t len : {1, 3, 8, 9, 17, 64, 130})
    for (int64_t hd : {8, 12, 20, 32, 64}) {
      const int64_t heads = 3, stride = heads * hd;
      std::vector<float> q(size_t(len * stride)), k(q.size()), v(q.size());
      for (auto* t : {&q, &k, &v})
        for (auto& x : *t) x = nd(rng);
      if (len > 2) q[0] = 40.f, k[size_t(stride)] = 40.f;  // one dominant score: exp underflow in that row
      // With and without a relative position bias (MPNet): distinct values per head and distance.
      std::vector<float> bias(size_t(heads * rel_bias_stride(len)));
      for (auto& x : bias) x = nd(rng);
      for (const float* rb : {static_cast<const float*>(nullptr), static_cast<const float*>(bias.data())}) {
        std::vector<float> a(q.size()), b(q.size());
        ref.attention(q.data(), k.data(), v.data(), len, heads, hd, a.data(), rb);
        be->attention(q.data(), k.data(), v.data(), len, heads, hd, b.data(), rb);
        for (size_t i = 0; i < a.size(); ++i)
          ASSERT_TRUE(same_bits(a[i], b[i])) << "len " << len << " head_dim " << hd << " element " << i
                                             << (rb ? " with bias" : "");
        if (rb) {  // the bias is used: without it the output differs
          std::vector<float> c(q.size());
          ref.attention(q.data(), k.data(), v.data(), len, heads, hd, c.data());
          if (len > 1) {
            ASSERT_NE(a, c);
          }
        }
      }
    }
}

TEST_P(EncoderOpsTest, LayerNormIsBitIdenticalToReference) {
  auto be = make_backend(GetParam());
  ReferenceBackend ref;
  std::mt19937_64 rng(5);
  std::normal_distribution<float> nd(0.f, 2.f);
  for (int64_t T : {1, 7, 8, 9, 17, 40})
    for (int64_t dim : {8, 12, 20, 384}) {
      std::vector<float> x(static_cast<size_t>(T * dim)), r(x.size()), g(static_cast<size_t>(dim)), b(g.size());
      for (auto* t : {&x, &r, &g, &b})
        for (auto& v : *t) v = nd(rng);
      x[0] = -0.f, x[1] = 1e4f;  // a signed zero and a large outlier in the first token
      for (bool with_residual : {false, true}) {
        std::vector<float> a(x.size()), c(x.size());
        ref.layer_norm(x.data(), with_residual ? r.data() : nullptr, g.data(), b.data(), 1e-12f, T, dim, a.data());
        be->layer_norm(x.data(), with_residual ? r.data() : nullptr, g.data(), b.data(), 1e-12f, T, dim, c.data());
        for (size_t i = 0; i < a.size(); ++i)
          ASSERT_TRUE(same_bits(a[i], c[i])) << "T " << T << " dim " << dim << " residual " << with_residual << " at " << i;
        // In place over the residual, as the encoder calls it (y == residual).
        std::vector<float> ry = r;
        be->layer_norm(x.data(), ry.data(), g.data(), b.data(), 1e-12f, T, dim, ry.data());
        ref.layer_norm(x.data(), r.data(), g.data(), b.data(), 1e-12f, T, dim, a.data());
        for (size_t i = 0; i < a.size(); ++i) ASSERT_TRUE(same_bits(a[i], ry[i])) << "in place, T " << T << " dim " << dim;
      }
    }
}

// The AVX2 quantizer (with its uint8 copy) and, where the CPU has it, the AVX-512 one (the VNNI paths').
TEST(EncoderOps, ActivationQuantizationIsBitIdenticalToReference) {
  ASSERT_TRUE(isa_supported(Isa::Avx2)) << "the CI machines have AVX2";
  std::mt19937_64 rng(4);
  std::normal_distribution<float> nd(0.f, 3.f);
  for (int64_t n : {1, 7, 8, 31, 32, 33, 384, 1537}) {
    std::vector<float> x(static_cast<size_t>(n));
    for (auto& v : x) v = nd(rng);
    if (n > 8) x[3] = 0.5f, x[4] = -2.5f, x[5] = std::numeric_limits<float>::quiet_NaN(), x[6] = 1e30f;
    if (n > 32)  // values that land on half steps at clip 2.5 (8 bits: step 2.5 / 127), and infinities
      x[20] = 2.5f / 127.f * 3.5f, x[21] = -2.5f / 127.f * 0.5f, x[22] = -std::numeric_limits<float>::infinity(),
      x[23] = 2.5f / 7.f * 2.5f;
    for (int bits : {8, 4})
      for (bool dynamic : {true, false}) {
        ActQuant a;
        a.bits = bits, a.dynamic = dynamic, a.clip = 2.5f;
        std::vector<int8_t> q0(x.size()), q1(x.size());
        std::vector<uint8_t> u(x.size());
        const float s0 = act_quantize_row(x.data(), n, a, q0.data());
        const float s1 = act_quantize_row_avx2(x.data(), n, a, q1.data(), u.data());
        ASSERT_TRUE(same_bits(s0, s1)) << "n " << n << " bits " << bits;
        for (size_t i = 0; i < x.size(); ++i) {
          ASSERT_EQ(q0[i], q1[i]) << "n " << n << " bits " << bits << " dynamic " << dynamic << " x = " << x[i];
          ASSERT_EQ(int(u[i]), int(q0[i]) + 128);
        }
        if (isa_supported(Isa::Avx512Vnni)) {
          std::vector<int8_t> q2(x.size());
          const float s2 = act_quantize_row_avx512(x.data(), n, a, q2.data());
          ASSERT_TRUE(same_bits(s0, s2)) << "avx512, n " << n << " bits " << bits;
          for (size_t i = 0; i < x.size(); ++i)
            ASSERT_EQ(q0[i], q2[i]) << "avx512, n " << n << " bits " << bits << " dynamic " << dynamic << " x = " << x[i];
        }
      }
  }
}

INSTANTIATE_TEST_SUITE_P(Cpu, EncoderOpsTest, ::testing::Values("cpu:avx2", "cpu:avx512"), [](const auto& info) {
  std::string n = info.param;
  for (char& ch : n)
    if (ch == ':') ch = '_';
  return n;
});

}  // namespace
}  // namespace rmsmp

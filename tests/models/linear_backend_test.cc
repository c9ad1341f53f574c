// Every backend's linear() against the reference backend over a sweep of shapes and every scheme in the
// table: integer groups must be bit-exact, fp32 groups within a relative tolerance. Guard values after the
// output catch overruns. Each fast backend runs unprepared and with its load-time layout (Backend::prepare).
// Awkward shapes: K not a multiple of 64, odd K, one token, one row, a group of one row.
#include <gtest/gtest.h>

#include <cstring>

#include <cmath>
#include <map>
#include <random>

#include <cstdlib>

#include "backends/backend.h"
#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/gemm_s8.h"
#include "backends/cpu/isa.h"
#include "backends/registry.h"
#include "rmsmp/error.h"
#include "quant/row_mixed.h"
#include "synthetic_linear.h"
#include "util/test_env.h"

namespace rmsmp {
namespace {

struct Case {
  int64_t tokens, rows, cols;
};
// {33, 42, 3072}: odd token count (the 2-token register tile's tail), a 32-row panel plus a 10-row one (the
// 4-row tile's tail of 2), and the longest K of BERT-base.
// {300, 70, 200}: enough tokens for the cpu driver's tokens schedule on 2+ threads (token blocks, gathered
// outputs), with a partial block at each thread's end.
// {196, 40, 96}: ResNet-50's 14 x 14 stage, whose token blocks are sized to balance the threads.
const Case kCases[] = {{1, 1, 1},      {1, 3, 7},      {5, 33, 65},     {7, 64, 384},
                       {3, 100, 1537}, {16, 96, 129},  {2, 1536, 384},  {33, 42, 3072}, {300, 70, 200},
                       {196, 40, 96}};

// Layers from the shared builder (benchmarks/cases: the one bench_ops and rmsmp-bench time).
using Packed = cases::SyntheticLinear;

// Rows split over the given kinds (the first group one row when there are several, the rest evenly), permuted;
// weights ~ N(0, 0.1), biases ~ N(0, 1).
Packed pack(const Case& c, const std::vector<QuantKind>& kinds, uint64_t seed, ActQuant act) {
  std::vector<std::pair<QuantKind, int64_t>> groups;
  int64_t off = 0;
  for (size_t g = 0; g < kinds.size(); ++g) {
    int64_t n = g + 1 == kinds.size() ? c.rows - off : (g == 0 && kinds.size() > 1 ? 1 : (c.rows - off) / int64_t(kinds.size() - g));
    n = std::min(n, c.rows - off);
    groups.push_back({kinds[g], n});
    off += n;
  }
  cases::SyntheticOptions so;
  so.seed = seed, so.sigma = 0.1f, so.random_bias = true, so.act = act;
  return cases::make_synthetic_linear(groups, c.cols, so);
}

// A backend by name; "/bytes" or "/nibbles" after cpu:avx512 or cpu:amx picks the prepared layout's form for
// 4-bit rows (CpuBackend's expand: decoded to bytes at load, or kept as nibbles), so both forms run against the
// reference on any AVX-512 VNNI host whatever each backend's default.
std::unique_ptr<Backend> test_backend(const std::string& name) {
  const size_t slash = name.find('/');
  if (slash == std::string::npos) return make_backend(name);
  const std::string base = name.substr(0, slash), form = name.substr(slash + 1);
  EXPECT_TRUE((base == "cpu:avx512" || base == "cpu:amx") && (form == "bytes" || form == "nibbles")) << name;
  make_backend(base);  // its support checks
  return std::make_unique<CpuBackend>(Isa::Avx512Vnni, false, base == "cpu:amx", form == "bytes" ? 1 : 0);
}

void compare(const std::string& backend, const Case& c, const std::vector<QuantKind>& kinds, ActQuant act,
             const std::string& what) {
  // Backends keep device/prepared copies keyed by the weights' host address (stable for a model's lifetime),
  // and one backend instance serves all cases, so every case's weights stay alive: no address is reused.
  static std::vector<std::unique_ptr<Packed>> alive;
  alive.push_back(std::make_unique<Packed>(pack(c, kinds, uint64_t(c.rows * 131 + c.cols), act)));
  Packed& p = *alive.back();
  std::mt19937_64 rng(5);
  std::normal_distribution<float> nd;
  std::vector<float> x(size_t(c.tokens * c.cols));
  for (auto& v : x) v = nd(rng);
  if (c.tokens > 1) std::fill(x.begin(), x.begin() + c.cols, 0.f);  // an all-zero token row
  const size_t n = size_t(c.tokens * c.rows);
  auto ref = make_backend("reference");
  std::vector<float> y_ref(n + 8, 12345.f);
  ref->linear(p.lin, x.data(), c.tokens, y_ref.data());
  {
    const std::string& name = backend;
    // One instance per backend name: an OpenCL backend compiles its program when created.
    static std::map<std::string, std::unique_ptr<Backend>> cache;
    auto& be = cache[name];
    if (!be) be = test_backend(name);
    // Twice: reading the file's groups as they are, then with the backend's load-time layout (Backend::prepare,
    // as Model::load does; a null one repeats the first run).
    for (int prepared = 0; prepared < 2; ++prepared) {
      p.lin.prepared = prepared ? be->prepare(p.lin) : nullptr;
      const std::string how = name + (prepared ? " (prepared)" : "");
      std::vector<float> y(n + 8, 12345.f);
      be->linear(p.lin, x.data(), c.tokens, y.data());
      for (size_t i = n; i < n + 8; ++i) ASSERT_EQ(y[i], 12345.f) << how << " wrote past the output: " << what;
      const bool integer = quant_is_integer(kinds[0]);
      for (size_t i = 0; i < n; ++i) {
        if (integer)
          ASSERT_EQ(y[i], y_ref[i]) << how << " " << what << " element " << i;
        else
          ASSERT_NEAR(y[i], y_ref[i], 1e-4f * (1.f + std::fabs(y_ref[i]))) << how << " " << what << " element " << i;
      }
    }
  }
}

std::string label(const Case& c) {
  return std::to_string(c.tokens) + "x" + std::to_string(c.rows) + "x" + std::to_string(c.cols);
}

}  // namespace

// One instance per fast backend of the backend table (test::backend_sweep): each CPU kernel ISA, and the OpenCL
// backend in both kernel styles (NDRange and the FPGA-style LUT/DSP cores) on the first OpenCL device when the
// build has them. A CPU ISA this machine lacks is reported as skipped (never as passed); CI machines here have
// AVX2, and the AVX-512 VNNI path is run on a machine that has it (see README). Other backends never skip: CI
// has PoCL (scripts/setup.sh), and a missing OpenCL platform fails.
class BackendLinearTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    const std::string base = GetParam().substr(0, GetParam().find('/'));
    const BackendKind* k = find_backend_kind(base);
    ASSERT_NE(k, nullptr) << base;
    if (base.rfind("cpu:", 0) == 0 && !k->available()) GTEST_SKIP() << "this CPU lacks " << base;
  }
  std::string backend() const { return GetParam(); }
};

TEST_P(BackendLinearTest, EverySchemeAloneMatchesReference) {
  for (const auto& s : kQuantSchemes)
    for (const Case& c : kCases) compare(backend(), c, {s.kind}, ActQuant{}, std::string(s.name) + " " + label(c));
}

TEST_P(BackendLinearTest, MixedRowGroupsMatchReference) {
  for (const Case& c : kCases) {
    if (c.rows < 3) continue;
    compare(backend(), c, {QuantKind::Fixed8, QuantKind::Fixed4, QuantKind::Pow2x4}, ActQuant{}, "rmsmp mix " + label(c));
    ActQuant a4;
    a4.bits = 4, a4.dynamic = false, a4.clip = 1.5f;
    compare(backend(), c, {QuantKind::Fixed8, QuantKind::Fixed4, QuantKind::Pow2x4}, a4, "rmsmp mix act4 " + label(c));
    // The unsigned grid after a ReLU (0..15 at 4 bits; also exercised with negative inputs, which it still
    // quantizes symmetrically), as the CNN path uses it.
    a4.nonneg = true;
    compare(backend(), c, {QuantKind::Fixed8, QuantKind::Fixed4, QuantKind::Pow2x4}, a4, "rmsmp mix act4 nonneg " + label(c));
    ActQuant a8u;
    a8u.nonneg = true;
    compare(backend(), c, {QuantKind::Fixed8, QuantKind::Fixed4, QuantKind::Pow2x4}, a8u, "rmsmp mix act8 nonneg " + label(c));
  }
  // Layers of more than 256 rows with half their rows 8-bit among 4-bit ones: the prepared CPU layout's side
  // rows in most blocks, run as side tiles at few tokens and copied into their holes of the expanded panels at
  // many (prepared.h); the rows schedule (40 tokens) and the tokens schedule (300) on 2 threads.
  for (const Case& c : {Case{40, 300, 64}, Case{300, 290, 48}, Case{12, 300, 64}})
    compare(backend(), c, {QuantKind::Fixed4, QuantKind::Fixed8, QuantKind::Pow2x4}, ActQuant{},
            "rmsmp mix, many 8-bit rows " + label(c));
}

// fp32 rows among integer ones (the prepared CPU layout leaves them as holes that must not overwrite the fp32
// results), within the fp32 tolerance for every row; and the fused paths, linear_gelu and linear_multi (q/k/v),
// bit-exact on integer mixes, prepared and not.
TEST_P(BackendLinearTest, Fp32RowsGeluAndMultiMatchReference) {
  for (const Case& c : kCases) {
    if (c.rows < 4) continue;
    compare(backend(), c, {QuantKind::F32, QuantKind::Fixed4, QuantKind::Pow2x4, QuantKind::Fixed8}, ActQuant{},
            "fp32 + mix " + label(c));
    Packed a = pack(c, {QuantKind::Fixed8, QuantKind::Pow2x4, QuantKind::Fixed4}, uint64_t(c.rows + 3), ActQuant{});
    Packed b = pack(c, {QuantKind::Pow2x4, QuantKind::Fixed4}, uint64_t(c.rows + 4), ActQuant{});
    std::mt19937_64 rng(9);
    std::normal_distribution<float> nd;
    std::vector<float> x(size_t(c.tokens * c.cols));
    for (auto& v : x) v = nd(rng);
    const size_t n = size_t(c.tokens * c.rows);
    const auto ref = make_backend("reference");
    std::vector<float> ga(n), ra(n), rb(n);
    ref->linear_gelu(a.lin, x.data(), c.tokens, ga.data());
    ref->linear(a.lin, x.data(), c.tokens, ra.data());
    ref->linear(b.lin, x.data(), c.tokens, rb.data());
    const auto be = test_backend(backend());
    for (int prepared = 0; prepared < 2; ++prepared) {
      a.lin.prepared = prepared ? be->prepare(a.lin) : nullptr;
      b.lin.prepared = prepared ? be->prepare(b.lin) : nullptr;
      const std::string how = backend() + (prepared ? " (prepared) " : " ") + label(c);
      std::vector<float> y(n + 8, 12345.f), y2(n + 8, 12345.f);
      be->linear_gelu(a.lin, x.data(), c.tokens, y.data());
      for (size_t i = 0; i < n; ++i) ASSERT_EQ(y[i], ga[i]) << how << " gelu element " << i;
      const RowMixedLinear* ws[2] = {&a.lin, &b.lin};
      float* ys[2] = {y.data(), y2.data()};
      be->linear_multi(ws, 2, x.data(), c.tokens, ys);
      for (size_t i = 0; i < n; ++i) ASSERT_EQ(y[i], ra[i]) << how << " multi first, element " << i;
      for (size_t i = 0; i < n; ++i) ASSERT_EQ(y2[i], rb[i]) << how << " multi second, element " << i;
      for (size_t i = n; i < n + 8; ++i) ASSERT_TRUE(y[i] == 12345.f && y2[i] == 12345.f) << how << " wrote past";
    }
  }
}

TEST_P(BackendLinearTest, ExtremeValuesDoNotSaturate) {
  // All weights and activations at +-127: the worst case for vpmaddubsw's int16 pairs.
  const int64_t T = 3, N = 8, K = 200;
  std::vector<uint8_t> codes(size_t(N * K));
  for (size_t i = 0; i < codes.size(); ++i) codes[i] = uint8_t(int8_t(i % 3 == 0 ? -127 : 127));
  std::vector<float> steps(size_t(N), 1.f), x(size_t(T * K));
  for (size_t i = 0; i < x.size(); ++i) x[i] = (i % 5 == 0) ? -1.f : 1.f;
  std::vector<int32_t> perm(static_cast<size_t>(N));
  for (int64_t i = 0; i < N; ++i) perm[size_t(i)] = int32_t(i);
  RowMixedLinear lin;
  lin.name = "extreme";
  lin.rows = N, lin.cols = K;
  lin.groups = {{QuantKind::Fixed8, N, codes.data(), steps.data()}};
  lin.perm = perm.data();
  std::vector<float> a(size_t(T * N)), b(a.size());
  make_backend("reference")->linear(lin, x.data(), T, a.data());
  auto be = test_backend(backend());
  be->linear(lin, x.data(), T, b.data());
  EXPECT_EQ(a, b);
  lin.prepared = be->prepare(lin);
  be->linear(lin, x.data(), T, b.data());
  EXPECT_EQ(a, b) << "prepared";
}

TEST_P(BackendLinearTest, ExtremeFourBitValuesDoNotSaturate) {
  // 4-bit rows take the unsigned-activation path on AVX2 (x + 128 up to 255): the largest PoT-4 (+-64) and
  // Fixed-4 (-8..7) codes against activations at +-127 are its worst case. Fixed-4 also sums 8 pair sums in
  // int16 before widening, so whole rows of one extreme code against all +127 or all -127 (K = 576: a flush
  // of 8 steps, then 10) are its worst case: |8 x 2 x 255 x 8| = 32640.
  const int64_t T = 3, N = 9, K = 576;
  for (QuantKind kind : {QuantKind::Pow2x4, QuantKind::Fixed4})
  for (int pattern = 0; pattern < 5; ++pattern) {
    const uint8_t hi = 0x7, lo = kind == QuantKind::Pow2x4 ? 0xF : 0x8;  // codes of the largest and smallest q
    std::vector<uint8_t> codes(size_t(N * K / 2));
    for (size_t i = 0; i < codes.size(); ++i) {
      const uint8_t c0 = pattern == 0 ? (i % 3 ? hi : lo) : (pattern % 2 ? hi : lo);
      const uint8_t c1 = pattern == 0 ? (i % 2 ? hi : lo) : c0;
      codes[i] = uint8_t(c0 | (c1 << 4));
    }
    std::vector<float> steps(size_t(N), 1.f), x(size_t(T * K));
    for (size_t i = 0; i < x.size(); ++i) x[i] = pattern == 0 ? ((i % 7 == 0) ? -1.f : 1.f) : (pattern < 3 ? 1.f : -1.f);
    std::vector<int32_t> perm(static_cast<size_t>(N));
    for (int64_t i = 0; i < N; ++i) perm[size_t(i)] = int32_t(N - 1 - i);
    RowMixedLinear lin;
    lin.name = "extreme4";
    lin.rows = N, lin.cols = K;
    lin.groups = {{kind, N, codes.data(), steps.data()}};
    lin.perm = perm.data();
    std::vector<float> a(size_t(T * N)), b(a.size());
    make_backend("reference")->linear(lin, x.data(), T, a.data());
    auto be = test_backend(backend());
    be->linear(lin, x.data(), T, b.data());
    EXPECT_EQ(a, b) << quant_scheme(kind).name << " pattern " << pattern;
    lin.prepared = be->prepare(lin);
    be->linear(lin, x.data(), T, b.data());
    EXPECT_EQ(a, b) << quant_scheme(kind).name << " pattern " << pattern << " (prepared)";
  }
}

// linear_s8 (the CNN path: activations quantized once per tensor by the caller, residual and activation fused)
// against the reference's linear on the float input followed by the post ops in a plain loop.
TEST_P(BackendLinearTest, LinearS8StaticAndPatchesEqualLinearThenPost) {
  auto be = test_backend(backend());
  const auto ref = make_backend("reference");
  int variant = 0;
  // {150, 300, 40}: half its rows 8-bit among 4-bit ones (side rows in most blocks; see MixedRowGroups).
  for (const Case& c : {Case{1, 3, 7}, Case{5, 33, 65}, Case{33, 42, 576}, Case{300, 70, 200}, Case{150, 300, 27},
                        Case{150, 300, 40}}) {
    ActQuant act;
    act.dynamic = false;
    act.clip = 1.7f;
    act.bits = variant % 2 ? 4 : 8;
    act.nonneg = variant % 3 == 1;
    const LinearPost::Act post_act = variant % 3 == 0 ? LinearPost::Act::Relu : variant % 3 == 1 ? LinearPost::Act::Relu6
                                                                                                 : LinearPost::Act::None;
    ++variant;
    // Kept alive for the process: OpenCL caches weights by host address (see compare()).
    static std::vector<std::unique_ptr<Packed>> alive;
    alive.push_back(std::make_unique<Packed>(
        pack(c, c.cols == 40 ? std::vector<QuantKind>{QuantKind::Fixed4, QuantKind::Fixed8, QuantKind::Pow2x4}
                             : std::vector<QuantKind>{QuantKind::Fixed8, QuantKind::Fixed4, QuantKind::Pow2x4},
             uint64_t(c.rows * 7 + c.cols), act)));
    Packed& p = *alive.back();
    std::mt19937_64 rng(uint64_t(c.tokens));
    std::normal_distribution<float> nd;
    std::vector<float> x(size_t(c.tokens * c.cols)), res(size_t(c.tokens * c.rows));
    for (auto& v : x) v = nd(rng);
    for (auto& v : res) v = 4.f * nd(rng);
    std::vector<float> want(res.size());
    ref->linear(p.lin, x.data(), c.tokens, want.data());
    std::vector<float> want_nores(want.size());  // the activation alone (a conv whose output no block adds to)
    for (size_t i = 0; i < want.size(); ++i) {  // the post ops written out: + residual, then the activation
      float v = want[i] + res[i], u = want[i];
      if (post_act == LinearPost::Act::Relu) v = v > 0.f ? v : 0.f, u = u > 0.f ? u : 0.f;
      if (post_act == LinearPost::Act::Relu6) v = v > 0.f ? (v < 6.f ? v : 6.f) : 0.f, u = u > 0.f ? (u < 6.f ? u : 6.f) : 0.f;
      want[i] = v, want_nores[i] = u;
    }
    std::vector<int8_t> q(x.size());
    const float step = act_quantize_row(x.data(), int64_t(x.size()), act, q.data());
    // linear_s8 on the quantized rows, linear_static on the float rows (quantized by the backend), and
    // linear_patches on rows handed out block by block (a conv's im2col), each unprepared and prepared.
    struct Rows : PatchSource {
      const int8_t* q;
      void rows(int64_t t0, int64_t n, int8_t* dst, int64_t stride) const override {
        for (int64_t i = 0; i < n; ++i) std::memcpy(dst + i * stride, q + (t0 + i) * cols, size_t(cols));
      }
    } src;
    src.cols = c.cols, src.q = q.data();
    for (int run = 0; run < 6; ++run) {
      const int prepared = run % 2;
      const bool from_float = run / 2 == 1, from_patches = run / 2 == 2;
      p.lin.prepared = prepared ? be->prepare(p.lin) : nullptr;
      std::vector<float> y(want.size() + 8, 12345.f);
      LinearPost post{res.data(), post_act};
      uint32_t amax = 0xdeadbeef;
      post.abs_max = &amax;  // the output's max |y|, reported by the backend
      if (from_float) be->linear_static(p.lin, act, x.data(), c.tokens, post, y.data());
      else if (from_patches) be->linear_patches(p.lin, act, src, step, c.tokens, post, y.data());
      else be->linear_s8(p.lin, act, q.data(), step, c.tokens, post, y.data());
      for (size_t i = 0; i < want.size(); ++i)
        ASSERT_EQ(y[i], want[i]) << backend() << (prepared ? " (prepared) " : " ")
                                 << (from_float ? "linear_static " : from_patches ? "linear_patches " : "linear_s8 ")
                                 << label(c) << " element " << i;
      float m = 0.f;
      for (float v : want) m = std::max(m, std::fabs(v));
      EXPECT_EQ(float_of_bits(amax), m) << backend() << " " << label(c);
      for (size_t i = want.size(); i < y.size(); ++i) ASSERT_EQ(y[i], 12345.f) << "wrote past the output";
    }
    // The CNN's int8 handoff (LinearPost::q_out, with and without the floats) and no range to report: on the
    // AVX-512 VNNI backend, prepared layers without side rows then finish their sums in the kernel's registers
    // (GemmEpilogue); {150, 300, 27} has side rows (an 8-bit row beside 4-bit ones in 300 rows), finished after
    // the tiles when there is no residual (side_rows_finish_avx512).
    const float q_inv = 1.f / 0.05f;
    const int q_max = act.bits == 4 ? 7 : 127;
    for (int run = 0; run < 8; ++run) {
      const bool q_only = run % 2, from_patches = run / 2 % 2, with_res = run < 4;
      const std::vector<float>& want_r = with_res ? want : want_nores;
      p.lin.prepared = be->prepare(p.lin);
      std::vector<float> y(want.size() + 8, 12345.f);
      std::vector<int8_t> qo(want.size() + 8, 99);
      LinearPost post{with_res ? res.data() : nullptr, post_act};
      post.q_out = qo.data(), post.q_inv = q_inv, post.q_max = q_max, post.q_only = q_only;
      if (from_patches) be->linear_patches(p.lin, act, src, step, c.tokens, post, y.data());
      else be->linear_s8(p.lin, act, q.data(), step, c.tokens, post, y.data());
      for (size_t i = 0; i < want.size(); ++i) {
        if (!q_only) {
          ASSERT_EQ(y[i], want_r[i]) << backend() << " q_out " << label(c) << " residual " << with_res << " element " << i;
        }
        ASSERT_EQ(qo[i], act_round_sat(want_r[i] * q_inv, q_max))
            << backend() << (q_only ? " q_only " : " q_out ") << label(c) << " residual " << with_res << " element " << i;
      }
      for (size_t i = want.size(); i < y.size(); ++i) ASSERT_EQ(qo[i], 99) << "wrote past the output";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, BackendLinearTest,
                         ::testing::ValuesIn(test::backend_sweep()),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& ch : n)
                             if (ch == ':' || ch == '-' || ch == '/') ch = '_';
                           return n;
                         });

TEST(ActQuant, InlinedRoundingEqualsClampedLround) {
  // With clip == max_q the step is exactly 1, so q must be clamp(lround(x), -max_q, max_q) for every x.
  std::vector<float> xs = {0.5f, -0.5f, 1.5f, -1.5f, 2.5f, 126.5f, -126.5f, 127.49f, 127.5f, 1e9f, -1e9f,
                           std::nextafter(0.5f, 0.f), std::nextafter(0.5f, 1.f), std::nextafter(-0.5f, 0.f),
                           std::nextafter(2.5f, 0.f), 0.49999997f, -0.49999997f, 8388607.5f, INFINITY, -INFINITY};
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<float> u(-140.f, 140.f);
  for (int i = 0; i < 200000; ++i) xs.push_back(u(rng));
  for (int bits : {8, 4}) {
    const int max_q = (1 << (bits - 1)) - 1;
    ActQuant a;
    a.bits = bits, a.dynamic = false, a.clip = float(max_q);
    std::vector<int8_t> q(xs.size());
    ASSERT_EQ(act_quantize_row(xs.data(), int64_t(xs.size()), a, q.data()), 1.f);
    for (size_t i = 0; i < xs.size(); ++i) {
      const long r = std::lround(std::fmin(std::fmax(xs[i], -1e6f), 1e6f));
      const long want = r > max_q ? max_q : (r < -max_q ? -max_q : r);
      ASSERT_EQ(q[i], want) << "x = " << xs[i] << " bits " << bits;
    }
  }
}

TEST(CpuIsa, SelectionHonoursTheEnvironment) {
  EXPECT_TRUE(isa_supported(Isa::Generic));
  ::setenv("RMSMP_CPU_ISA", "generic", 1);
  EXPECT_EQ(isa_selected(), Isa::Generic);
  ::setenv("RMSMP_CPU_ISA", "sse9", 1);
  EXPECT_THROW(isa_selected(), Error);
  ::unsetenv("RMSMP_CPU_ISA");
  EXPECT_EQ(isa_selected(), isa_best());
  EXPECT_THROW(make_backend("cpu:neon"), Error);
}

TEST(ActQuant, DynamicAndStaticRounding) {
  const float x[] = {0.f, 1.f, -2.f, 0.5f, 10.f};
  int8_t q[5];
  ActQuant d;  // int8 dynamic: step = 10/127
  EXPECT_FLOAT_EQ(act_quantize_row(x, 5, d, q), 10.f / 127.f);
  EXPECT_EQ(q[4], 127);
  EXPECT_EQ(q[1], 13);  // 12.7 -> 13
  EXPECT_EQ(q[2], -25); // -25.4 -> -25
  ActQuant s;
  s.bits = 4, s.dynamic = false, s.clip = 2.f;  // step 2/7; 10 saturates at 7
  act_quantize_row(x, 5, s, q);
  EXPECT_EQ(q[4], 7);
  EXPECT_EQ(q[3], 2);   // 1.75 -> 2
  EXPECT_EQ(q[2], -7);
  const float z[3] = {0.f, 0.f, 0.f};
  EXPECT_EQ(act_quantize_row(z, 3, d, q), 0.f);
  ActQuant u;  // unsigned 4-bit (after a ReLU): step 2/15, 15 levels above zero
  u.bits = 4, u.dynamic = false, u.clip = 2.f, u.nonneg = true;
  EXPECT_EQ(act_max_q(u), 15);
  EXPECT_FLOAT_EQ(act_quantize_row(x, 5, u, q), 2.f / 15.f);
  EXPECT_EQ(q[4], 15);
  EXPECT_EQ(q[3], 4);    // 3.75 -> 4
  EXPECT_EQ(q[2], -15);  // negative inputs still quantize symmetrically (never produced after a ReLU)
  u.bits = 8;          // capped at int8: the signed grid's positive half
  EXPECT_EQ(act_max_q(u), 127);
}

// "cpu-exact" (the converters' calibration backend): fp32 rows summed in the reference's order on every ISA, so
// bit-identical to the reference (oneDNN's sgemm, the plain cpu backend's fp32 path, is only close).
TEST(CpuExactFp32, BitIdenticalToReferenceOnEveryIsa) {
  for (Isa isa : isa_all()) {
    if (!isa_supported(isa)) continue;  // the ISAs this machine has; generic always
    ::setenv("RMSMP_CPU_ISA", isa_name(isa), 1);
    auto be = make_backend("cpu-exact");
    ::unsetenv("RMSMP_CPU_ISA");
    for (const Case& c : kCases) {
      Packed p = pack(c, {QuantKind::F32}, uint64_t(c.rows * 7 + c.cols), ActQuant{});
      std::mt19937_64 rng(9);
      std::normal_distribution<float> nd;
      std::vector<float> x(size_t(c.tokens * c.cols)), a(size_t(c.tokens * c.rows)), b(a.size());
      for (auto& v : x) v = nd(rng);
      make_backend("reference")->linear(p.lin, x.data(), c.tokens, a.data());
      be->linear(p.lin, x.data(), c.tokens, b.data());
      for (size_t i = 0; i < a.size(); ++i)
        ASSERT_EQ(a[i], b[i]) << be->name() << " " << label(c) << " element " << i;
    }
  }
}

// The layers rmsmp-bench's GEMM suite times (its default shapes, the mix counted as the converter counts it,
// prepared at load as a model's are) give the reference backend's bits on the cpu backend.
TEST(BenchCases, EveryDefaultGemmShapeMatchesTheReference) {
  const auto ref = make_backend("reference"), cpu = make_backend("cpu");
  for (const cases::GemmShape& g : cases::default_gemm_shapes()) {
    cases::SyntheticOptions so;
    so.seed = 11, so.sigma = 0.02f, so.bias = 0.01f;
    cases::SyntheticLinear L = cases::make_synthetic_linear(cases::mix_groups(g.n), g.k, so);
    int64_t n8 = 0;
    for (const RowGroup& grp : L.lin.groups) n8 += grp.kind == QuantKind::Fixed8 ? grp.rows : 0;
    EXPECT_EQ(n8, std::llround(0.05 * double(g.n))) << "the converter's rounding";
    std::vector<float> x(size_t(g.m * g.k)), want(size_t(g.m * g.n)), got(want.size());
    std::mt19937_64 rng(7);
    std::normal_distribution<float> nd;
    for (auto& v : x) v = nd(rng);
    ref->linear(L.lin, x.data(), g.m, want.data());
    L.lin.prepared = cpu->prepare(L.lin);
    cpu->linear(L.lin, x.data(), g.m, got.data());
    ASSERT_EQ(got, want) << g.m << "x" << g.k << "x" << g.n;
  }
}

}  // namespace rmsmp

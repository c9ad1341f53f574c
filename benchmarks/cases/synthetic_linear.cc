// See synthetic_linear.h.
#include "synthetic_linear.h"

#include <algorithm>
#include <random>

namespace rmsmp::cases {

SyntheticLinear make_synthetic_linear(const std::vector<std::pair<QuantKind, int64_t>>& groups, int64_t cols,
                                      const SyntheticOptions& opt) {
  SyntheticLinear L;
  std::mt19937_64 rng(opt.seed);
  std::normal_distribution<float> nd(0.f, opt.sigma), unit;
  int64_t rows = 0;
  for (const auto& g : groups) rows += g.second;
  std::vector<float> w(static_cast<size_t>(cols));
  for (const auto& [kind, n] : groups) {
    const size_t rb = quant_row_bytes(kind, cols);
    L.codes.emplace_back(size_t(n) * rb);
    L.steps.emplace_back(size_t(n));
    for (int64_t r = 0; r < n; ++r) {
      for (auto& v : w) v = nd(rng);
      L.steps.back()[size_t(r)] =
          quant_quantize_pack_row_ref(kind, w.data(), cols, ClipMode::MaxAbs, L.codes.back().data() + size_t(r) * rb);
    }
  }
  L.perm.resize(size_t(rows));
  for (int64_t r = 0; r < rows; ++r) L.perm[size_t(r)] = int32_t(r);
  if (opt.permute) std::shuffle(L.perm.begin(), L.perm.end(), rng);
  L.bias.assign(size_t(rows), opt.bias);
  if (opt.random_bias)
    for (auto& b : L.bias) b = unit(rng);
  L.lin.name = opt.name;
  L.lin.rows = rows, L.lin.cols = cols, L.lin.act = opt.act;
  for (size_t i = 0; i < groups.size(); ++i)
    L.lin.groups.push_back({groups[i].first, groups[i].second, L.codes[i].data(), L.steps[i].data()});
  L.lin.perm = L.perm.data();
  L.lin.bias = L.bias.data();
  return L;
}

std::vector<std::pair<QuantKind, int64_t>> mix_groups(int64_t n, const Ratios& r) {
  int64_t n8 = 0, nf4 = 0, np4 = 0;
  ratio_counts(r, n, n8, nf4, np4);
  return {{QuantKind::Pow2x4, np4}, {QuantKind::Fixed4, nf4}, {QuantKind::Fixed8, n8}};
}

std::vector<GemmShape> default_gemm_shapes() {
  std::vector<GemmShape> v;
  for (int64_t k : {384, 768, 1536, 3072})
    for (int64_t n : {384, 768, 1536, 3072}) v.push_back({128, k, n});
  return v;
}

}  // namespace rmsmp::cases

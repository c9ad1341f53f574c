// Hessian-based precision and variance-based scheme choice per row; random baseline.
#include "row_assign.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <sstream>

#include "rmsmp/error.h"

namespace rmsmp {

std::string scheme_rule_name(SchemeRule r) {
  switch (r) {
    case SchemeRule::Variance: return "variance";
    case SchemeRule::VarianceInverted: return "variance-inverted";
    case SchemeRule::Hessian: return "hessian";
  }
  return "?";
}

void ratio_counts(const Ratios& r, int64_t n, int64_t& n8, int64_t& nf4, int64_t& np4) {
  n8 = std::llround(r[QuantKind::Fixed8] * double(n));
  nf4 = std::llround(r[QuantKind::Fixed4] * double(n));
  n8 = std::min(n8, n);
  nf4 = std::min(nf4, n - n8);
  np4 = n - n8 - nf4;
}

RowScores score_rows(const float* w, int64_t rows, int64_t cols, const Eigen::MatrixXf& H, ClipMode clip) {
  using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  RowScores s;
  s.variance.resize(size_t(rows));
  s.step_fixed4.resize(size_t(rows));
  s.step_pot4.resize(size_t(rows));
  RowMat ef4(rows, cols), ep4(rows, cols);
  std::vector<uint8_t> packed(size_t(cols) * 4);
  std::vector<float> deq(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    const float* wr = w + r * cols;
    for (QuantKind k : {QuantKind::Fixed4, QuantKind::Pow2x4}) {
      const float step = quant_quantize_pack_row_ref(k, wr, cols, clip, packed.data());
      (k == QuantKind::Fixed4 ? s.step_fixed4 : s.step_pot4)[size_t(r)] = step;
      quant_dequantize_row_ref(k, packed.data(), cols, step, deq.data());
      auto& e = k == QuantKind::Fixed4 ? ef4 : ep4;
      for (int64_t c = 0; c < cols; ++c) e(r, c) = wr[c] - deq[c];
    }
    float amax = 0.f;
    for (int64_t c = 0; c < cols; ++c) amax = std::max(amax, std::fabs(wr[c]));
    double mean = 0, var = 0;
    if (amax > 0.f) {
      for (int64_t c = 0; c < cols; ++c) mean += wr[c] / amax;
      mean /= double(cols);
      for (int64_t c = 0; c < cols; ++c) var += (wr[c] / amax - mean) * (wr[c] / amax - mean);
      var /= double(cols);
    }
    s.variance[size_t(r)] = var;
  }
  auto hnorm = [&](const RowMat& e, std::vector<double>& out) {
    out.assign(size_t(rows), 0.0);
    if (H.size() == 0) return;
    RowMat eh = e * H;  // rows x cols
    for (int64_t r = 0; r < rows; ++r) out[size_t(r)] = double(eh.row(r).dot(e.row(r)));
  };
  hnorm(ef4, s.sens_fixed4);
  hnorm(ep4, s.sens_pot4);
  return s;
}

double row_sensitivity(const RowScores& s, int64_t row) {
  return std::min(s.sens_fixed4[size_t(row)], s.sens_pot4[size_t(row)]);
}

namespace {

// Splits the rows in `rest` (any order) between Fixed-4 (the first nf4 by `rule`) and PoT-4.
void split_4bit(const RowScores& s, std::vector<int64_t> rest, int64_t nf4, SchemeRule rule, std::vector<QuantKind>& out) {
  auto key = [&](int64_t i) -> double {
    switch (rule) {
      case SchemeRule::Variance: return s.variance[size_t(i)];
      case SchemeRule::VarianceInverted: return -s.variance[size_t(i)];
      case SchemeRule::Hessian: return s.sens_pot4[size_t(i)] - s.sens_fixed4[size_t(i)];
    }
    return 0;
  };
  // Stable sorts with index tie-break keep the assignment deterministic.
  std::sort(rest.begin(), rest.end());
  std::stable_sort(rest.begin(), rest.end(), [&](int64_t a, int64_t b) { return key(a) > key(b); });
  for (int64_t i = 0; i < nf4; ++i) out[size_t(rest[size_t(i)])] = QuantKind::Fixed4;
}

}  // namespace

std::vector<QuantKind> assign_rmsmp(const RowScores& s, const Ratios& r, SchemeRule rule) {
  const int64_t n = int64_t(s.variance.size());
  int64_t n8, nf4, np4;
  ratio_counts(r, n, n8, nf4, np4);
  std::vector<QuantKind> out(size_t(n), QuantKind::Pow2x4);
  std::vector<int64_t> idx(static_cast<size_t>(n));
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(),
                   [&](int64_t a, int64_t b) { return row_sensitivity(s, a) > row_sensitivity(s, b); });
  for (int64_t i = 0; i < n8; ++i) out[size_t(idx[size_t(i)])] = QuantKind::Fixed8;
  split_4bit(s, std::vector<int64_t>(idx.begin() + n8, idx.end()), nf4, rule, out);
  return out;
}

std::vector<QuantKind> assign_rmsmp_given_fixed8(const RowScores& s, const std::vector<bool>& fixed8, const Ratios& r,
                                                 SchemeRule rule) {
  const int64_t n = int64_t(s.variance.size());
  std::vector<QuantKind> out(size_t(n), QuantKind::Pow2x4);
  std::vector<int64_t> rest;
  for (int64_t i = 0; i < n; ++i) {
    if (fixed8[size_t(i)]) out[size_t(i)] = QuantKind::Fixed8;
    else rest.push_back(i);
  }
  const double f4 = r[QuantKind::Fixed4], p4 = r[QuantKind::Pow2x4];
  const double share = f4 + p4 > 0 ? f4 / (f4 + p4) : 0.0;
  split_4bit(s, rest, std::llround(share * double(rest.size())), rule, out);
  return out;
}

std::vector<QuantKind> assign_random(int64_t rows, const Ratios& r, uint64_t seed) {
  int64_t n8, nf4, np4;
  ratio_counts(r, rows, n8, nf4, np4);
  std::vector<QuantKind> out;
  out.insert(out.end(), size_t(n8), QuantKind::Fixed8);
  out.insert(out.end(), size_t(nf4), QuantKind::Fixed4);
  out.insert(out.end(), size_t(np4), QuantKind::Pow2x4);
  std::mt19937_64 rng(seed);
  for (int64_t i = rows - 1; i > 0; --i) std::swap(out[size_t(i)], out[size_t(rng() % uint64_t(i + 1))]);
  return out;
}

Ratios parse_ratios(const std::string& s) {
  Ratios r(0, 0, 0);
  std::string names;
  for (const QuantScheme& q : kQuantSchemes)
    if (quant_is_integer(q.kind)) names += (names.empty() ? "" : ", ") + std::string(q.name);
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const size_t eq = item.find('=');
    RMSMP_CHECK(eq != std::string::npos, ErrorCode::InvalidArgument, "--ratios: '" << item << "' is not name=value");
    const std::string k = item.substr(0, eq);
    double v = 0;
    try {
      size_t used = 0;
      v = std::stod(item.substr(eq + 1), &used);
      RMSMP_CHECK(used == item.size() - eq - 1, ErrorCode::InvalidArgument, "");
    } catch (const std::exception&) {
      RMSMP_FAIL(ErrorCode::InvalidArgument, "--ratios: '" << item << "' has no valid number");
    }
    const auto kind = quant_kind_from_name(k);
    RMSMP_CHECK(kind && quant_is_integer(*kind), ErrorCode::InvalidArgument,
                "--ratios: unknown scheme '" << k << "' (" << names << ")");
    r[*kind] = v;
  }
  return r;
}

nlohmann::json ratios_json(const Ratios& r) {
  nlohmann::json j = nlohmann::json::object();
  for (const QuantScheme& q : kQuantSchemes)
    if (quant_is_integer(q.kind)) j[q.name] = r[q.kind];
  return j;
}

void check_ratios(const Ratios& r, const std::string& what) {
  double sum = 0;
  bool negative = false;
  for (const QuantScheme& q : kQuantSchemes) {
    sum += r[q.kind];
    negative |= r[q.kind] < 0;
    RMSMP_CHECK(r[q.kind] == 0 || q.kind == QuantKind::Fixed8 || q.kind == QuantKind::Fixed4 ||
                    q.kind == QuantKind::Pow2x4,
                ErrorCode::InvalidArgument,
                what << ": RMSMP assigns rows to pot4, fixed4 and fixed8 only (got " << q.name << "=" << r[q.kind] << ")");
  }
  RMSMP_CHECK(!negative && std::fabs(sum - 1.0) < 1e-6, ErrorCode::InvalidArgument,
              what << " must be non-negative and sum to 1 (they sum to " << sum << ")");
}

}  // namespace rmsmp

// GLUE metrics in double precision; every function checks that its inputs have equal, non-zero length.
#include "glue/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>

#include "rmsmp/error.h"

namespace rmsmp::glue {

namespace {
template <typename A, typename B>
void check_sizes(const A& a, const B& b, const char* what) {
  RMSMP_CHECK(!a.empty() && a.size() == b.size(), ErrorCode::InvalidArgument,
              what << ": need two non-empty vectors of equal length (got " << a.size() << " and " << b.size() << ")");
}
}  // namespace

double accuracy(const std::vector<int>& pred, const std::vector<int>& gold) {
  check_sizes(pred, gold, "accuracy");
  size_t ok = 0;
  for (size_t i = 0; i < pred.size(); ++i) ok += pred[i] == gold[i];
  return double(ok) / double(pred.size());
}

double f1_binary(const std::vector<int>& pred, const std::vector<int>& gold, int positive) {
  check_sizes(pred, gold, "f1");
  double tp = 0, fp = 0, fn = 0;
  for (size_t i = 0; i < pred.size(); ++i) {
    const bool p = pred[i] == positive, g = gold[i] == positive;
    tp += p && g, fp += p && !g, fn += !p && g;
  }
  return tp == 0 ? 0.0 : 2 * tp / (2 * tp + fp + fn);
}

double matthews(const std::vector<int>& pred, const std::vector<int>& gold) {
  check_sizes(pred, gold, "matthews");
  // sklearn: C = confusion matrix; t_k = row sums (true), p_k = column sums (pred), c = trace, s = n.
  std::map<int, double> t, p;
  double c = 0;
  const double s = double(pred.size());
  for (size_t i = 0; i < pred.size(); ++i) t[gold[i]] += 1, p[pred[i]] += 1, c += pred[i] == gold[i];
  double tp = 0, pp = 0, tt = 0;
  for (const auto& [k, v] : t) {
    tt += v * v;
    auto it = p.find(k);
    if (it != p.end()) tp += v * it->second;
  }
  for (const auto& [k, v] : p) pp += v * v;
  const double cov_ytyp = c * s - tp, cov_ypyp = s * s - pp, cov_ytyt = s * s - tt;
  if (cov_ypyp * cov_ytyt == 0) return 0.0;
  return cov_ytyp / std::sqrt(cov_ytyt * cov_ypyp);
}

double pearson(const std::vector<double>& x, const std::vector<double>& y) {
  check_sizes(x, y, "pearson");
  const double n = double(x.size());
  const double mx = std::accumulate(x.begin(), x.end(), 0.0) / n, my = std::accumulate(y.begin(), y.end(), 0.0) / n;
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double dx = x[i] - mx, dy = y[i] - my;
    sxy += dx * dy, sxx += dx * dx, syy += dy * dy;
  }
  if (sxx == 0 || syy == 0) return std::numeric_limits<double>::quiet_NaN();
  return std::clamp(sxy / std::sqrt(sxx * syy), -1.0, 1.0);  // rounding can step past +-1 by an ulp
}

std::vector<double> average_ranks(const std::vector<double>& x) {
  std::vector<size_t> idx(x.size());
  std::iota(idx.begin(), idx.end(), size_t{0});
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return x[a] < x[b]; });
  std::vector<double> r(x.size());
  for (size_t i = 0; i < idx.size();) {
    size_t j = i;
    while (j + 1 < idx.size() && x[idx[j + 1]] == x[idx[i]]) ++j;
    const double avg = (double(i) + double(j)) / 2 + 1;  // ranks i+1 .. j+1
    for (size_t k = i; k <= j; ++k) r[idx[k]] = avg;
    i = j + 1;
  }
  return r;
}

double spearman(const std::vector<double>& x, const std::vector<double>& y) {
  check_sizes(x, y, "spearman");
  return pearson(average_ranks(x), average_ranks(y));
}

}  // namespace rmsmp::glue

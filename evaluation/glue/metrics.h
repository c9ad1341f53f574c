// GLUE's metrics, as GLUE and Hugging Face `evaluate` compute them (sklearn / scipy definitions):
// accuracy, binary F1 of the positive class 1, Matthews correlation, Pearson and Spearman (average ranks
// for ties). Degenerate inputs follow sklearn/scipy: MCC 0 when a margin is empty; F1 0 when there is no
// positive prediction or label; Pearson/Spearman NaN for a constant vector (reported, never hidden).
#pragma once
#include <vector>

namespace rmsmp::glue {

double accuracy(const std::vector<int>& pred, const std::vector<int>& gold);
double f1_binary(const std::vector<int>& pred, const std::vector<int>& gold, int positive = 1);
// Multi-class Matthews correlation (Gorodkin's R_K, sklearn's matthews_corrcoef); equals the binary MCC
// for two classes.
double matthews(const std::vector<int>& pred, const std::vector<int>& gold);
double pearson(const std::vector<double>& x, const std::vector<double>& y);
double spearman(const std::vector<double>& x, const std::vector<double>& y);
// 1-based ranks with ties given their average rank (scipy.stats.rankdata, method="average").
std::vector<double> average_ranks(const std::vector<double>& x);

}  // namespace rmsmp::glue

// The case catalogue shared by the backend tests, bench_ops and rmsmp-bench: one layer builder (a packed
// row-mixed linear from random weights, packed by the scheme table's reference functions), the default mix's
// row counts (the converter's rounding), and the GEMM shapes rmsmp-bench times by default. One place, so the
// tests check the very layers and shapes the benchmarks time.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "quant/row_mixed.h"
#include "row_assign.h"

namespace rmsmp::cases {

// A layer with its own storage; lin views the vectors (moving keeps the views valid, copying would not).
struct SyntheticLinear {
  std::vector<std::vector<uint8_t>> codes;  // per group: rows x quant_row_bytes(kind, cols)
  std::vector<std::vector<float>> steps;    // per group
  std::vector<int32_t> perm;                // stored row i is original row perm[i]
  std::vector<float> bias;
  RowMixedLinear lin;

  SyntheticLinear() = default;
  SyntheticLinear(SyntheticLinear&&) = default;
  SyntheticLinear& operator=(SyntheticLinear&&) = default;
  SyntheticLinear(const SyntheticLinear&) = delete;
  SyntheticLinear& operator=(const SyntheticLinear&) = delete;
};

struct SyntheticOptions {
  uint64_t seed = 1;
  float sigma = 1.f;         // weights ~ N(0, sigma), drawn row by row in stored order
  bool permute = true;       // rows shuffled as a converter stores them (by scheme group), else identity
  bool random_bias = false;  // bias ~ N(0, 1), else every bias = `bias`
  float bias = 0.f;
  ActQuant act{};
  std::string name = "synthetic";
};

// Groups (scheme, rows) in stored order, `cols` inputs; each row quantized with its max-abs clip.
SyntheticLinear make_synthetic_linear(const std::vector<std::pair<QuantKind, int64_t>>& groups, int64_t cols,
                                      const SyntheticOptions& opt = {});

// The mix's groups for a layer of n rows (PoT-4, Fixed-4, Fixed-8), counted as the converter counts them
// (ratio_counts; the paper's 65/30/5 by default).
std::vector<std::pair<QuantKind, int64_t>> mix_groups(int64_t n, const Ratios& r = Ratios());

struct GemmShape {
  int64_t m, k, n;
};
// rmsmp-bench's default GEMM suite: M = 128 tokens, K and N over BERT's widths (384, 768, 1536, 3072).
std::vector<GemmShape> default_gemm_shapes();

}  // namespace rmsmp::cases

// RMSMP row assignment (../shared/RMSMP.md section 3) and the baselines' assignments (section 4).
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <Eigen/Core>
#include <nlohmann/json.hpp>

#include "rmsmp/quant.h"

namespace rmsmp {

// The share of a layer's rows each scheme gets, indexed by the scheme table (QuantKind). RMSMP's assignment
// below places the paper's three row kinds (PoT-4, Fixed-4, Fixed-8); parse_ratios, ratios_json and the checks
// go through the table's names, so they need no edit for a new scheme.
struct Ratios {
  std::array<double, size_t(QuantKind::Count)> share{};
  // The paper's default: 65% PoT-4, 30% Fixed-4, 5% Fixed-8.
  Ratios() : Ratios(0.65, 0.30, 0.05) {}
  Ratios(double pot4, double fixed4, double fixed8) {
    share[size_t(QuantKind::Pow2x4)] = pot4;
    share[size_t(QuantKind::Fixed4)] = fixed4;
    share[size_t(QuantKind::Fixed8)] = fixed8;
  }
  double& operator[](QuantKind k) { return share[size_t(k)]; }
  double operator[](QuantKind k) const { return share[size_t(k)]; }
};

// {"<scheme>": share} for every integer scheme of the table (the reports' "ratios" / "ratio" object).
nlohmann::json ratios_json(const Ratios& r);
// InvalidArgument (naming `what`, e.g. "--ratios") unless every share is >= 0, the shares sum to 1, and only the
// row kinds RMSMP assigns (pot4, fixed4, fixed8) have one.
void check_ratios(const Ratios& r, const std::string& what);

// How the non-8-bit rows are split between Fixed-4 and PoT-4.
enum class SchemeRule {
  Variance,          // highest normalised variance -> Fixed-4 (flat rows), the rest PoT-4 (paper's rule)
  VarianceInverted,  // the ablation: lowest normalised variance -> Fixed-4
  Hessian,           // rows where PoT-4 costs most (in H-norm) over Fixed-4 -> Fixed-4
};

// Per-row statistics the assignment used (reported per scheme group).
struct RowScores {
  std::vector<double> sens_fixed4, sens_pot4;  // e^T H e of each row's 4-bit error (0 when no H)
  std::vector<double> variance;                // var(w_r / max|w_r|)
  std::vector<float> step_fixed4, step_pot4;   // the row steps those errors used (reused when packing)
};

// Row counts for a layer of n rows: n8 = round(r8 n), nF4 = round(rF4 n), nP4 = n - n8 - nF4 (no minimum-one
// rule: a tiny layer may get no 8-bit row, as the ratio says).
void ratio_counts(const Ratios& r, int64_t n, int64_t& n8, int64_t& nf4, int64_t& np4);

// Scores every row: 4-bit errors under both schemes with the given clip, their H-norm (H may be empty),
// and the normalised variance.
RowScores score_rows(const float* w, int64_t rows, int64_t cols, const Eigen::MatrixXf& H, ClipMode clip);

// RMSMP: top n8 rows by min(sens_fixed4, sens_pot4) -> Fixed-8; the rest split by `rule`.
std::vector<QuantKind> assign_rmsmp(const RowScores& s, const Ratios& r, SchemeRule rule);
// The rows marked in `fixed8` -> Fixed-8 (chosen elsewhere, e.g. by a global ranking); the other rows split by
// `rule` between Fixed-4 and PoT-4 in the ratio r[Fixed4] : r[Pow2x4] (rounded; all PoT-4 when both are 0).
std::vector<QuantKind> assign_rmsmp_given_fixed8(const RowScores& s, const std::vector<bool>& fixed8, const Ratios& r,
                                                 SchemeRule rule);
// A row's 4-bit error in H-norm under its better 4-bit scheme: what the Fixed-8 choice ranks by.
double row_sensitivity(const RowScores& s, int64_t row);
// Same counts, rows drawn at random with a fixed seed (portable: our own Fisher-Yates over mt19937_64).
std::vector<QuantKind> assign_random(int64_t rows, const Ratios& r, uint64_t seed);

std::string scheme_rule_name(SchemeRule r);

// "pot4=0.65,fixed4=0.30,fixed8=0.05" (names from the scheme table; any subset; missing schemes get 0).
// InvalidArgument naming the bad item; the sum is checked where the ratios are used (check_ratios).
Ratios parse_ratios(const std::string& s);

}  // namespace rmsmp

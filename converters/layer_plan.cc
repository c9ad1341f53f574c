// See layer_plan.h.
#include "layer_plan.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>

#include "clip_search.h"
#include "gptq.h"
#include "models/row_mixed_writer.h"
#include "rmsmp/error.h"

namespace rmsmp {

namespace {

constexpr QuantKind kGroupOrder[] = {QuantKind::Fixed8, QuantKind::Fixed4, QuantKind::Pow2x4, QuantKind::F32};

nlohmann::json stats(const std::vector<double>& v) {
  if (v.empty()) return nullptr;
  double mn = *std::min_element(v.begin(), v.end()), mx = *std::max_element(v.begin(), v.end());
  double mean = std::accumulate(v.begin(), v.end(), 0.0) / double(v.size());
  return {{"min", mn}, {"mean", mean}, {"max", mx}};
}

}  // namespace

ConvertNeeds check_convert_options(const ConvertOptions& opt) {
  const auto& names = convert_scheme_names();
  RMSMP_CHECK(std::find(names.begin(), names.end(), opt.scheme) != names.end(), ErrorCode::InvalidArgument,
              "unknown --scheme '" << opt.scheme << "'");
  RMSMP_CHECK(opt.act_bits == 8 || opt.act_bits == 4, ErrorCode::InvalidArgument, "--act-bits must be 8 or 4");
  check_ratios(opt.ratios, "--ratios");
  ConvertNeeds n;
  n.is_fp32 = opt.scheme == "fp32";
  const bool from_plan = !opt.plan_path.empty();
  RMSMP_CHECK(!from_plan || !n.is_fp32, ErrorCode::InvalidArgument, "--plan sets the rows' schemes: it needs a quantized --scheme");
  RMSMP_CHECK(!opt.global_allocation || opt.scheme == "rmsmp", ErrorCode::InvalidArgument,
              "--allocation global is for --scheme rmsmp (the baselines keep their own allocation)");
  n.need_h = !from_plan && (opt.scheme == "rmsmp" || opt.scheme == "layerwise");
  n.use_gptq = !from_plan && opt.gptq && !n.is_fp32;
  n.need_calib = n.need_h || n.use_gptq || (opt.act_bits == 4 && !n.is_fp32);
  return n;
}

nlohmann::json quantization_json(const ConvertOptions& opt, const ConvertNeeds& n, const std::string& h_inputs,
                                 const std::string& act_mode8, const std::string& act_mode4,
                                 const nlohmann::json& layerwise_info) {
  nlohmann::json q = {{"scheme", opt.scheme},
                      {"ratios", ratios_json(opt.ratios)},
                      {"clip", opt.clip == ClipMode::Mse ? (opt.clip_hessian && n.use_gptq ? "mse, then e^T H e over 0.8-1.2x" : "mse") : "max"},
                      {"scheme_rule", scheme_rule_name(opt.rule)},
                      {"rounding", n.use_gptq ? "gptq (error compensation through H^-1, act-order, damp 0.01)" : "nearest"},
                      {"precision_rule", "hessian: top rows by min over 4-bit schemes of e^T H e, H = sum x x^T" + h_inputs},
                      {"act_bits", n.is_fp32 ? 32 : opt.act_bits},
                      {"act_mode", n.is_fp32 ? "fp32" : opt.act_bits == 8 ? act_mode8 : act_mode4}};
  if (opt.scheme == "rmsmp")
    q["allocation"] = opt.global_allocation
                          ? "global: Fixed-8 rows ranked across layers by 4-bit e^T H e per weight, same total budget"
                          : "uniform: the same ratios in every layer";
  if (opt.scheme == "random") q["seed"] = opt.seed;
  if (opt.scheme == "layerwise") q["fixed8_layers"] = layerwise_info;
  return q;
}

nlohmann::json conversion_report(const ConvertOptions& opt, double avg_bits, double seconds, const nlohmann::json& q,
                                 const nlohmann::json& prov, const nlohmann::json& layers, const nlohmann::json& extra) {
  nlohmann::json r;
  r["model"] = {{"out", opt.out_path},
                {"scheme", opt.scheme},
                {"avg_weight_bits", avg_bits},
                {"file_bytes", std::filesystem::file_size(opt.out_path)},
                {"converter_seconds", seconds}};
  r["model"].update(extra);
  r["quantization"] = q;
  r["provenance"] = prov;
  r["layers"] = layers;
  return r;
}

namespace {

// --allocation global: Fixed-8 rows by one ranking of every unpinned layer's rows, 4-bit error (H-norm) per
// weight first, greedily while they fit the fixed8 share of all unpinned weights (a row that does not fit is
// skipped, a shorter one may still fit); then each layer's other rows split as assign_rmsmp_given_fixed8 says.
void assign_global(std::vector<LayerPlan>& plans, const ConvertOptions& opt) {
  struct Row { double density; size_t layer; int64_t row; };
  std::vector<Row> rows;
  int64_t total = 0;
  for (size_t i = 0; i < plans.size(); ++i) {
    if (plans[i].pinned) continue;
    total += plans[i].rows * plans[i].cols;
    for (int64_t r = 0; r < plans[i].rows; ++r)
      rows.push_back({row_sensitivity(plans[i].scores, r) / double(plans[i].cols), i, r});
  }
  // Ties (exact zeros included) keep layer and row order: deterministic.
  std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.density > b.density; });
  int64_t budget = std::llround(opt.ratios[QuantKind::Fixed8] * double(total));
  std::vector<std::vector<bool>> is8(plans.size());
  for (size_t i = 0; i < plans.size(); ++i) is8[i].assign(size_t(plans[i].rows), false);
  for (const Row& r : rows) {
    const int64_t cols = plans[r.layer].cols;
    if (cols > budget) continue;
    budget -= cols;
    is8[r.layer][size_t(r.row)] = true;
  }
  for (size_t i = 0; i < plans.size(); ++i)
    if (!plans[i].pinned) plans[i].assign = assign_rmsmp_given_fixed8(plans[i].scores, is8[i], opt.ratios, opt.rule);
}

}  // namespace

nlohmann::json plan_layers(std::vector<LayerPlan>& plans, const ConvertOptions& opt,
                           const std::function<const std::vector<float>&(const LayerPlan&)>& weights,
                           const std::function<const Eigen::MatrixXf&(const LayerPlan&)>& hessian) {
  const bool need_h = opt.scheme == "rmsmp" || opt.scheme == "layerwise";
  uint64_t layer_seed = opt.seed;
  for (LayerPlan& p : plans) {
    const std::vector<float>& w = weights(p);
    if (need_h && !p.has_scores) {  // a caller may have scored the rows itself (per-group H)
      p.scores = score_rows(w.data(), p.rows, p.cols, hessian(p), opt.clip);
      p.has_scores = true;
    }
    if (p.pinned) {
      p.assign.assign(size_t(p.rows), opt.scheme == "fp32" ? QuantKind::F32 : *p.pinned);
      continue;
    }
    QuantKind uniform = QuantKind::Fixed8;
    if (opt.scheme == "rmsmp") {
      if (!opt.global_allocation) p.assign = assign_rmsmp(p.scores, opt.ratios, opt.rule);
      continue;  // global: below, once every layer is scored
    }
    if (opt.scheme == "random") {
      p.assign = assign_random(p.rows, opt.ratios, layer_seed++);
      continue;
    }
    if (opt.scheme == "layerwise") uniform = QuantKind::Fixed4;  // Fixed-8 layers are chosen below
    else if (auto k = quant_kind_from_name(opt.scheme)) uniform = *k;  // a uniform baseline: any table scheme
    p.assign.assign(size_t(p.rows), uniform);
  }
  if (opt.scheme == "rmsmp" && opt.global_allocation) assign_global(plans, opt);
  nlohmann::json layerwise_info;
  if (opt.scheme == "layerwise") {
    // HAWQ-style: whole layers to Fixed-8 in order of sensitivity per weight (sum of rows' Fixed-4 error in
    // H-norm / weights), while the 8-bit weights stay within the fixed8 share of all (unpinned) weights.
    int64_t total = 0;
    for (const auto& p : plans)
      if (!p.pinned) total += p.rows * p.cols;
    int64_t budget = std::llround(opt.ratios[QuantKind::Fixed8] * double(total));
    std::vector<size_t> order;
    for (size_t i = 0; i < plans.size(); ++i)
      if (!plans[i].pinned) order.push_back(i);
    auto density = [&](size_t i) {
      const auto& s = plans[i].scores.sens_fixed4;
      return std::accumulate(s.begin(), s.end(), 0.0) / double(plans[i].rows * plans[i].cols);
    };
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return density(a) > density(b); });
    layerwise_info = nlohmann::json::array();
    for (size_t i : order) {
      const int64_t n = plans[i].rows * plans[i].cols;
      if (n > budget) continue;
      budget -= n;
      plans[i].assign.assign(size_t(plans[i].rows), QuantKind::Fixed8);
      layerwise_info.push_back(plans[i].name);
    }
  }
  return layerwise_info;
}

namespace {

// Writes rows grouped by scheme (kGroupOrder): each group's codes and steps, appending its rows to perm (stored
// position -> original row) and its entry to groups; returns the summed code bits of all rows.
// The rows of each scheme (kGroupOrder: the file's group order) packed, for write_row_mixed, with the report's
// per-group statistics; returns the code bits of all rows.
double pack_row_groups(const std::vector<float>& w, int64_t rows, int64_t cols, const std::vector<QuantKind>& assign,
                       const std::vector<float>& row_step, const RowScores* scores, std::vector<PackedRowGroup>& groups,
                       nlohmann::json& rep_groups) {
  double bits = 0;
  for (QuantKind kind : kGroupOrder) {
    PackedRowGroup g{kind, {}, {}, {}};
    for (int64_t r = 0; r < rows; ++r)
      if (assign[size_t(r)] == kind) g.rows.push_back(int32_t(r));
    if (g.rows.empty()) continue;
    const QuantScheme& s = quant_scheme(kind);
    const size_t rb = quant_row_bytes(kind, cols);
    g.codes.resize(g.rows.size() * rb);
    g.steps.resize(g.rows.size());
    for (size_t j = 0; j < g.rows.size(); ++j) {
      g.steps[j] = row_step[size_t(g.rows[j])];
      quant_quantize_pack_row_with_step_ref(kind, w.data() + int64_t(g.rows[j]) * cols, cols, g.steps[j],
                                            g.codes.data() + j * rb);
    }
    bits += double(s.bits) * double(g.rows.size());
    nlohmann::json rg = {{"rows", g.rows.size()}};
    if (scores) {
      std::vector<double> sens, var;
      for (int32_t r : g.rows) {
        sens.push_back(std::min(scores->sens_fixed4[size_t(r)], scores->sens_pot4[size_t(r)]));
        var.push_back(scores->variance[size_t(r)]);
      }
      rg["hessian_score"] = stats(sens);
      rg["normalized_variance"] = stats(var);
    }
    rep_groups[s.name] = rg;
    groups.push_back(std::move(g));
  }
  return bits;
}

}  // namespace

QuantizedRows quantize_rows(const std::vector<float>& w_in, int64_t rows, int64_t cols,
                            const std::vector<QuantKind>& assign, ClipMode clip, const RowScores* scores,
                            const Eigen::MatrixXf* gptq_h, bool clip_hessian) {
  QuantizedRows qr;
  qr.kinds = assign;
  // Steps come from the original rows; error compensation then keeps them fixed.
  qr.steps.assign(static_cast<size_t>(rows), 1.f);
  for (int64_t r = 0; r < rows; ++r) {
    const QuantKind k = assign[size_t(r)];
    if (scores && k == QuantKind::Fixed4) qr.steps[size_t(r)] = scores->step_fixed4[size_t(r)];
    else if (scores && k == QuantKind::Pow2x4) qr.steps[size_t(r)] = scores->step_pot4[size_t(r)];
    else if (quant_is_integer(k)) qr.steps[size_t(r)] = quant_row_step(k, w_in.data() + r * cols, cols, clip);
  }
  if (clip_hessian && gptq_h) refine_steps_hessian(w_in.data(), rows, cols, assign, *gptq_h, qr.steps);
  qr.w = w_in;
  if (gptq_h) {
    gptq_quantize(qr.w, rows, cols, *gptq_h, assign, qr.steps);
    return qr;
  }
  std::vector<int8_t> q(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    const QuantKind k = assign[size_t(r)];
    if (!quant_is_integer(k)) continue;
    float* row = qr.w.data() + r * cols;
    quant_scheme(k).quantize_row(row, cols, qr.steps[size_t(r)], q.data());
    for (int64_t c = 0; c < cols; ++c) row[c] = qr.steps[size_t(r)] * float(q[size_t(c)]);
  }
  return qr;
}

void pack_linear_rows(ModelWriter& mw, const LinearToPack& l, nlohmann::json& linears, nlohmann::json& report_layer) {
  std::vector<PackedRowGroup> groups;
  nlohmann::json rep_groups = nlohmann::json::object();
  const QuantizedRows& qr = *l.rows;
  const double bits = pack_row_groups(qr.w, l.n_rows, l.n_cols, qr.kinds, qr.steps, l.scores, groups, rep_groups);
  linears[l.name] = write_row_mixed(mw, l.name, l.n_rows, l.n_cols, groups, l.bias->data(), l.act);
  report_layer = {{"name", l.name}, {"rows", l.n_rows}, {"cols", l.n_cols}, {"bits_per_weight", bits / double(l.n_rows)},
                  {"groups", rep_groups}, {"act", act_to_json(l.act)}};
}

QuantizedRows quantize_table(const std::vector<float>& w, int64_t rows, int64_t cols, QuantKind kind, ClipMode clip) {
  RMSMP_CHECK(quant_is_integer(kind), ErrorCode::InvalidArgument, "a quantized table needs an integer scheme");
  return quantize_rows(w, rows, cols, std::vector<QuantKind>(static_cast<size_t>(rows), kind), clip, nullptr, nullptr);
}

void pack_table_rows(ModelWriter& mw, const std::string& name, const QuantizedRows& qr, int64_t rows, int64_t cols,
                     nlohmann::json& tables, nlohmann::json& report) {
  std::vector<PackedRowGroup> groups;
  nlohmann::json rep_groups = nlohmann::json::object();
  const double bits = pack_row_groups(qr.w, rows, cols, qr.kinds, qr.steps, nullptr, groups, rep_groups);
  tables[name] = write_row_mixed(mw, name, rows, cols, groups, nullptr, ActQuant{});
  report = {{"name", name}, {"rows", rows}, {"cols", cols}, {"bits_per_weight", bits / double(rows)}, {"groups", rep_groups}};
}

}  // namespace rmsmp

// See vision_plan.h.
#include "vision_plan.h"

#include <cmath>
#include <set>

#include "qat_plan.h"
#include "rmsmp/error.h"

namespace rmsmp {

namespace {
constexpr const char* kQuantBias = ".bias.rmsmp_quant";
constexpr const char* kAct = ".rmsmp_act";
}  // namespace

void write_vision_plan(const std::string& path, const CnnModelSpec& spec, const VisionPlanLayers& layers) {
  QatPlan out;
  for (size_t i = 0; i < spec.convs.size(); ++i) {
    const ConvLayerSpec& c = spec.convs[i];
    const ActQuant& a = layers.acts[i];
    RMSMP_CHECK(!a.dynamic || a.per_tensor, ErrorCode::Unsupported,
                c.name << ": per-token dynamic activations have no place in a vision plan");
    out.fp32[c.name + ".weight"] = {{c.cout, c.cols()}, c.w};
    out.fp32[c.name + ".bias"] = {{c.cout}, c.bias};
    out.fp32[c.name + kQuantBias] = {{c.cout}, layers.biases[i]};
    out.fp32[c.name + kAct] = {{3}, {float(a.bits), a.per_tensor ? 0.f : a.clip, a.nonneg ? 1.f : 0.f}};
    out.quantized[c.name + ".weight"] = layers.rows[i];
    out.rows_cols[c.name + ".weight"] = {c.cout, c.cols()};
  }
  out.metadata = layers.metadata;
  write_qat_plan(path, out);
}

VisionPlanLayers read_vision_plan(const std::string& path, const CnnModelSpec& spec) {
  QatPlan plan = read_qat_plan(path);
  VisionPlanLayers l;
  l.metadata = plan.metadata;
  std::set<std::string> known;
  auto take = [&](const std::string& name, const std::vector<int64_t>& shape) -> std::vector<float>& {
    const auto it = plan.fp32.find(name);
    RMSMP_CHECK(it != plan.fp32.end() && it->second.first == shape, ErrorCode::InvalidFile,
                path << ": " << name << (it == plan.fp32.end() ? " is missing" : " has another shape than the model's"));
    known.insert(name);
    return it->second.second;
  };
  for (const ConvLayerSpec& c : spec.convs) {
    const std::string w = c.name + ".weight";
    RMSMP_CHECK(plan.quantized.count(w) && plan.rows_cols.at(w) == std::make_pair(c.cout, c.cols()),
                ErrorCode::InvalidFile,
                path << ": " << w << " has no quantized rows of " << c.cout << " x " << c.cols() << " (the model's conv)");
    // The teacher must be this checkpoint's, bit for bit: a plan trained from another checkpoint or another
    // folding would pack rows that belong to other weights.
    const std::vector<float>& tw = take(w, {c.cout, c.cols()});
    const std::vector<float>& tb = take(c.name + ".bias", {c.cout});
    for (size_t k = 0; k < tw.size(); ++k)
      RMSMP_CHECK(tw[k] == c.w[k], ErrorCode::InvalidFile,
                  path << ": " << w << " differs from the checkpoint's folded weight at " << k
                       << ": the plan was made from another checkpoint");
    RMSMP_CHECK(tb == c.bias, ErrorCode::InvalidFile,
                path << ": " << c.name << ".bias differs from the checkpoint's folded bias: the plan was made from "
                     "another checkpoint");
    std::vector<float> b = take(c.name + kQuantBias, {c.cout});
    for (size_t k = 0; k < b.size(); ++k)
      RMSMP_CHECK(std::isfinite(b[k]), ErrorCode::InvalidFile, path << ": " << c.name << kQuantBias << "[" << k << "] is " << b[k]);
    const std::vector<float>& av = take(c.name + kAct, {3});
    ActQuant a;
    RMSMP_CHECK((av[0] == 8 || av[0] == 4) && std::isfinite(av[1]) && av[1] >= 0 && (av[2] == 0 || av[2] == 1) &&
                    (av[0] == 8 || av[1] > 0),
                ErrorCode::InvalidFile,
                path << ": " << c.name << kAct << " = [" << av[0] << ", " << av[1] << ", " << av[2]
                     << "] is not [bits 8|4, clip >= 0 (> 0 at 4 bits), unsigned 0|1]");
    a.bits = int(av[0]);
    a.nonneg = av[2] == 1;
    a.per_tensor = av[1] == 0;
    a.dynamic = a.per_tensor;
    a.clip = av[1];
    l.rows.push_back(std::move(plan.quantized.at(w)));
    plan.quantized.erase(w);
    l.biases.push_back(std::move(b));
    l.acts.push_back(a);
  }
  RMSMP_CHECK(plan.quantized.empty(), ErrorCode::InvalidFile,
              path << ": " << plan.quantized.begin()->first << " is not a conv of this model");
  for (const auto& [name, t] : plan.fp32)
    RMSMP_CHECK(known.count(name), ErrorCode::InvalidFile, path << ": " << name << " is not a tensor of this model's plan");
  return l;
}

}  // namespace rmsmp

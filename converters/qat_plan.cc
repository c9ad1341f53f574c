// See qat_plan.h.
#include "qat_plan.h"

#include <cmath>

#include "rmsmp/error.h"

namespace rmsmp {

namespace {
constexpr const char* kDequant = ".rmsmp_dequant";
constexpr const char* kKind = ".rmsmp_kind";
constexpr const char* kStep = ".rmsmp_step";

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
}  // namespace

void write_qat_plan(const std::string& path, const QatPlan& plan) {
  F32TensorMap t = plan.fp32;
  for (const auto& [name, qr] : plan.quantized) {
    const auto [rows, cols] = plan.rows_cols.at(name);
    std::vector<float> kinds(qr.kinds.size());
    for (size_t r = 0; r < kinds.size(); ++r) kinds[r] = float(static_cast<int>(qr.kinds[r]));
    t[name + kDequant] = {{rows, cols}, qr.w};
    t[name + kKind] = {{rows}, kinds};
    t[name + kStep] = {{rows}, qr.steps};
  }
  auto meta = plan.metadata;
  meta["format"] = kQatPlanFormat;
  write_safetensors_f32(path, t, meta);
}

QatPlan read_qat_plan(const std::string& path) {
  SafetensorsFile st(path);
  QatPlan plan;
  plan.metadata = st.metadata();
  RMSMP_CHECK(plan.metadata.count("format") && plan.metadata.at("format") == kQatPlanFormat, ErrorCode::InvalidFile,
              path << ": not a QAT plan (__metadata__ format is not '" << kQatPlanFormat << "')");
  for (const auto& e : st.entries()) {
    if (ends_with(e.name, kKind) || ends_with(e.name, kStep)) continue;
    if (!ends_with(e.name, kDequant)) {
      plan.fp32[e.name] = {e.shape, st.read_f32(e.name)};
      continue;
    }
    const std::string w = e.name.substr(0, e.name.size() - std::string(kDequant).size());
    RMSMP_CHECK(e.shape.size() == 2, ErrorCode::InvalidFile, path << ": " << e.name << " is not a matrix");
    const int64_t rows = e.shape[0], cols = e.shape[1];
    for (const char* sfx : {kKind, kStep})
      RMSMP_CHECK(st.has(w + sfx) && st.entry(w + sfx).shape == std::vector<int64_t>{rows}, ErrorCode::InvalidFile,
                  path << ": " << w << sfx << " is missing or is not a vector of " << rows << " rows");
    QuantizedRows qr;
    qr.w = st.read_f32(e.name);
    qr.steps = st.read_f32(w + kStep);
    const std::vector<float> kinds = st.read_f32(w + kKind);
    std::vector<int8_t> q(static_cast<size_t>(cols));
    for (int64_t r = 0; r < rows; ++r) {
      const float kf = kinds[size_t(r)];
      RMSMP_CHECK(kf >= 0 && kf < float(QuantKind::Count) && kf == std::floor(kf), ErrorCode::InvalidFile,
                  path << ": " << w << kKind << " row " << r << " holds " << kf << ", not a scheme code");
      const QuantKind k = static_cast<QuantKind>(int(kf));
      qr.kinds.push_back(k);
      if (!quant_is_integer(k)) continue;
      const float step = qr.steps[size_t(r)];
      const float* row = qr.w.data() + r * cols;
      RMSMP_CHECK(std::isfinite(step) && step >= 0, ErrorCode::InvalidFile,
                  path << ": " << w << kStep << " row " << r << " is " << step);
      if (step == 0) {
        for (int64_t c = 0; c < cols; ++c)
          RMSMP_CHECK(row[c] == 0, ErrorCode::InvalidFile, path << ": " << w << " row " << r << " has step 0 but a non-zero value");
        continue;
      }
      quant_scheme(k).quantize_row(row, cols, step, q.data());
      for (int64_t c = 0; c < cols; ++c) {
        const float want = step * float(q[size_t(c)]);
        RMSMP_CHECK(std::fabs(row[c] - want) <= 1e-6f * std::max(std::fabs(want), step), ErrorCode::InvalidFile,
                    path << ": " << w << kDequant << " row " << r << " column " << c << " = " << row[c]
                         << " is not on its " << quant_scheme(k).name << " grid (step " << step << ", nearest "
                         << want << ")");
      }
    }
    plan.rows_cols[w] = {rows, cols};
    plan.quantized[w] = std::move(qr);
  }
  return plan;
}

}  // namespace rmsmp

// See row_mixed_binding.h. Activation modes: "dynamic" (per token), "static" (clip), "dynamic_tensor" (per
// input tensor, CNN layers); "signed": false marks an input that follows a ReLU (ActQuant::nonneg).
#include "models/row_mixed_binding.h"

#include <cmath>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/model_format.h"
#include "rmsmp/error.h"

namespace rmsmp {

RowMixedLinear bind_row_mixed_linear(const ModelFile& f, const std::string& name, int64_t rows, int64_t cols) {
  const std::string where = f.path() + ": layer '" + name + "'";
  RowMixedLinear L;
  L.name = name;
  L.rows = rows;
  L.cols = cols;
  try {
    const nlohmann::json& j = f.header().at("linears").at(name);
    RMSMP_CHECK(j.at("rows").get<int64_t>() == rows && j.at("cols").get<int64_t>() == cols, ErrorCode::InvalidFile,
                where << " is " << j.at("rows").get<int64_t>() << "x" << j.at("cols").get<int64_t>()
                      << " but the architecture config requires " << rows << "x" << cols);
    L.perm = static_cast<const int32_t*>(f.tensor_data(j.at("perm").get<std::string>(), DType::I32, {rows}));
    if (!j.at("bias").is_null()) L.bias = f.f32(j.at("bias").get<std::string>(), {rows});
    const auto& a = j.at("act");
    L.act.bits = a.at("bits").get<int>();
    const std::string mode = a.at("mode").get<std::string>();
    RMSMP_CHECK(mode == "dynamic" || mode == "static" || mode == "dynamic_tensor", ErrorCode::InvalidFile,
                where << ": unknown activation mode '" << mode << "'");
    L.act.dynamic = mode != "static";
    L.act.per_tensor = mode == "dynamic_tensor";
    L.act.nonneg = !a.value("signed", true);
    L.act.clip = a.value("clip", 0.f);
    RMSMP_CHECK(L.act.bits == 8 || L.act.bits == 4, ErrorCode::InvalidFile, where << ": activation bits must be 8 or 4");
    RMSMP_CHECK(L.act.dynamic || (std::isfinite(L.act.clip) && L.act.clip > 0.f), ErrorCode::InvalidFile,
                where << ": static activation quantization needs a positive clip");
    int64_t total = 0;
    for (const auto& gj : j.at("groups")) {
      RowGroup g;
      auto kind = quant_kind_from_name(gj.at("scheme").get<std::string>());
      RMSMP_CHECK(kind, ErrorCode::InvalidFile, where << ": unknown scheme '" << gj.at("scheme").get<std::string>() << "'");
      g.kind = *kind;
      g.rows = gj.at("rows").get<int64_t>();
      RMSMP_CHECK(g.rows >= 0 && g.rows <= rows - total, ErrorCode::InvalidFile, where << ": group rows exceed layer rows");
      g.codes = static_cast<const uint8_t*>(f.tensor_data(gj.at("codes").get<std::string>(), DType::U8,
                                                          {g.rows, int64_t(quant_row_bytes(g.kind, cols))}));
      g.steps = nullptr;
      if (quant_is_integer(g.kind)) {
        g.steps = f.f32(gj.at("steps").get<std::string>(), {g.rows});
        for (int64_t i = 0; i < g.rows; ++i)
          RMSMP_CHECK(std::isfinite(g.steps[i]) && g.steps[i] >= 0.f, ErrorCode::InvalidFile,
                      where << ": row step " << i << " of group " << gj.at("scheme").get<std::string>()
                            << " is negative or not finite");
      }
      total += g.rows;
      L.groups.push_back(g);
    }
    RMSMP_CHECK(total == rows, ErrorCode::InvalidFile, where << ": groups hold " << total << " rows, layer has " << rows);
  } catch (const nlohmann::json::exception& e) {
    RMSMP_FAIL(ErrorCode::InvalidFile, where << ": malformed entry: " << e.what());
  }
  // perm must be a permutation: kernels index outputs with it.
  std::vector<uint8_t> seen(size_t(rows), 0);
  for (int64_t i = 0; i < rows; ++i) {
    const int32_t r = L.perm[i];
    RMSMP_CHECK(r >= 0 && r < rows && !seen[size_t(r)], ErrorCode::InvalidFile,
                where << ": row permutation is invalid at position " << i);
    seen[size_t(r)] = 1;
  }
  return L;
}

}  // namespace rmsmp

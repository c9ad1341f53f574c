// See row_mixed_binding.h. Activation modes: "dynamic" (per token), "static" (clip), "dynamic_tensor" (per
// input tensor, CNN layers); "signed": false marks an input that follows a ReLU (ActQuant::nonneg).
#include "models/row_mixed_binding.h"

#include <cmath>
#include <cstring>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/model_format.h"
#include "rmsmp/error.h"

namespace rmsmp {

namespace {

void bind_act(const ModelFile& f, const nlohmann::json& j, const std::string& where, int64_t rows, RowMixedLinear& L) {
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
}

// A "linears" entry (is_linear: bias and act too) or a "tables" entry (rows, cols, perm, groups only).
RowMixedLinear bind_rows(const ModelFile& f, bool is_linear, const std::string& name, int64_t rows, int64_t cols) {
  const char* section = is_linear ? "linears" : "tables";
  const std::string where = f.path() + ": " + (is_linear ? "layer '" : "table '") + name + "'";
  RowMixedLinear L;
  L.name = name;
  L.rows = rows;
  L.cols = cols;
  try {
    RMSMP_CHECK(f.header().contains(section) && f.header()[section].contains(name), ErrorCode::InvalidFile,
                where << " is missing from the header's \"" << section << "\" section");
    const nlohmann::json& j = f.header()[section][name];
    RMSMP_CHECK(j.at("rows").get<int64_t>() == rows && j.at("cols").get<int64_t>() == cols, ErrorCode::InvalidFile,
                where << " is " << j.at("rows").get<int64_t>() << "x" << j.at("cols").get<int64_t>()
                      << " but the architecture config requires " << rows << "x" << cols);
    L.perm = static_cast<const int32_t*>(f.tensor_data(j.at("perm").get<std::string>(), DType::I32, {rows}));
    if (is_linear) bind_act(f, j, where, rows, L);
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
      if (g.kind == QuantKind::Fixed8) {  // q = -128 is outside the scheme ([-127, 127]); the SIMD kernels'
        // sign trick (|x| against sign(w, x)) would negate it to itself, so such a file is refused here.
        const size_t n = size_t(g.rows) * quant_row_bytes(g.kind, cols);
        const void* bad = std::memchr(g.codes, 0x80, n);
        RMSMP_CHECK(bad == nullptr, ErrorCode::InvalidFile,
                    where << ": fixed8 code -128 at byte " << (static_cast<const uint8_t*>(bad) - g.codes)
                          << " of its group (codes are in [-127, 127])");
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

}  // namespace

RowMixedLinear bind_row_mixed_linear(const ModelFile& f, const std::string& name, int64_t rows, int64_t cols) {
  return bind_rows(f, true, name, rows, cols);
}

RowMixedTable bind_row_mixed_table(const ModelFile& f, const std::string& name, int64_t rows, int64_t cols) {
  RowMixedTable t;
  t.rows = bind_rows(f, false, name, rows, cols);
  for (const RowGroup& g : t.rows.groups)
    RMSMP_CHECK(quant_is_integer(g.kind), ErrorCode::InvalidFile,
                f.path() << ": table '" << name << "' has a " << quant_scheme(g.kind).name << " group; tables are integer rows");
  t.slot.resize(size_t(rows));
  int64_t s = 0;
  for (int32_t gi = 0; gi < int32_t(t.rows.groups.size()); ++gi)
    for (int64_t j = 0; j < t.rows.groups[size_t(gi)].rows; ++j, ++s) t.slot[size_t(t.rows.perm[s])] = {gi, int32_t(j)};
  return t;
}

void RowMixedTable::row(int64_t r, int8_t* scratch, float* out) const {
  const Slot sl = slot[size_t(r)];
  const RowGroup& g = rows.groups[size_t(sl.group)];
  const QuantScheme& s = quant_scheme(g.kind);
  s.unpack_row(g.codes + size_t(sl.index) * quant_row_bytes(g.kind, rows.cols), rows.cols, scratch);
  const float step = g.steps[sl.index];
  for (int64_t i = 0; i < rows.cols; ++i) out[i] = float(scratch[i]) * step;
}

}  // namespace rmsmp

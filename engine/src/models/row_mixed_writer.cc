// See row_mixed_writer.h.
#include "models/row_mixed_writer.h"

#include "io/model_format.h"

namespace rmsmp {

nlohmann::json act_to_json(const ActQuant& a) {
  nlohmann::json j = {{"bits", a.bits}, {"mode", a.per_tensor ? "dynamic_tensor" : a.dynamic ? "dynamic" : "static"},
                      {"clip", a.clip}};
  if (a.nonneg) j["signed"] = false;
  return j;
}

nlohmann::json write_row_mixed(ModelWriter& mw, const std::string& name, int64_t rows, int64_t cols,
                               const std::vector<PackedRowGroup>& groups, const float* bias, const ActQuant& act) {
  nlohmann::json gj = nlohmann::json::array();
  std::vector<int32_t> perm;
  for (const PackedRowGroup& g : groups) {
    const QuantScheme& s = quant_scheme(g.kind);
    const int64_t n = int64_t(g.rows.size());
    const std::string gname = name + ".g_" + s.name;
    nlohmann::json e = {{"scheme", s.name},
                        {"rows", n},
                        {"codes", mw.add_tensor(gname + ".codes", DType::U8, {n, int64_t(quant_row_bytes(g.kind, cols))},
                                                g.codes.data())}};
    e["steps"] = quant_is_integer(g.kind) ? nlohmann::json(mw.add_tensor(gname + ".steps", DType::F32, {n}, g.steps.data()))
                                          : nlohmann::json(nullptr);
    gj.push_back(e);
    perm.insert(perm.end(), g.rows.begin(), g.rows.end());
  }
  nlohmann::json entry = {{"rows", rows}, {"cols", cols}, {"perm", mw.add_tensor(name + ".perm", DType::I32, {rows}, perm.data())}};
  if (bias) entry["bias"] = mw.add_tensor(name + ".bias", DType::F32, {rows}, bias);
  entry["groups"] = gj;
  if (bias) entry["act"] = act_to_json(act);
  return entry;
}

}  // namespace rmsmp

// Binds a CNN graph from a .rmsmp file (format in cnn.h): the graph as cnn_schema_from_json reads and checks it,
// then every conv's layer, which must be Cout x (kh * kw * Cin / groups).
#include <string>

#include <nlohmann/json.hpp>

#include "io/model_format.h"
#include "models/cnn.h"
#include "models/cnn_schema.h"
#include "models/row_mixed_binding.h"
#include "rmsmp/error.h"

namespace rmsmp {

bool is_cnn_header(const nlohmann::json& h) {
  return h.contains("architecture") && h["architecture"].is_object() && h["architecture"].value("type", "") == "cnn";
}

namespace {

CnnGraph::Unpacked unpack_layer(const RowMixedLinear& L, const std::string& where) {
  CnnGraph::Unpacked u;
  bool any_int = false, any_f32 = false;
  for (const RowGroup& g : L.groups) (quant_is_integer(g.kind) ? any_int : any_f32) = true;
  RMSMP_CHECK(!(any_int && any_f32), ErrorCode::Unsupported, where << ": a grouped conv mixes fp32 and integer rows");
  u.integer = !any_f32;
  const int64_t K = L.cols;
  if (u.integer) u.q.resize(size_t(L.rows * K)), u.step.resize(size_t(L.rows));
  else u.f.resize(size_t(L.rows * K));
  int64_t off = 0;
  for (const RowGroup& g : L.groups) {
    const size_t rb = quant_row_bytes(g.kind, K);
    for (int64_t j = 0; j < g.rows; ++j) {
      const int64_t r = L.perm[off + j];
      const uint8_t* row = g.codes + size_t(j) * rb;
      if (u.integer) {
        quant_scheme(g.kind).unpack_row(row, K, u.q.data() + r * K);
        u.step[size_t(r)] = g.steps[j];
      } else {
        const float* wr = reinterpret_cast<const float*>(row);
        std::copy(wr, wr + K, u.f.begin() + r * K);
      }
    }
    off += g.rows;
  }
  return u;
}

}  // namespace

CnnGraph cnn_bind(const ModelFile& f) {
  CnnGraph g;
  const std::string where = f.path();
  RMSMP_CHECK(is_cnn_header(f.header()), ErrorCode::InvalidFile, where << ": not a CNN model file");
  CnnSchema s = cnn_schema_from_json(f.header()["architecture"], where);  // every check that needs no weights
  g.name = std::move(s.name);
  g.num_classes = s.num_classes;
  g.labels = std::move(s.labels);
  g.input = std::move(s.input);
  g.values = std::move(s.values);
  g.nodes = std::move(s.nodes);
  g.output = s.output;
  g.last_use.assign(g.values.size(), -1);
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    CnnNode& n = g.nodes[k];
    g.last_use[size_t(n.in)] = int(k);
    if (n.op != CnnNode::Op::Conv) continue;
    if (n.residual >= 0) g.last_use[size_t(n.residual)] = int(k);
    const std::string nw = where + ": node " + std::to_string(k) + " (conv)";
    const CnnValue &vi = g.values[size_t(n.in)], &vo = g.values[size_t(n.out)];
    g.layers.push_back(bind_row_mixed_linear(f, s.layer_names[size_t(n.layer)], vo.c, n.kh * n.kw * (vi.c / n.groups)));
    RMSMP_CHECK(!g.layers.back().act.dynamic || g.layers.back().act.per_tensor, ErrorCode::InvalidFile,
                nw << ": a conv's activations are quantized per tensor (dynamic_tensor or static)");
    n.layer = int(g.layers.size()) - 1;
    g.unpacked.emplace_back();
    if (n.groups > 1) {
      CnnGraph::Unpacked& u = g.unpacked.back();
      u = unpack_layer(g.layers.back(), nw);
      if (n.groups == vi.c && n.groups == vo.c && n.kh * n.kw <= CnnGraph::kMaxTapMajorTaps) {  // depthwise: [c][tap] -> [tap][c]
        const int64_t taps = n.kh * n.kw, C = vo.c;
        std::vector<int8_t> qt(u.q.size());
        std::vector<float> ft(u.f.size());
        for (int64_t c = 0; c < C; ++c)
          for (int64_t t = 0; t < taps; ++t) {
            if (u.integer) qt[size_t(t * C + c)] = u.q[size_t(c * taps + t)];
            else ft[size_t(t * C + c)] = u.f[size_t(c * taps + t)];
          }
        u.q.swap(qt);
        u.f.swap(ft);
        u.tap_major = true;
      }
    }
  }
  return g;
}

}  // namespace rmsmp

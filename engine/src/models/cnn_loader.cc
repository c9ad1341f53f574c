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
    g.unpacked.emplace_back();  // grouped layers: filled by cnn_prepare (Backend::prepare_grouped)
    g.grouped.push_back(n.groups > 1);
  }
  return g;
}

}  // namespace rmsmp

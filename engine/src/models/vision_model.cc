// rmsmp::VisionModel: the model file, its bound CNN graph and a backend.
#include "rmsmp/vision.h"

#include <nlohmann/json.hpp>

#include "backends/backend.h"
#include "io/model_format.h"
#include "models/cnn.h"

namespace rmsmp {

struct VisionModel::Impl {
  std::shared_ptr<const ModelFile> file;
  CnnGraph graph;
  std::unique_ptr<Backend> backend;
  VisionInfo info;
};

VisionModel::VisionModel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
VisionModel::~VisionModel() = default;
const VisionInfo& VisionModel::info() const { return impl_->info; }
std::string VisionModel::header_json() const { return impl_->file->header().dump(); }

std::shared_ptr<const VisionModel> VisionModel::load(const std::string& path, const LoadOptions& opts) {
  auto impl = std::make_unique<Impl>();
  ModelFile::Options fo;
  fo.verify_checksum = opts.verify_checksum;
  impl->file = ModelFile::open(path, fo);
  const auto& h = impl->file->header();
  RMSMP_CHECK(is_cnn_header(h), ErrorCode::InvalidFile,
              path << ": not a vision model (architecture type '"
                   << (h.contains("architecture") ? h["architecture"].value("type", "?") : std::string("none"))
                   << "'); text models load with rmsmp::Model");
  impl->graph = cnn_bind(*impl->file);
  impl->backend = make_backend(opts.backend);
  cnn_prepare(impl->graph, *impl->backend, *impl->file);
  const CnnGraph& g = impl->graph;
  VisionInfo& vi = impl->info;
  vi.path = path;
  vi.name = g.name;
  vi.file_bytes = impl->file->file_bytes();
  vi.backend = impl->backend->name();
  vi.num_classes = g.num_classes;
  vi.labels = g.labels;
  vi.channels = g.input.channels;
  vi.height = g.input.height;
  vi.width = g.input.width;
  vi.resize = g.input.resize;
  vi.crop = g.input.crop;
  vi.mean = g.input.mean;
  vi.std = g.input.std;
  if (h.contains("quantization")) {
    vi.scheme = h["quantization"].value("scheme", "unknown");
    vi.avg_weight_bits = h["quantization"].value("avg_weight_bits", 32.0);
    vi.act_bits = h["quantization"].value("act_bits", 32);
  }
  double macs = 0;
  for (const CnnNode& n : g.nodes)
    if (n.op == CnnNode::Op::Conv) {
      const CnnValue& o = g.values[size_t(n.out)];
      macs += double(o.h * o.w) * double(g.layers[size_t(n.layer)].rows) * double(g.layers[size_t(n.layer)].cols);
      ++vi.conv_layers;
    }
  vi.gmacs = macs / 1e9;
  return std::shared_ptr<const VisionModel>(new VisionModel(std::move(impl)));
}

std::vector<float> VisionModel::logits(const float* image_nhwc, int64_t n_values) const {
  const CnnValue& in = impl_->graph.values[0];
  RMSMP_CHECK(n_values == in.size(), ErrorCode::InvalidArgument,
              impl_->info.path << ": image has " << n_values << " values, the model takes " << in.h << "x" << in.w
                               << "x" << in.c << " = " << in.size());
  return cnn_forward(impl_->graph, *impl_->backend, image_nhwc);
}

std::vector<float> VisionModel::logits_chw(const float* chw, int64_t n_values) const {
  const CnnValue& in = impl_->graph.values[0];
  RMSMP_CHECK(n_values == in.size(), ErrorCode::InvalidArgument,
              impl_->info.path << ": image has " << n_values << " values, the model takes " << in.c << "x" << in.h
                               << "x" << in.w << " = " << in.size());
  std::vector<float> nhwc(size_t(in.size()));
  const int64_t P = in.h * in.w;
  for (int64_t c = 0; c < in.c; ++c)
    for (int64_t p = 0; p < P; ++p) nhwc[size_t(p * in.c + c)] = chw[c * P + p];
  return cnn_forward(impl_->graph, *impl_->backend, nhwc.data());
}

}  // namespace rmsmp

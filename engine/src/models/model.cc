// rmsmp::Model: ties the model file, the tokenizer built from its header, the bound weights and a backend.
#include "rmsmp/model.h"

#include <nlohmann/json.hpp>

#include "backends/backend.h"
#include "io/model_format.h"
#include "models/bert.h"
#include "models/tokenizer_config.h"

namespace rmsmp {

struct Model::Impl {
  std::shared_ptr<const ModelFile> file;
  BertWeights weights;
  std::unique_ptr<tok::Tokenizer> tokenizer;
  std::unique_ptr<Backend> backend;
  ModelInfo info;
};

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::~Model() = default;
const ModelInfo& Model::info() const { return impl_->info; }
std::string Model::header_json() const {
  nlohmann::json h = impl_->file->header();
  return h.dump();
}

std::shared_ptr<const Model> Model::load(const std::string& path, const LoadOptions& opts) {
  auto impl = std::make_unique<Impl>();
  ModelFile::Options fo;
  fo.verify_checksum = opts.verify_checksum;
  impl->file = ModelFile::open(path, fo);
  impl->weights = bert_bind(*impl->file);
  impl->tokenizer = tokenizer_from_header(impl->file->header(), path, impl->file.get());
  RMSMP_CHECK(int64_t(impl->tokenizer->vocab_size()) == impl->weights.cfg.vocab_size, ErrorCode::InvalidFile,
              path << ": tokenizer has " << impl->tokenizer->vocab_size() << " tokens but vocab_size is "
                   << impl->weights.cfg.vocab_size);
  impl->backend = make_backend(opts.backend);
  const auto& h = impl->file->header();
  ModelInfo& mi = impl->info;
  mi.path = path;
  mi.file_bytes = impl->file->file_bytes();
  mi.hidden_size = impl->weights.cfg.hidden_size;
  mi.max_seq_length = impl->weights.cfg.max_seq_length;
  mi.backend = impl->backend->name();
  if (h.contains("quantization")) {
    mi.scheme = h["quantization"].value("scheme", "unknown");
    mi.avg_weight_bits = h["quantization"].value("avg_weight_bits", 32.0);
  }
  return std::shared_ptr<const Model>(new Model(std::move(impl)));
}

Tokenized Model::tokenize(std::string_view text, std::optional<std::string_view> pair) const {
  try {
    tok::Encoding e = impl_->tokenizer->encode(text, pair, size_t(impl_->weights.cfg.max_seq_length));
    return Tokenized{std::move(e.ids), std::move(e.type_ids), e.truncated, e.untruncated_length};
  } catch (const tok::TokenizerError& e) {
    throw Error(ErrorCode::InvalidText, e.what());
  }
}

std::vector<int32_t> Model::tokenize_raw(std::string_view text) const {
  try {
    return impl_->tokenizer->encode_raw(text);
  } catch (const tok::TokenizerError& e) {
    throw Error(ErrorCode::InvalidText, e.what());
  }
}

std::vector<std::vector<float>> Model::embed(const std::vector<Tokenized>& batch) const {
  const BertConfig& c = impl_->weights.cfg;
  std::vector<SequenceInput> seqs;
  for (size_t b = 0; b < batch.size(); ++b) {
    const Tokenized& t = batch[b];
    RMSMP_CHECK(!t.ids.empty() && t.ids.size() == t.type_ids.size(), ErrorCode::InvalidArgument,
                "input " << b << ": ids and type_ids must be non-empty and of equal length");
    RMSMP_CHECK(int64_t(t.ids.size()) <= c.max_seq_length, ErrorCode::InvalidArgument,
                "input " << b << ": " << t.ids.size() << " tokens exceed max_seq_length " << c.max_seq_length);
    for (size_t i = 0; i < t.ids.size(); ++i) {
      RMSMP_CHECK(t.ids[i] >= 0 && t.ids[i] < c.vocab_size, ErrorCode::InvalidArgument,
                  "input " << b << ": token id " << t.ids[i] << " outside the vocabulary");
      RMSMP_CHECK(t.type_ids[i] >= 0 && t.type_ids[i] < c.type_vocab_size, ErrorCode::InvalidArgument,
                  "input " << b << ": token type id " << t.type_ids[i] << " out of range");
    }
    seqs.push_back({t.ids.data(), t.type_ids.data(), int64_t(t.ids.size())});
  }
  std::vector<float> pooled(batch.size() * size_t(c.hidden_size));
  if (!seqs.empty()) bert_forward(impl_->weights, *impl_->backend, seqs, pooled.data());
  std::vector<std::vector<float>> out(batch.size());
  for (size_t b = 0; b < batch.size(); ++b)
    out[b].assign(pooled.begin() + b * c.hidden_size, pooled.begin() + (b + 1) * c.hidden_size);
  return out;
}

}  // namespace rmsmp

// rmsmp::Model: ties the model file, the tokenizer built from its header, the bound weights and a backend.
#include "rmsmp/model.h"

#include <cmath>

#include <nlohmann/json.hpp>

#include "backends/backend.h"
#include "io/model_format.h"
#include "models/bert.h"
#include "models/cnn.h"
#include "models/model_impl.h"
#include "models/tokenizer_config.h"

namespace rmsmp {



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
  RMSMP_CHECK(!is_cnn_header(impl->file->header()), ErrorCode::Unsupported,
              path << ": is a vision (CNN) model; load it with rmsmp::VisionModel (rmsmp-run classify | imagenet)");
  impl->weights = bert_bind(*impl->file);
  impl->tokenizer = tokenizer_from_header(impl->file->header(), path, impl->file.get());
  RMSMP_CHECK(int64_t(impl->tokenizer->vocab_size()) == impl->weights.cfg.vocab_size, ErrorCode::InvalidFile,
              path << ": tokenizer has " << impl->tokenizer->vocab_size() << " tokens but vocab_size is "
                   << impl->weights.cfg.vocab_size);
  impl->backend = make_backend(opts.backend);
  std::vector<RowMixedLinear*> linears;
  for (BertLayerWeights& L : impl->weights.layers)
    for (RowMixedLinear* lin : {&L.q, &L.k, &L.v, &L.attn_out, &L.ffn_in, &L.ffn_out}) linears.push_back(lin);
  // Every gap reported now, none mid-forward; then the backend-specific weight layouts, once.
  check_layers(*impl->backend, {linears.begin(), linears.end()}, path);
  for (RowMixedLinear* lin : linears) prepare_linear(*impl->backend, *impl->file, *lin);
  const auto& h = impl->file->header();
  ModelInfo& mi = impl->info;
  mi.path = path;
  mi.file_bytes = impl->file->file_bytes();
  mi.hidden_size = impl->weights.cfg.hidden_size;
  mi.max_seq_length = impl->weights.cfg.max_seq_length;
  mi.vocab_size = impl->weights.cfg.vocab_size;
  mi.pooling = pooling_name(impl->weights.cfg.pooling);
  mi.embedding_size = impl->weights.cfg.embedding_size();
  mi.normalize = impl->weights.cfg.normalize;
  mi.backend = impl->backend->name();
  if (h.contains("quantization")) {
    mi.scheme = h["quantization"].value("scheme", "unknown");
    mi.avg_weight_bits = h["quantization"].value("avg_weight_bits", 32.0);
  }
  if (impl->weights.num_labels > 0) {  // validated by bert_bind
    mi.num_labels = int(impl->weights.num_labels);
    mi.labels = h["head"]["labels"].get<std::vector<std::string>>();
    mi.regression = h["head"].value("problem_type", "") == "regression";
  }
  return std::shared_ptr<const Model>(new Model(std::move(impl)));
}

Tokenized Model::tokenize(std::string_view text, std::optional<std::string_view> pair) const {
  try {
    tok::Encoding e = impl_->tokenizer->encode(text, pair, size_t(impl_->weights.cfg.max_seq_length));
    if (impl_->weights.cfg.type_vocab_size == 1) e.type_ids.assign(e.ids.size(), 0);  // DistilBERT pairs
    return Tokenized{std::move(e.ids), std::move(e.type_ids), e.truncated, e.untruncated_length, e.untruncated_exact};
  } catch (const tok::TokenizerError& e) {
    throw Error(ErrorCode::InvalidText, e.what());
  }
}

std::string Model::token_piece(int32_t id) const { return impl_->tokenizer->piece(id); }

Model::TokenSpans Model::tokenize_raw_spans(std::string_view text) const {
  TokenSpans t;
  try {
    if (!impl_->tokenizer->encode_raw_spans(text, t.ids, t.spans)) t.ids = impl_->tokenizer->encode_raw(text), t.spans.clear();
  } catch (const tok::TokenizerError& e) {
    throw Error(ErrorCode::InvalidText, e.what());
  }
  return t;
}

std::vector<int32_t> Model::tokenize_raw(std::string_view text) const {
  try {
    return impl_->tokenizer->encode_raw(text);
  } catch (const tok::TokenizerError& e) {
    throw Error(ErrorCode::InvalidText, e.what());
  }
}

std::vector<SequenceInput> checked_inputs(const BertConfig& c, const std::vector<Tokenized>& batch) {
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
  return seqs;
}

namespace {
// Tokens per encoder pass: a larger batch runs as consecutive passes of at most this many tokens (whole
// sequences; one longer sequence alone). The workspaces and the kernels' per-thread scratch grow with the
// tokens of one pass and are kept for the next call, so this bounds resident memory whatever the batch
// (256 texts of 256 tokens in one pass: 3 GB RSS kept, and 21-30 s on 2 cores from cache misses). GEMM
// efficiency is flat well below it. Quantized models give the same bits per sequence in any split (their
// activations are quantized per token); fp32 GEMM sums may differ in the last bits with the pass's size.
// 2048 rather than 4096: rmsmp-serve with 32 clients of 126-token texts (MiniLM, batches of about 4,000 tokens)
// peaked at 92-94 MB RSS against 131-140 MB, at the same or higher throughput (benchmarks/serve_load.py, two
// interleaved runs: 134 / 123 against 129 / 98 inputs/s).
constexpr int64_t kMaxPassTokens = 2048;

void forward_in_passes(const BertWeights& w, const Backend& be, const std::vector<SequenceInput>& seqs, float* pooled,
                       BertRunOptions ro) {
  const int64_t H = w.cfg.hidden_size, P = w.cfg.pooled_size();
  float* const cls = ro.cls_out;
  for (size_t b0 = 0; b0 < seqs.size();) {
    size_t b1 = b0;
    int64_t tokens = 0;
    while (b1 < seqs.size() && (b1 == b0 || tokens + seqs[b1].len <= kMaxPassTokens)) tokens += seqs[b1++].len;
    const std::vector<SequenceInput> pass(seqs.begin() + std::ptrdiff_t(b0), seqs.begin() + std::ptrdiff_t(b1));
    ro.cls_out = cls ? cls + int64_t(b0) * H : nullptr;
    bert_forward(w, be, pass, pooled + int64_t(b0) * P, ro);
    b0 = b1;
  }
}
}  // namespace

std::vector<std::vector<float>> run_embed(const Model::Impl& m, const std::vector<Tokenized>& batch, int normalize,
                                          BertWorkspace* ws) {
  const BertConfig& c = m.weights.cfg;
  const std::vector<SequenceInput> seqs = checked_inputs(c, batch);
  std::vector<float> pooled(batch.size() * size_t(c.pooled_size()));
  BertRunOptions ro;
  ro.workspace = ws;
  forward_in_passes(m.weights, *m.backend, seqs, pooled.data(), ro);
  const size_t E = size_t(c.embedding_size());
  std::vector<float> emb(batch.size() * E);
  sentence_head(m.weights, pooled.data(), int64_t(batch.size()), normalize < 0 ? c.normalize : normalize > 0, emb.data());
  std::vector<std::vector<float>> out(batch.size());
  for (size_t b = 0; b < batch.size(); ++b) out[b].assign(emb.begin() + b * E, emb.begin() + (b + 1) * E);
  return out;
}

std::vector<std::vector<float>> run_classify(const Model::Impl& m, const std::vector<Tokenized>& batch,
                                             BertWorkspace* ws) {
  const BertWeights& w = m.weights;
  const int64_t H = w.cfg.hidden_size, L = w.num_labels;
  RMSMP_CHECK(L > 0, ErrorCode::Unsupported, m.info.path << ": the model has no classification head");
  const std::vector<SequenceInput> seqs = checked_inputs(w.cfg, batch);
  std::vector<float> pooled(batch.size() * size_t(w.cfg.pooled_size())), cls(batch.size() * size_t(H));
  BertRunOptions ro;
  ro.workspace = ws;
  ro.cls_out = cls.data();
  forward_in_passes(w, *m.backend, seqs, pooled.data(), ro);
  std::vector<std::vector<float>> out(batch.size(), std::vector<float>(size_t(L)));
  std::vector<double> p(static_cast<size_t>(H));
  for (size_t b = 0; b < batch.size(); ++b) {  // a few thousand MACs per input: plain loops
    const float* x = cls.data() + b * size_t(H);
    for (int64_t i = 0; i < H; ++i) {
      double acc = w.pooler_b[i];
      for (int64_t j = 0; j < H; ++j) acc += double(w.pooler_w[i * H + j]) * x[j];
      p[size_t(i)] = w.pooler_relu ? (acc > 0 ? acc : 0.0) : std::tanh(acc);
    }
    for (int64_t o = 0; o < L; ++o) {
      double acc = w.cls_b[o];
      for (int64_t j = 0; j < H; ++j) acc += double(w.cls_w[o * H + j]) * p[size_t(j)];
      out[b][size_t(o)] = float(acc);
    }
  }
  return out;
}

std::vector<std::vector<float>> Model::embed(const std::vector<Tokenized>& batch) const {
  return run_embed(*impl_, batch, -1, nullptr);
}

std::vector<std::vector<float>> Model::classify(const std::vector<Tokenized>& batch) const {
  return run_classify(*impl_, batch, nullptr);
}

}  // namespace rmsmp

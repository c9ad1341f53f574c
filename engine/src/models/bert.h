// BERT encoder: config, weight views, and the forward pass over a packed (padding-free) batch.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "backends/backend.h"
#include "models/row_mixed_binding.h"
#include "quant/row_mixed.h"

namespace rmsmp {

class ModelFile;

// sentence-transformers' pooling modes, one bit each. Several are concatenated in this order, as their
// Pooling module does: [cls | max | mean | mean / sqrt(len) ...], hidden_size floats each.
enum PoolingMode : unsigned { kPoolCls = 1, kPoolMax = 2, kPoolMean = 4, kPoolMeanSqrtLen = 8 };
std::string pooling_name(unsigned modes);  // "mean", "cls+max+mean", ...
unsigned pooling_from_name(const std::string& name, const std::string& where);  // throws InvalidFile

// A sentence-transformers Dense module after pooling: y = act(W x + b), fp32 (one vector per text).
enum class DenseActivation { Identity, Tanh, Relu, Gelu };
struct DenseSpec {
  int64_t in = 0, out = 0;
  bool bias = true;
  DenseActivation act = DenseActivation::Tanh;
};

struct BertConfig {
  int64_t vocab_size = 0, hidden_size = 0, num_layers = 0, num_heads = 0, intermediate_size = 0;
  int64_t max_position_embeddings = 0, type_vocab_size = 0;
  float layer_norm_eps = 1e-12f;
  unsigned pooling = kPoolMean;  // PoolingMode bits
  std::vector<DenseSpec> dense;  // applied in order after pooling, before normalisation
  // MPNet's relative position bias (0 buckets: none): T5-style buckets of j - i, one table for every layer.
  int64_t rel_buckets = 0, rel_max_distance = 128;
  bool normalize = true;
  int64_t max_seq_length = 512;  // tokens incl. [CLS]/[SEP]; <= max_position_embeddings

  int64_t pooled_size() const;     // hidden_size x the number of pooling modes
  int64_t embedding_size() const;  // the last Dense module's out, else pooled_size()

  static BertConfig from_json(const nlohmann::json& arch, const std::string& where);  // validates
  nlohmann::json to_json() const;
};

struct BertLayerWeights {
  RowMixedLinear q, k, v, attn_out, ffn_in, ffn_out;
  const float *ln_attn_g = nullptr, *ln_attn_b = nullptr, *ln_ffn_g = nullptr, *ln_ffn_b = nullptr;
  std::vector<const RowMixedLinear*> linears() const { return {&q, &k, &v, &attn_out, &ffn_in, &ffn_out}; }
};

struct BertWeights {
  BertConfig cfg;
  // Word embeddings: fp32 rows (word_emb), or row-quantized (word_table, when word_emb is null).
  const float *word_emb = nullptr, *pos_emb = nullptr, *type_emb = nullptr, *emb_ln_g = nullptr, *emb_ln_b = nullptr;
  RowMixedTable word_table;
  std::vector<BertLayerWeights> layers;
  // Optional sequence-classification head (fp32): logits = C act(P cls + p) + c, act tanh (BERT's pooler) or
  // ReLU (DistilBERT's pre_classifier).
  int64_t num_labels = 0;
  bool pooler_relu = false;
  const float *pooler_w = nullptr, *pooler_b = nullptr, *cls_w = nullptr, *cls_b = nullptr;
  // The Dense modules of cfg.dense: weight [out, in], bias [out] or null.
  struct Dense {
    const float *w = nullptr, *b = nullptr;
  };
  std::vector<Dense> dense;
  const float* rel_table = nullptr;  // [rel_buckets, num_heads] ("encoder.relative_bias"), when rel_buckets > 0
};

// MPNet's bucket of a relative position (key j - query i), as transformers' relative_position_bucket computes
// it: half the buckets per direction, exact below a quarter of them, then logarithmic up to max_distance, in
// float32 as torch does.
int64_t relative_position_bucket(int64_t relative_position, int64_t num_buckets, int64_t max_distance);

// Canonical names of the linear layers, used in model files, reports and calibration.
std::string bert_linear_name(int64_t layer, const char* which);  // which: q k v attn_out ffn_in ffn_out
inline constexpr const char* kBertLinearKinds[6] = {"q", "k", "v", "attn_out", "ffn_in", "ffn_out"};

// One input sequence: ids (with [CLS]/[SEP]) and token type ids of the same length.
struct SequenceInput {
  const int32_t* ids;
  const int32_t* type_ids;
  int64_t len;
};

// Called with each linear layer's input before it runs (calibration uses it to collect statistics).
using LinearInputHook = std::function<void(const RowMixedLinear& layer, const float* x, int64_t n_tokens)>;

// Activation buffers of one forward pass, kept between calls by a Context so that steady-state calls with
// batches no larger than before allocate nothing here. Grown on demand, never shrunk.
struct BertWorkspace {
  std::vector<float> h, q, k, v, ctx, tmp, ff;
  std::vector<float> rel_bias;  // per sequence, the attention's rel_bias (MPNet)
  std::vector<float> emb_row;   // one dequantized word-table row
  std::vector<int8_t> emb_q;    // its codes
  void reserve(int64_t tokens, int64_t hidden, int64_t ffn);
};

struct BertRunOptions {
  const LinearInputHook* hook = nullptr;  // called with each linear layer's input (calibration)
  float* cls_out = nullptr;  // receives each sequence's final [CLS] hidden state (for a classification head)
  BertWorkspace* workspace = nullptr;     // null: a temporary one
};

// Runs the encoder on all sequences at once (tokens of all sequences are packed back to back, so no padding
// is computed; attention runs per sequence, which is what a padding mask achieves). Writes the pooled states
// to pooled[b * pooled_size() + i] (no Dense, no normalisation: see sentence_head). Inputs must be validated.
void bert_forward(const BertWeights& w, const Backend& be, const std::vector<SequenceInput>& batch, float* pooled,
                  const BertRunOptions& opt = {});
// The Dense modules, then (if `normalize`) L2 normalisation, on n pooled vectors: out[b * embedding_size() + i].
void sentence_head(const BertWeights& w, const float* pooled, int64_t n, bool normalize, float* out);
// Binds weights from a model file; checks every tensor's shape against the architecture config.
BertWeights bert_bind(const ModelFile& file);

}  // namespace rmsmp

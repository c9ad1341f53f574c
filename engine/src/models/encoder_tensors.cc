// Shapes of the encoder file's fp32 tensors (encoder_tensors.h).
#include "models/encoder_tensors.h"

namespace rmsmp::enc {

std::vector<Tensor> fp32_tensors_before_linears(const BertConfig& c) {
  const int64_t H = c.hidden_size;
  std::vector<Tensor> t = {{kPosition, {c.max_position_embeddings, H}},
                           {kTokenType, {c.type_vocab_size, H}},
                           {kEmbLnGamma, {H}},
                           {kEmbLnBeta, {H}}};
  if (c.rel_buckets > 0) t.push_back({kRelativeBias, {c.rel_buckets, c.num_heads}});
  return t;
}

std::vector<Tensor> fp32_tensors_after_linears(const BertConfig& c, int64_t num_labels) {
  const int64_t H = c.hidden_size;
  std::vector<Tensor> t;
  for (int64_t l = 0; l < c.num_layers; ++l)
    for (const char* ln : kLayerNorms) {
      t.push_back({layer_norm(l, ln, "gamma"), {H}});
      t.push_back({layer_norm(l, ln, "beta"), {H}});
    }
  for (size_t d = 0; d < c.dense.size(); ++d) {
    t.push_back({dense(d, "weight"), {c.dense[d].out, c.dense[d].in}});
    if (c.dense[d].bias) t.push_back({dense(d, "bias"), {c.dense[d].out}});
  }
  if (num_labels > 0) {
    t.push_back({kHeadPoolerWeight, {H, H}});
    t.push_back({kHeadPoolerBias, {H}});
    t.push_back({kHeadClassifierWeight, {num_labels, H}});
    t.push_back({kHeadClassifierBias, {num_labels}});
  }
  return t;
}

}  // namespace rmsmp::enc

// The encoder tensors of a .rmsmp file, by their canonical names: the engine's schema for every encoder family
// (BERT, RoBERTa / XLM-R / CamemBERT, DistilBERT, MPNet). The converter's family mappings
// (converters/hf_<family>.cc) translate Hugging Face names into these, rmsmp-convert writes them, and
// bert_bind (bert_loader.cc) reads them; nobody else spells them.
//
//   embeddings.word                [vocab, H]   fp32, or a row-quantized table ("tables" in the header)
//   embeddings.position            [positions, H]  row i is position i (a family's offset is applied at conversion)
//   embeddings.token_type          [types, H]   one zero row for families without token types
//   embeddings.ln.{gamma,beta}     [H]
//   encoder.relative_bias          [buckets, heads]  relative position bias (MPNet), when the config has buckets
//   encoder.<l>.<linear>           row-quantized linears ("linears" in the header), linear in kBertLinearKinds
//   encoder.<l>.<ln>.{gamma,beta}  [H]          ln: ln_attn (after attention), ln_ffn (after the FFN)
//   dense.<i>.{weight,bias}        [out, in], [out]   sentence-transformers Dense modules, in order
//   head.pooler.{weight,bias}      [H, H], [H]        a sequence-classification head (the "head" header entry)
//   head.classifier.{weight,bias}  [labels, H], [labels]
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "models/bert.h"

namespace rmsmp::enc {

inline constexpr char kWord[] = "embeddings.word";
inline constexpr char kPosition[] = "embeddings.position";
inline constexpr char kTokenType[] = "embeddings.token_type";
inline constexpr char kEmbLnGamma[] = "embeddings.ln.gamma";
inline constexpr char kEmbLnBeta[] = "embeddings.ln.beta";
inline constexpr char kRelativeBias[] = "encoder.relative_bias";
inline constexpr char kHeadPoolerWeight[] = "head.pooler.weight";
inline constexpr char kHeadPoolerBias[] = "head.pooler.bias";
inline constexpr char kHeadClassifierWeight[] = "head.classifier.weight";
inline constexpr char kHeadClassifierBias[] = "head.classifier.bias";
inline constexpr const char* kLayerNorms[2] = {"ln_attn", "ln_ffn"};

// encoder.<l>.<linear> (bert_linear_name), and its fp32 .weight / .bias in a checkpoint.
inline std::string linear(int64_t l, const char* which) { return bert_linear_name(l, which); }
// encoder.<l>.<ln>.<leaf>, leaf gamma or beta.
// (Appended piece by piece: GCC 12 warns, wrongly, about literal + std::string inlined here, -Wrestrict.)
inline std::string layer_norm(int64_t l, const char* ln, const char* leaf) {
  std::string s = "encoder.";
  s.append(std::to_string(l)).append(".").append(ln).append(".").append(leaf);
  return s;
}
// dense.<i>.<leaf>, leaf weight or bias.
inline std::string dense(size_t i, const char* leaf) {
  std::string s = "dense.";
  s.append(std::to_string(i)).append(".").append(leaf);
  return s;
}

struct Tensor {
  std::string name;
  std::vector<int64_t> shape;
};
// The fp32 tensors of an encoder with config c besides the word table and the linears, in file order:
// the embeddings' (and the relative bias) first, then, after the linears, the layer norms, the Dense modules
// and (num_labels > 0) the classification head. The converter writes exactly these; the loader reads them.
std::vector<Tensor> fp32_tensors_before_linears(const BertConfig& c);
std::vector<Tensor> fp32_tensors_after_linears(const BertConfig& c, int64_t num_labels);

}  // namespace rmsmp::enc

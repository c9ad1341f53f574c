// The .rmsmp model file: byte layout (format version 1), constants, and the reader/writer classes.
//
// 1. Preamble, bytes [0, 64). All integers little-endian.
//      off  type      field
//        0  char[8]   magic "RMSMPMDL"
//        8  u32       format_version (this reader accepts exactly kFormatVersion)
//       12  u32       preamble_bytes (= 64)
//       16  u64       header_bytes: length of the JSON header in bytes
//       24  u64       data_offset: where tensor data starts; a multiple of 64 and >= 64 + header_bytes
//       32  u64       data_bytes: length of the tensor data section
//       40  u64       checksum: FNV-1a 64 over every byte in [64, data_offset + data_bytes)
//       48  u8[16]    reserved, all zero
// 2. JSON header, bytes [64, 64 + header_bytes): UTF-8, then zero padding up to data_offset. Top-level keys:
//      "format": "rmsmp", "format_version": 1,
//      "architecture": {type: "bert", vocab_size, hidden_size, num_layers, num_heads, intermediate_size,
//                       max_position_embeddings, type_vocab_size, layer_norm_eps, hidden_act, pooling
//                       ('+'-joined, in this order: "cls", "max", "mean", "mean_sqrt_len"), normalize (bool),
//                       max_seq_length, dense (optional: [{in_features, out_features, bias (bool), activation:
//                       "identity"|"tanh"|"relu"|"gelu"}], sentence-transformers' Dense modules after pooling;
//                       tensors dense.<i>.weight [out, in] and dense.<i>.bias [out], fp32), relative_attention
//                       (optional, MPNet: {num_buckets, max_distance}; tensor encoder.relative_bias [num_buckets,
//                       num_heads], the bias of bucket(key - query) added to every layer's scaled scores)}
//      "tokenizer":    {type: "wordpiece", lowercase, strip_accents (bool|null), clean_text,
//                       handle_chinese_chars, unk/cls/sep/pad/mask tokens, continuing_subword_prefix,
//                       max_input_chars_per_word, vocab: [token strings in id order]}
//                   or {type: "sentencepiece", lowercase, strip_accents, cls_token, sep_token, fairseq
//                       ("" or absent; "xlm-roberta": <s> <pad> </s> <unk>, pieces + 1, <mask>; "camembert": 5
//                       specials, pieces + 4, <mask>), vocab_size,
//                       model_tensor: name of a u8 [bytes] tensor holding the .model file (a ModelProto)}
//                   or {type: "bpe" (byte-level), add_prefix_space, bos_token, eos_token,
//                       added_tokens: [{content, id, lstrip, rstrip}], vocab: [pieces in id order, bytes shown
//                       as GPT-2's characters], merges: [[left, right] in rank order]}
//                   each with template: "bert" ([CLS] a [SEP] b [SEP], types 0/1) | "roberta" (<s> a </s></s> b
//                   </s>, all type 0); absent (files before it): "bert". RoBERTa's position table is stored
//                   from its first used row (pad_token_id + 1), so position i is always row i.
//      "head":         optional {type: "sequence_classification", num_labels, labels: [names],
//                       problem_type: "single_label_classification"|"regression", pooler}; tensors
//                       head.pooler.{weight [H,H], bias [H]}, head.classifier.{weight [num_labels,H], bias}
//      "quantization": {scheme, ratios, clip, scheme_rule, act_bits, act_mode, avg_weight_bits, ...}
//      "provenance":   {source, source_sha256, converter, converter_version, options, ...}
//      "tensors":      {name: {dtype: "f32"|"i32"|"u8", shape: [..outermost first..], offset, bytes}}
//      "linears":      {name: {rows, cols, bias: tensor|null, perm: tensor,
//                              act: {bits: 8|4, mode: "dynamic"|"static", clip},
//                              groups: [{scheme, rows, codes: tensor, steps: tensor|null}]}}
//      "tables":       optional {name: {rows, cols, perm, groups}}: row-quantized lookup tables, laid out as a
//                       linear's rows (4.) without bias or act; integer groups only. Row r is float(q) * step.
//                       "embeddings.word" here replaces the f32 tensor of that name (rmsmp-convert --embeddings).
// 3. Tensor data, bytes [data_offset, data_offset + data_bytes): tensor t lives at data_offset + t.offset;
//    every offset is a multiple of 64 (cache-line and SIMD aligned under mmap); t.bytes == product(shape) *
//    sizeof(dtype). The file ends exactly at data_offset + data_bytes.
// 4. Row-wise mixed linear layers (RMSMP): a layer's rows are stored grouped by scheme, groups in the order
//    fixed8, fixed4, pot4 (or a single fp32 group). Group g holds `rows` packed rows ("codes", u8
//    [rows, quant_row_bytes(scheme, cols)], see rmsmp/quant.h) and their steps (f32 [rows]). "perm" (i32 [rows
//    of the layer]) maps stored position -> original output row: stored row i is original row perm[i]; perm is
//    a permutation of 0..rows-1. Bias is kept in original row order.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace rmsmp {

class MappedFile;

inline constexpr char kModelMagic[8] = {'R', 'M', 'S', 'M', 'P', 'M', 'D', 'L'};
inline constexpr uint32_t kFormatVersion = 1;
inline constexpr uint64_t kPreambleBytes = 64;
inline constexpr uint64_t kTensorAlign = 64;
// Refuse absurd JSON headers before allocating for them (the vocabulary of a large model is a few MB).
inline constexpr uint64_t kMaxHeaderBytes = 256ull << 20;

enum class DType : uint8_t { F32, I32, U8 };
const char* dtype_name(DType t);
size_t dtype_bytes(DType t);

struct TensorInfo {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  uint64_t offset = 0;  // relative to data_offset
  uint64_t bytes = 0;
};

// A loaded, validated model file. Immutable and shareable between threads.
class ModelFile {
 public:
  struct Options {
    bool verify_checksum = true;
  };
  // Validates the preamble, the checksum, the JSON header and every tensor's offset, size and shape.
  static std::shared_ptr<const ModelFile> open(const std::string& path, const Options& opts);
  static std::shared_ptr<const ModelFile> open(const std::string& path) { return open(path, Options{}); }
  // The same validation on a file's bytes held in memory (ModelWriter::bytes); `name` stands for the path in
  // errors and path().
  static std::shared_ptr<const ModelFile> from_bytes(const std::string& name, const std::vector<uint8_t>& bytes);
  ~ModelFile();

  const std::string& path() const;
  const nlohmann::json& header() const { return *header_; }
  uint64_t file_bytes() const;

  const TensorInfo& tensor_info(const std::string& name) const;  // throws InvalidFile if missing
  // Typed access with shape check; the error names the file, the tensor, expected and actual shapes.
  const void* tensor_data(const std::string& name, DType dtype, const std::vector<int64_t>& shape) const;
  const float* f32(const std::string& name, const std::vector<int64_t>& shape) const {
    return static_cast<const float*>(tensor_data(name, DType::F32, shape));
  }
  // MappedFile::release for bytes inside this file's mapping (tensor data a backend has copied at load).
  void release(const void* p, size_t n) const;

 private:
  ModelFile() = default;
  // The checks of open() on the bytes of `map` (its path names them in errors).
  static std::shared_ptr<const ModelFile> validate(std::unique_ptr<MappedFile> map, const Options& opts);
  std::unique_ptr<MappedFile> map_;
  std::unique_ptr<nlohmann::json> header_;
  std::vector<TensorInfo> tensors_;  // sorted by name
  uint64_t data_offset_ = 0;
};

// Builds a model file in memory and writes it atomically (temp file in the same folder, then rename).
class ModelWriter {
 public:
  ModelWriter();
  ~ModelWriter();
  // Adds a tensor (data copied). Returns its name for convenience.
  const std::string& add_tensor(const std::string& name, DType dtype, std::vector<int64_t> shape, const void* data);
  // The JSON header minus "tensors", "format" and "format_version", which the writer fills in.
  nlohmann::json& header();
  void write(const std::string& path) const;  // throws Error{IoError} naming the path
  // The whole file as write() would write it (preamble, header, tensors, checksum): ModelFile::from_bytes
  // reads it back without a file (the CNN calibration's fp32 model).
  std::vector<uint8_t> bytes() const;

 private:
  struct Pending {
    TensorInfo info;
    std::vector<uint8_t> data;
  };
  std::vector<Pending> tensors_;
  std::unique_ptr<nlohmann::json> header_;
};

}  // namespace rmsmp

// Public API: load a .rmsmp model once (read whole into private memory, read-only, shareable), tokenize, embed
// and classify text.
// A Model is immutable after load; all const methods are safe to call from many threads at once (each call
// allocates its own scratch). For repeated calls, a per-thread rmsmp::Context (context.h) keeps the buffers
// and carries per-caller options (threads, truncation, normalisation).
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rmsmp/error.h"
#include "rmsmp/load_options.h"

namespace rmsmp {

struct Tokenized {
  std::vector<int32_t> ids;       // [CLS] a [SEP] (b [SEP])
  std::vector<int32_t> type_ids;
  bool truncated = false;
  size_t untruncated_length = 0;  // tokens before truncation; a lower bound when !untruncated_exact
  bool untruncated_exact = true;  // false: tokenization stopped once the rest could not be kept
};

struct ModelInfo {
  std::string path;
  std::string scheme;            // fp32, rmsmp, fixed8, ...
  double avg_weight_bits = 32;   // over the row-quantized linear layers
  uint64_t file_bytes = 0;
  int64_t hidden_size = 0;         // the encoder's width
  int64_t embedding_size = 0;      // floats per embedding: hidden_size x pooling modes, or the last Dense's out
  int64_t max_seq_length = 0;
  int64_t vocab_size = 0;
  std::string pooling;             // sentence-transformers' modes, '+'-joined: "mean", "cls", "cls+max+mean", ..."
  bool normalize = false;          // embeddings are L2-normalised unless EmbedOptions says otherwise
  std::string backend;
  // A sequence-classification head kept from the checkpoint (BertForSequenceClassification); 0 when absent.
  int num_labels = 0;
  std::vector<std::string> labels;  // label names in logit order
  bool regression = false;          // one output read as a score (e.g. STS-B)
};

class Model {
 public:
  static std::shared_ptr<const Model> load(const std::string& path, const LoadOptions& opts = {});
  ~Model();

  const ModelInfo& info() const;
  // JSON header of the file, serialised (for tools that want provenance or per-layer details).
  std::string header_json() const;

  // Tokenizes with the embedded vocabulary; truncates to max_seq_length and says so in the result.
  // Throws Error{InvalidText} for invalid UTF-8.
  Tokenized tokenize(std::string_view text, std::optional<std::string_view> pair = std::nullopt) const;
  // The tokenizer's piece ids alone: no [CLS]/[SEP], no truncation (for parity checks and debugging).
  std::vector<int32_t> tokenize_raw(std::string_view text) const;
  // tokenize_raw's ids with each one's byte span [begin, end) in `text` (Hugging Face tokenizers' offsets, in
  // UTF-8 bytes, as TEI's /tokenize reports them). `spans` is empty when the model's tokenizer cannot give them
  // (SentencePiece models that fold case or accents; the others give them). Throws Error{InvalidText} for invalid UTF-8.
  struct TokenSpans {
    std::vector<int32_t> ids;
    std::vector<std::pair<uint32_t, uint32_t>> spans;
  };
  TokenSpans tokenize_raw_spans(std::string_view text) const;
  // The vocabulary's string for a token id ("" outside the vocabulary), e.g. "##ing" or "[CLS]".
  std::string token_piece(int32_t id) const;
  // Pooled embeddings, through the model's Dense modules and (as configured) L2-normalised, one per input,
  // info().embedding_size floats each.
  // Inputs of different lengths are packed without padding. Throws InvalidArgument for bad ids/lengths.
  std::vector<std::vector<float>> embed(const std::vector<Tokenized>& batch) const;

  // Logits of the model's own classification head (pooler tanh(W [CLS] + b), then the classifier), one
  // vector of info().num_labels floats per input. Throws Unsupported when the model has no head.
  std::vector<std::vector<float>> classify(const std::vector<Tokenized>& batch) const;

  struct Impl;

 private:
  friend class Context;  // runs the same forward pass with its own buffers and options
  explicit Model(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace rmsmp

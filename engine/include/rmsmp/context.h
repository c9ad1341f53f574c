// Per-thread (or per-request) execution context over a shared Model.
//
// A Model is loaded once and shared read-only by any number of threads. A Context is cheap to create (it
// holds options and scratch buffers, no weights) and is NOT thread-safe: use one per thread, or one per
// request. It keeps the encoder's activation buffers between calls, so steady-state calls with batches no
// larger than before do not reallocate them.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rmsmp/model.h"

namespace rmsmp {

enum class Truncation {
  Truncate,  // cut to max_tokens (longest-first for pairs) and report it in Tokenized::truncated
  Error,     // throw Error{InvalidText} for an input longer than max_tokens
};

// The most OpenMP threads a context may ask for. Far above any core count these tools are built for, and low
// enough that a hostile value cannot ask the runtime for thread stacks it cannot create (100000 crashed libgomp).
inline constexpr int kMaxContextThreads = 1024;

struct ContextOptions {
  int threads = 0;        // OpenMP threads for this context's calls, 0..kMaxContextThreads; 0: the process default
  Truncation truncation = Truncation::Truncate;
  int64_t max_tokens = 0; // 0: the model's max_seq_length; otherwise 3 <= max_tokens <= max_seq_length
};

struct EmbedOptions {
  std::optional<bool> normalize;  // unset: as the model file says (all-MiniLM-L6-v2: L2-normalised)
};

class Context {
 public:
  // Throws InvalidArgument for options the model cannot honour (max_tokens out of range, threads outside
  // 0..kMaxContextThreads).
  explicit Context(std::shared_ptr<const Model> model, const ContextOptions& opts = {});
  ~Context();
  Context(Context&&) noexcept;
  Context& operator=(Context&&) noexcept;

  const Model& model() const { return *model_; }
  const ContextOptions& options() const { return opts_; }

  Tokenized tokenize(std::string_view text, std::optional<std::string_view> pair = std::nullopt) const;
  // Pooled embeddings of a batch of inputs of any lengths (packed, no padding), hidden_size floats each.
  std::vector<std::vector<float>> embed(const std::vector<Tokenized>& batch, const EmbedOptions& eo = {});
  // Tokenizes and embeds texts (errors name the 0-based item).
  std::vector<std::vector<float>> embed_texts(const std::vector<std::string>& texts, const EmbedOptions& eo = {});
  // Logits of the model's classification head (see Model::classify), num_labels floats per input.
  std::vector<std::vector<float>> classify(const std::vector<Tokenized>& batch);

 private:
  struct Scratch;
  std::shared_ptr<const Model> model_;
  ContextOptions opts_;
  std::unique_ptr<Scratch> scratch_;
};

}  // namespace rmsmp

// Context: options + a BertWorkspace reused across calls; the thread count is applied to the calling thread's
// OpenMP setting for the duration of each call and restored afterwards.
#include "rmsmp/context.h"

#include <omp.h>

#include "models/model_impl.h"

namespace rmsmp {

struct Context::Scratch {
  BertWorkspace ws;
};

namespace {
// Sets the calling thread's OpenMP thread count for one call (0: leave as is).
class ThreadScope {
 public:
  explicit ThreadScope(int n) : prev_(omp_get_max_threads()), set_(n > 0) {
    if (set_) omp_set_num_threads(n);
  }
  ~ThreadScope() {
    if (set_) omp_set_num_threads(prev_);
  }

 private:
  int prev_;
  bool set_;
};
}  // namespace

Context::Context(std::shared_ptr<const Model> model, const ContextOptions& opts)
    : model_(std::move(model)), opts_(opts), scratch_(std::make_unique<Scratch>()) {
  RMSMP_CHECK(model_ != nullptr, ErrorCode::InvalidArgument, "Context needs a loaded model");
  const int64_t max_len = model_->info().max_seq_length;
  RMSMP_CHECK(opts_.threads >= 0 && opts_.threads <= kMaxContextThreads, ErrorCode::InvalidArgument,
              "threads " << opts_.threads << " outside 0.." << kMaxContextThreads << " (0: the process default)");
  RMSMP_CHECK(opts_.max_tokens == 0 || (opts_.max_tokens >= 3 && opts_.max_tokens <= max_len), ErrorCode::InvalidArgument,
              "max_tokens " << opts_.max_tokens << " outside [3, " << max_len << "] (the model's max_seq_length)");
}

Context::~Context() = default;
Context::Context(Context&&) noexcept = default;
Context& Context::operator=(Context&&) noexcept = default;

Tokenized Context::tokenize(std::string_view text, std::optional<std::string_view> pair) const {
  const Model::Impl& m = *model_->impl_;
  const size_t max_len = size_t(opts_.max_tokens > 0 ? opts_.max_tokens : m.weights.cfg.max_seq_length);
  tok::Encoding e;
  try {
    e = m.tokenizer->encode(text, pair, max_len);
  } catch (const tok::TokenizerError& err) {
    throw Error(ErrorCode::InvalidText, err.what());
  }
  // A model with one token type (DistilBERT) reads the second text of a pair as type 0 too, as transformers
  // does (its DistilBERT takes no token type ids).
  if (m.weights.cfg.type_vocab_size == 1) e.type_ids.assign(e.ids.size(), 0);
  RMSMP_CHECK(!(e.truncated && opts_.truncation == Truncation::Error), ErrorCode::InvalidText,
              "input has " << (e.untruncated_exact ? "" : "at least ") << e.untruncated_length << " tokens, more than "
                            << max_len << " (truncation is off)");
  return Tokenized{std::move(e.ids), std::move(e.type_ids), e.truncated, e.untruncated_length, e.untruncated_exact};
}

std::vector<std::vector<float>> Context::embed(const std::vector<Tokenized>& batch, const EmbedOptions& eo) {
  ThreadScope ts(opts_.threads);
  return run_embed(*model_->impl_, batch, eo.normalize ? int(*eo.normalize) : -1, &scratch_->ws);
}

std::vector<std::vector<float>> Context::embed_texts(const std::vector<std::string>& texts, const EmbedOptions& eo) {
  std::vector<Tokenized> batch;
  batch.reserve(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    try {
      batch.push_back(tokenize(texts[i]));
    } catch (const Error& e) {
      RMSMP_FAIL(e.code(), "item " << i << ": " << e.what());
    }
  }
  return embed(batch, eo);
}

std::vector<std::vector<float>> Context::classify(const std::vector<Tokenized>& batch) {
  ThreadScope ts(opts_.threads);
  return run_classify(*model_->impl_, batch, &scratch_->ws);
}

}  // namespace rmsmp

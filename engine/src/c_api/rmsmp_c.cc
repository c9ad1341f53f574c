// The C ABI over the C++ API: every entry point catches everything and turns it into a status plus a
// thread-local message.
#include "rmsmp/rmsmp_c.h"

#include <cstring>
#include <new>
#include <string>

#include "rmsmp/context.h"

struct rmsmp_model {
  std::shared_ptr<const rmsmp::Model> m;
};
struct rmsmp_context {
  rmsmp::Context ctx;
};

namespace {

thread_local std::string g_last_error;

rmsmp_status to_status(rmsmp::ErrorCode c) {
  using rmsmp::ErrorCode;
  switch (c) {
    case ErrorCode::InvalidArgument: return RMSMP_INVALID_ARGUMENT;
    case ErrorCode::InvalidFile: return RMSMP_INVALID_FILE;
    case ErrorCode::NotFound: return RMSMP_NOT_FOUND;
    case ErrorCode::IoError: return RMSMP_IO_ERROR;
    case ErrorCode::InvalidText: return RMSMP_INVALID_TEXT;
    case ErrorCode::Unsupported: return RMSMP_UNSUPPORTED;
    case ErrorCode::Internal: return RMSMP_INTERNAL;
  }
  return RMSMP_INTERNAL;
}

template <typename F>
rmsmp_status guarded(F&& f) {
  try {
    g_last_error.clear();
    f();
    return RMSMP_OK;
  } catch (const rmsmp::Error& e) {
    g_last_error = e.what();
    return to_status(e.code());
  } catch (const std::bad_alloc&) {
    g_last_error = "out of memory";
    return RMSMP_INTERNAL;
  } catch (const std::exception& e) {
    g_last_error = e.what();
    return RMSMP_INTERNAL;
  } catch (...) {
    g_last_error = "unknown error";
    return RMSMP_INTERNAL;
  }
}

#define RMSMP_C_REQUIRE(cond, what)                                              \
  do {                                                                           \
    if (!(cond)) {                                                               \
      throw rmsmp::Error(rmsmp::ErrorCode::InvalidArgument, what);               \
    }                                                                            \
  } while (0)

std::vector<rmsmp::Tokenized> tokenize_all(rmsmp_context* c, const char* const* texts, const char* const* pairs,
                                           size_t n) {
  RMSMP_C_REQUIRE(c && (texts || n == 0), "null context or texts");
  std::vector<rmsmp::Tokenized> batch;
  batch.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    RMSMP_C_REQUIRE(texts[i] && (!pairs || pairs[i]), "null text at item " + std::to_string(i));
    try {
      batch.push_back(pairs ? c->ctx.tokenize(texts[i], std::string_view(pairs[i])) : c->ctx.tokenize(texts[i]));
    } catch (const rmsmp::Error& e) {
      throw rmsmp::Error(e.code(), "item " + std::to_string(i) + ": " + e.what());
    }
  }
  return batch;
}

void copy_rows(const std::vector<std::vector<float>>& rows, size_t width, float* out, size_t cap) {
  RMSMP_C_REQUIRE(rows.size() * width <= cap, "output buffer holds " + std::to_string(cap) + " floats, " +
                                                  std::to_string(rows.size() * width) + " needed");
  for (size_t i = 0; i < rows.size(); ++i) std::memcpy(out + i * width, rows[i].data(), width * sizeof(float));
}

}  // namespace

extern "C" {

int rmsmp_c_api_version(void) { return RMSMP_C_API_VERSION; }

const char* rmsmp_status_name(rmsmp_status s) {
  switch (s) {
    case RMSMP_OK: return "ok";
    case RMSMP_INVALID_ARGUMENT: return "invalid_argument";
    case RMSMP_INVALID_FILE: return "invalid_file";
    case RMSMP_NOT_FOUND: return "not_found";
    case RMSMP_IO_ERROR: return "io_error";
    case RMSMP_INVALID_TEXT: return "invalid_text";
    case RMSMP_UNSUPPORTED: return "unsupported";
    case RMSMP_INTERNAL: return "internal";
  }
  return "unknown";
}

const char* rmsmp_last_error(void) { return g_last_error.c_str(); }

rmsmp_status rmsmp_model_load(const char* path, const char* backend, rmsmp_model** out) {
  return guarded([&] {
    RMSMP_C_REQUIRE(path && out, "null path or output handle");
    *out = nullptr;
    rmsmp::LoadOptions lo;
    if (backend) lo.backend = backend;
    auto m = rmsmp::Model::load(path, lo);
    *out = new rmsmp_model{std::move(m)};
  });
}

void rmsmp_model_free(rmsmp_model* m) { delete m; }
int64_t rmsmp_model_hidden_size(const rmsmp_model* m) { return m ? m->m->info().hidden_size : 0; }
int64_t rmsmp_model_embedding_size(const rmsmp_model* m) { return m ? m->m->info().embedding_size : 0; }
int64_t rmsmp_model_max_seq_length(const rmsmp_model* m) { return m ? m->m->info().max_seq_length : 0; }
int rmsmp_model_num_labels(const rmsmp_model* m) { return m ? m->m->info().num_labels : 0; }
const char* rmsmp_model_label(const rmsmp_model* m, int i) {
  if (!m || i < 0 || i >= m->m->info().num_labels) return nullptr;
  return m->m->info().labels[size_t(i)].c_str();
}

rmsmp_status rmsmp_context_new(const rmsmp_model* m, int threads, int64_t max_tokens, int truncate,
                               rmsmp_context** out) {
  return guarded([&] {
    RMSMP_C_REQUIRE(m && out, "null model or output handle");
    *out = nullptr;
    rmsmp::ContextOptions o;
    o.threads = threads;
    o.max_tokens = max_tokens;
    o.truncation = truncate ? rmsmp::Truncation::Truncate : rmsmp::Truncation::Error;
    *out = new rmsmp_context{rmsmp::Context(m->m, o)};
  });
}

void rmsmp_context_free(rmsmp_context* c) { delete c; }

rmsmp_status rmsmp_tokenize(rmsmp_context* c, const char* text, const char* pair, int32_t* ids, size_t capacity,
                            size_t* n_ids, int* truncated) {
  return guarded([&] {
    RMSMP_C_REQUIRE(c && text && n_ids && (ids || capacity == 0), "null argument");
    const rmsmp::Tokenized t = pair ? c->ctx.tokenize(text, std::string_view(pair)) : c->ctx.tokenize(text);
    *n_ids = t.ids.size();
    if (truncated) *truncated = t.truncated ? 1 : 0;
    RMSMP_C_REQUIRE(t.ids.size() <= capacity, "ids buffer holds " + std::to_string(capacity) + ", " +
                                                  std::to_string(t.ids.size()) + " needed");
    std::memcpy(ids, t.ids.data(), t.ids.size() * sizeof(int32_t));
  });
}

rmsmp_status rmsmp_embed(rmsmp_context* c, const char* const* texts, const char* const* pairs, size_t n,
                         int normalize, float* out, size_t out_capacity) {
  return guarded([&] {
    RMSMP_C_REQUIRE(out || n == 0, "null output buffer");
    RMSMP_C_REQUIRE(normalize >= -1 && normalize <= 1, "normalize must be -1, 0 or 1");
    const auto batch = tokenize_all(c, texts, pairs, n);
    rmsmp::EmbedOptions eo;
    if (normalize >= 0) eo.normalize = normalize == 1;
    copy_rows(c->ctx.embed(batch, eo), size_t(c->ctx.model().info().embedding_size), out, out_capacity);
  });
}

rmsmp_status rmsmp_classify(rmsmp_context* c, const char* const* texts, const char* const* pairs, size_t n,
                            float* out, size_t out_capacity) {
  return guarded([&] {
    RMSMP_C_REQUIRE(out || n == 0, "null output buffer");
    const auto batch = tokenize_all(c, texts, pairs, n);
    copy_rows(c->ctx.classify(batch), size_t(c->ctx.model().info().num_labels), out, out_capacity);
  });
}

}  // extern "C"

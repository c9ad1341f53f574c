// rmsmp-serve's HTTP JSON server on the public API (cpp-httplib from Debian). One Model shared by all
// requests; a fixed pool of Contexts (compute slots); admission control: at most max_inflight requests are
// accepted at once (computing or waiting for a slot), the rest get 429 at once, so a burst cannot queue
// without bound. Endpoints: POST /embed and / (native and TEI bodies), POST /v1/embeddings and /embeddings
// (OpenAI), POST /predict and /rerank (TEI), POST /classify, GET /info, GET /health, GET /metrics (Prometheus
// text). Request shapes: api.h.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "rmsmp/context.h"
#include "rmsmp/model.h"

namespace rmsmp::serve {

inline constexpr const char* kServerVersion = RMSMP_VERSION;  // reported by GET /info and --version
inline constexpr int kMaxSlots = 256;       // Contexts (each holds its activation buffers)
inline constexpr int kMaxInflight = 65536;  // accepted requests (each holds an HTTP worker thread)
inline constexpr int kMaxConnections = 65536;  // open connections served at once (one thread each)

struct Options {
  std::string host = "127.0.0.1";
  int port = 8080;             // 0: any free port (see Server::port())
  int compute_slots = 1;       // compute workers (each one Context), each running one packed batch at a time
  int threads = 0;             // OpenMP threads per Context (0: the process default)
  int max_inflight = 64;       // accepted requests (queued + computing), each holding an HTTP thread; beyond: 429
  int max_connections = 512;   // connections served at once, a thread each (serve/conn_pool.h); more wait
  size_t max_body_bytes = 1 << 20;   // larger bodies: 413
  size_t max_texts = 256;            // texts per request; more: 413
  int64_t max_tokens = 0;            // 0: the model's max_seq_length
  std::string api_key;               // non-empty: every route but /health needs "Authorization: Bearer KEY" (401)
  bool access_log = false;           // one JSON line per request on stderr
  int64_t max_batch_tokens = 16384;  // tokens per batch when requests are packed together (serve/batcher.h)
  bool batch_fp32 = false;           // pack fp32 models' requests too (their sums then depend on the batch)
  bool truncate = true;              // false: over-long texts are refused (400 native, 422 TEI/OpenAI),
                                     // unless the request says "truncate": true
};

class Server {
 public:
  Server(std::shared_ptr<const Model> model, const Options& opts);
  ~Server();
  // Binds (throws IoError naming host:port on failure) and serves on a background thread.
  void start();
  int port() const;
  // Stops accepting, lets in-flight requests finish, joins the server thread. Idempotent.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rmsmp::serve

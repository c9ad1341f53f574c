// rmsmp-serve: a small HTTP JSON server for one .rmsmp model (see apps/serve/server.h for the contract).
// SIGTERM/SIGINT stop it gracefully: no new connections, in-flight requests finish, exit status 0.
#include <csignal>
#include <cstring>
#include <iostream>
#include <thread>

#include "common/cli.h"
#include "serve/server.h"

namespace {

volatile std::sig_atomic_t g_stop = 0;
extern "C" void on_signal(int) { g_stop = 1; }

const char* kHelp = R"(rmsmp-serve: HTTP JSON server for a .rmsmp model.

usage: rmsmp-serve --model M.rmsmp [--host 127.0.0.1] [--port 8080] [--slots N] [--threads N]
                   [--max-inflight N] [--max-connections N] [--max-body BYTES] [--max-texts N]
                   [--max-tokens N] [--no-truncate]
                   [--backend cpu|reference] [--max-batch-tokens N] [--batch-fp32] [--api-key KEY]
                   [--access-log] [--version]

  POST /embed     (also POST /, TEI's route for huggingface_hub's InferenceClient)
                  TEI's shape: {"inputs": str | [str], "truncate": bool?, "truncation_direction": "right"?,
                  "normalize": bool?, "dimensions": int?} -> [[f32], ...]
                  native shape: {"texts": [...], "pairs": [...]?, "normalize": bool?}
                  -> {"embeddings": [[...], ...], "truncated": [bool, ...]}
  POST /v1/embeddings (also /embeddings)  OpenAI's shape: {"input": str | [str] | [int] | [[int]], "model"?,
                  "encoding_format": "float" | "base64"?, "dimensions": int?, "user"?}
                  -> {"object": "list", "data": [{"object": "embedding", "embedding", "index"}], "model",
                      "usage": {"prompt_tokens", "total_tokens"}}   (base64: little-endian float32)
                  token-id inputs are the model's own ids, used as given (no [CLS]/[SEP] added)
  POST /classify  {"texts": [...], "pairs": [...]?}  (models kept with a classification head)
                  -> {"labels": [...], "probabilities": [[...], ...], "label_names": [...], "truncated": [...]}
                     (regression heads: {"scores": [...]})
  POST /predict   TEI's shape, models with a classification head: {"inputs": str | [a, b] | [[a], [a, b], ...],
                  "truncate"?, "raw_scores"?} -> [{"score", "label"}, ...] highest first (a batch: one list per
                  input); scores are softmax probabilities, or the logits with raw_scores
  POST /rerank    TEI's shape, cross-encoders (a head with one output): {"query", "texts": [...], "truncate"?,
                  "raw_scores"?, "return_text"?} -> [{"index", "score", "text"?}] highest first;
                  score = sigmoid(logit of (query, text)), or the logit with raw_scores
  POST /tokenize  TEI's shape: {"inputs": str | [str], "add_special_tokens"? (default true)} -> per input
                  [{"id", "text", "special", "start", "stop"}]: a piece's byte span in the input and the
                  text it covers; [CLS]/[SEP]: their vocabulary string, special, null offsets
  GET  /info      model_id, model_type, max_input_length, max_client_batch_size, max_concurrent_requests,
                  scheme, avg_weight_bits, backend, version
  GET  /health    {"status": "ok", "model", "scheme", "hidden_size", "embedding_size", "num_labels"}
  GET  /metrics   Prometheus text: requests by endpoint and status, texts, rejections, in-flight, queue depth,
                  batches; histograms of request duration, queue time, inputs and tokens per batch

"dimensions" keeps the first N values and re-normalises them when the embedding is normalised (Matryoshka
style); N outside 1..embedding_size is a 422. Errors are {"error": message, "error_type": type} (TEI's body;
types Validation, Overloaded, Backend, Unsupported). Unknown request fields are refused, never ignored.

--api-key KEY (or $RMSMP_API_KEY, which keeps the key out of the process list): every route but /health
needs "Authorization: Bearer KEY" (401 with error_type Unauthorized otherwise). --access-log: one JSON line
per request on stderr: route, status, inputs, tokens, queue_ms (waiting for a compute slot), compute_ms.

Batching: requests are tokenized on arrival and queued; each of --slots compute workers (default 1, one
Context of --threads OpenMP threads each) takes the oldest waiting request and packs every other waiting
request of the same kind into the same batch, up to --max-batch-tokens tokens (default 16384). A quantized
model's rows are bit-identical to each request computed alone. fp32 models' GEMM sums depend on the batch's
size in the last bits, so their requests run one at a time unless --batch-fp32.

Listens on 127.0.0.1 by default (--host 0.0.0.0 exposes it). --port 0 picks a free port. At most
--max-inflight requests (default 64; each holds an HTTP thread) are accepted at once, queued or computing;
requests beyond that get 429 with Retry-After at once. Each open connection (keep-alive ones until 5 s
idle) has a thread of its own, up to --max-connections (default 512); more connections wait for one, so
idle or slow clients hold only their own. A queued request whose client has closed its connection is
dropped, not computed (counted in rmsmp_dropped_total, logged as 499). Bodies over --max-body
(default 1 MiB) get 413, chunked ones as soon as they pass it (the rest is read and dropped up to 64 MiB,
beyond that the connection is no longer read). Bodies are JSON whatever their Content-Type says (curl -d's
form type included); multipart/form-data uploads get 415. Native bodies: more than --max-texts texts (default 256) get 413, malformed JSON,
invalid UTF-8 and bad fields 400. TEI and OpenAI bodies: malformed JSON 400; empty input, more than
--max-texts inputs, bad fields 422. Texts over the model's max_seq_length are truncated (flagged in the native
"truncated"); with --no-truncate, or "truncate": false in a TEI body, they are refused instead (400 native, 422
TEI/OpenAI); "truncate": true truncates whatever the server's default. SIGTERM or SIGINT: stop accepting,
finish in-flight requests, exit 0.
Prints "listening on HOST:PORT" on stdout once ready.
)";

}  // namespace

int main(int argc, char** argv) {
  using namespace rmsmp;
  for (int i = 1; i < argc; ++i)
    if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
      std::cout << kHelp;
      return 0;
    }
  if (cli::version_requested(argc, argv, "rmsmp-serve")) return 0;
  try {
    cli::Args a(argc, argv, 1,
                {"model", "host", "port", "slots", "threads", "max-inflight", "max-connections", "max-body", "max-texts", "max-tokens",
                 "backend", "api-key", "max-batch-tokens"},
                {"no-truncate", "access-log", "batch-fp32"});
    RMSMP_CHECK(a.positional().empty(), ErrorCode::InvalidArgument, "unexpected argument '" << a.positional()[0] << "'");
    serve::Options o;
    o.host = a.get_or("host", o.host);
    // parse_int: whole decimal integers with messages naming the option (std::stoi said "stoi"); each value is
    // range-checked here or by serve::Server before anything is allocated for it.
    auto int_opt = [&](const char* name, const char* dflt, int64_t lo, int64_t hi) {
      const int64_t v = cli::parse_int(a.get_or(name, dflt), std::string("--") + name);
      RMSMP_CHECK(v >= lo && v <= hi, ErrorCode::InvalidArgument,
                  "--" << name << " " << v << " outside " << lo << ".." << hi);
      return v;
    };
    o.port = int(int_opt("port", "8080", 0, 65535));
    o.compute_slots = int(int_opt("slots", "1", 1, serve::kMaxSlots));
    o.threads = int(int_opt("threads", "0", 0, kMaxContextThreads));
    o.max_inflight = int(int_opt("max-inflight", "64", 1, serve::kMaxInflight));
    o.max_connections = int(int_opt("max-connections", "512", 1, serve::kMaxConnections));
    o.max_body_bytes = size_t(int_opt("max-body", std::to_string(1 << 20).c_str(), 64, int64_t(1) << 32));
    o.max_texts = size_t(int_opt("max-texts", "256", 1, 1 << 20));
    o.max_tokens = int_opt("max-tokens", "0", 0, 1 << 20);
    o.truncate = !a.flag("no-truncate");
    o.max_batch_tokens = int_opt("max-batch-tokens", "16384", 1, int64_t(1) << 24);
    o.batch_fp32 = a.flag("batch-fp32");
    o.access_log = a.flag("access-log");
    if (auto k = a.get("api-key")) {
      RMSMP_CHECK(!k->empty(), ErrorCode::InvalidArgument, "--api-key must not be empty");
      o.api_key = *k;
    } else if (const char* e = std::getenv("RMSMP_API_KEY"); e && *e) {
      o.api_key = e;  // keeps the key out of the process list
    }
    LoadOptions lo;
    lo.backend = a.get_or("backend", "cpu");
    auto model = Model::load(a.require("model"), lo);
    std::signal(SIGTERM, on_signal);
    std::signal(SIGINT, on_signal);
    std::signal(SIGPIPE, SIG_IGN);
    serve::Server server(model, o);
    server.start();
    std::cout << "listening on " << o.host << ":" << server.port() << std::endl;
    while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::cerr << "rmsmp-serve: signal received, finishing in-flight requests\n";
    server.stop();
    std::cerr << "rmsmp-serve: stopped\n";
    return 0;
  } catch (const Error& e) {
    std::cerr << "rmsmp-serve: error: " << e.what() << "\n";
    return e.code() == ErrorCode::InvalidArgument ? 2 : 1;
  } catch (const std::exception& e) {
    std::cerr << "rmsmp-serve: error: " << e.what() << "\n";
    return 2;
  }
}

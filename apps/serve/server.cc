// Server: routes, admission control, tokenization on the HTTP threads, the batcher (serve/batcher.h) and
// Prometheus metrics. Request and response shapes live in serve/api.h.
#include "serve/server.h"

#include <httplib.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "rmsmp/context.h"
#include "serve/api.h"
#include "serve/batcher.h"
#include "serve/conn_pool.h"

namespace rmsmp::serve {

namespace {
constexpr int kListenBacklog = 1024;  // pending connections the kernel queues before accept
constexpr size_t kMaxDiscard = size_t(64) << 20;  // body bytes read and dropped after --max-body, at most

// Set by a route handler that records its own answer in the metrics; the logger, which cpp-httplib calls after
// every response on the same worker thread, counts the answers nobody recorded (the HTTP layer's own 400, 404
// and 413, and the GET routes) and resets it.
thread_local bool handled_here = false;

// The socket of request q's connection: found among this process's descriptors by its ports and peer address
// (unique among live connections), remembered per connection thread, or -1. cpp-httplib gives handlers no
// socket. The descriptor stays this connection's while its handler runs (the library closes it afterwards).
int client_socket(const httplib::Request& q) {
  auto port = [](const sockaddr_storage& x) {
    return x.ss_family == AF_INET    ? ntohs(reinterpret_cast<const sockaddr_in&>(x).sin_port)
           : x.ss_family == AF_INET6 ? ntohs(reinterpret_cast<const sockaddr_in6&>(x).sin6_port)
                                     : 0;
  };
  auto is_it = [&](int fd) {  // fd is a socket from q.remote_addr:remote_port to our local_port
    struct stat st;
    if (fd <= 2 || fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) return false;
    sockaddr_storage a{}, b{};
    socklen_t la = sizeof(a), lb = sizeof(b);
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&a), &la) != 0 ||
        getpeername(fd, reinterpret_cast<sockaddr*>(&b), &lb) != 0)
      return false;
    char host[INET6_ADDRSTRLEN] = {};
    const void* ip = b.ss_family == AF_INET ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in&>(b).sin_addr)
                                            : static_cast<const void*>(&reinterpret_cast<const sockaddr_in6&>(b).sin6_addr);
    return port(a) == q.local_port && port(b) == q.remote_port && inet_ntop(b.ss_family, ip, host, sizeof(host)) &&
           q.remote_addr == host;
  };
  // The last one found on this thread, checked again (its descriptor may have been closed and reused since).
  thread_local int found = -1;
  if (found >= 0 && is_it(found)) return found;
  found = -1;
  DIR* d = opendir("/proc/self/fd");
  if (!d) return -1;
  while (const dirent* e = readdir(d)) {
    const int fd = std::atoi(e->d_name);
    if (is_it(fd)) {
      found = fd;
      break;
    }
  }
  closedir(d);
  return found;
}

// Stops reading from the client of request q: shuts down its socket's read side, so the response already
// written is the last thing on that connection and the body's unread rest is not parsed as requests.
// Reads see the end of the stream once what is queued is read (the library may answer a line or two of it
// before that). Not drained here: closing with data unread resets the connection, and a client still sending
// would lose the response before reading it. (cpp-httplib keeps a connection open after a handler's
// "Connection: close"; without this a refused 300 MB chunked body came back as 99 answers of 414.)
void stop_reading_from(const httplib::Request& q) {
  const int fd = client_socket(q);
  if (fd >= 0) shutdown(fd, SHUT_RD);
}

// True once the client of the connection on fd has closed it (or it failed): a request it waits for is no
// longer wanted. A client that only half-closes after sending counts as gone, as in most HTTP servers.
bool peer_gone(int fd) {
  pollfd p{fd, POLLIN | POLLRDHUP, 0};
  if (poll(&p, 1, 0) <= 0) return false;
  return (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

// A Prometheus histogram with fixed upper bounds (cumulative buckets are summed when written).
struct Histogram {
  std::vector<double> bounds;
  std::vector<uint64_t> counts;  // per bucket, the last one +Inf
  double sum = 0;
  uint64_t n = 0;
  explicit Histogram(std::vector<double> b) : bounds(std::move(b)), counts(bounds.size() + 1, 0) {}
  void add(double v) {
    size_t i = 0;
    while (i < bounds.size() && v > bounds[i]) ++i;
    ++counts[i], sum += v, ++n;
  }
  void write(std::ostream& os, const std::string& name, const std::string& help) const {
    os << "# HELP " << name << " " << help << "\n# TYPE " << name << " histogram\n";
    uint64_t c = 0;
    for (size_t i = 0; i <= bounds.size(); ++i) {
      c += counts[i];
      os << name << "_bucket{le=\"";
      if (i < bounds.size()) os << bounds[i];
      else os << "+Inf";
      os << "\"} " << c << "\n";
    }
    os << name << "_sum " << sum << "\n" << name << "_count " << n << "\n";
  }
};

struct Metrics {
  std::mutex mu;
  Histogram duration{{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}};
  Histogram queue{{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}};
  Histogram batch_inputs{{1, 2, 4, 8, 16, 32, 64, 128, 256, 512}};
  Histogram batch_tokens{{16, 64, 256, 1024, 4096, 16384, 65536}};
  std::map<std::pair<std::string, int>, uint64_t> requests;  // (endpoint, status) -> count
  std::map<std::string, std::pair<double, uint64_t>> seconds; // endpoint -> (sum, count) of handled requests
  uint64_t texts = 0;

  void record(const std::string& ep, int status, double secs, size_t n_texts) {
    std::lock_guard<std::mutex> l(mu);
    ++requests[{ep, status}];
    auto& s = seconds[ep];
    s.first += secs, s.second += 1;
    texts += n_texts;
    duration.add(secs);
  }
  void record_status(const std::string& ep, int status) {  // an answer with no request work behind it
    std::lock_guard<std::mutex> l(mu);
    ++requests[{ep, status}];
  }
  void record_queue(double secs) {
    std::lock_guard<std::mutex> l(mu);
    queue.add(secs);
  }
  void record_batch(size_t inputs, int64_t tokens) {
    std::lock_guard<std::mutex> l(mu);
    batch_inputs.add(double(inputs));
    batch_tokens.add(double(tokens));
  }
};

ContextOptions context_options(const Options& o) {
  ContextOptions co;
  co.threads = o.threads;
  co.max_tokens = o.max_tokens;
  co.truncation = Truncation::Truncate;  // the server applies --no-truncate / "truncate": false itself
  return co;
}

int status_for(ErrorCode c) {
  switch (c) {
    case ErrorCode::InvalidText:
    case ErrorCode::InvalidArgument: return 400;
    case ErrorCode::Unsupported: return 501;
    default: return 500;
  }
}

// The native /classify response: labels and probabilities, or scores for a regression head.
std::string classify_response(const ModelInfo& mi, const std::vector<std::vector<float>>& logits,
                              const std::vector<bool>& truncated) {
  if (mi.num_labels == 0) throw HttpError{501, "the model has no classification head", "Unsupported"};
  nlohmann::json out, labels = nlohmann::json::array(), probs = nlohmann::json::array(), scores = nlohmann::json::array();
  for (const auto& l : logits) {
    if (mi.regression) {
      scores.push_back(l[0]);
      continue;
    }
    const float mx = *std::max_element(l.begin(), l.end());
    std::vector<double> pr(l.size());
    double z = 0;
    for (size_t k = 0; k < l.size(); ++k) z += pr[k] = std::exp(double(l[k]) - mx);
    size_t best = 0;
    for (size_t k = 0; k < l.size(); ++k) {
      pr[k] /= z;
      if (pr[k] > pr[best]) best = k;
    }
    labels.push_back(mi.labels[best]);
    probs.push_back(pr);
  }
  if (mi.regression) out["scores"] = scores;
  else out["labels"] = labels, out["probabilities"] = probs, out["label_names"] = mi.labels;
  out["truncated"] = truncated;
  return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

struct Server::Impl {
  std::shared_ptr<const Model> model;
  Options opts;
  httplib::Server http;
  Context tokenizer;  // tokenize() is const: the HTTP threads share it (the compute Contexts live in the batcher)
  Metrics metrics;  // before the batcher: its workers report into it until they are joined
  Batcher batcher;
  std::atomic<int> inflight{0};
  std::atomic<uint64_t> rejected{0};
  std::thread thread;
  int bound_port = -1;
  socket_t listen_sock = -1;  // the listening socket (see start())
  std::mutex stop_mu, log_mu;
  bool stopped = false;

  Impl(std::shared_ptr<const Model> m, const Options& o)
      : model(std::move(m)),
        opts(o),
        tokenizer(model, context_options(o)),
        batcher(model, context_options(o), o.compute_slots, o.max_batch_tokens,
                model->info().scheme != "fp32" || o.batch_fp32,
                [this](size_t inputs, int64_t tokens) { metrics.record_batch(inputs, tokens); }) {}

  // Tokenizes every input of a request (texts with their pairs, or token ids used as given), applying the
  // request's or the server's truncation policy; errors name the input.
  std::vector<Tokenized> tokenize_all(const Context& ctx, const EmbedRequest& r) const {
    const ModelInfo& mi = model->info();
    const int bad = r.dialect == Dialect::Native ? 400 : 422;  // the native dialect's statuses predate TEI's
    const bool truncate = r.truncate.value_or(opts.truncate);
    const int64_t limit = opts.max_tokens > 0 ? opts.max_tokens : mi.max_seq_length;
    std::vector<Tokenized> batch;
    for (size_t i = 0; i < r.size(); ++i) {
      const std::string where = (r.dialect == Dialect::Native ? "texts[" : r.dialect == Dialect::Tei ? "inputs[" : "input[") +
                                std::to_string(i) + "]";
      Tokenized t;
      if (!r.token_inputs.empty()) {  // the model's own ids, used as given
        t.ids = r.token_inputs[i];
        for (int32_t id : t.ids)
          if (id >= mi.vocab_size)
            throw HttpError{422, where + ": token id " + std::to_string(id) + " >= the vocabulary size " +
                                     std::to_string(mi.vocab_size), "Validation"};
        t.untruncated_length = t.ids.size();
        if (int64_t(t.ids.size()) > limit) t.ids.resize(size_t(limit)), t.truncated = true;
        t.type_ids.assign(t.ids.size(), 0);
      } else {
        const bool pair = !r.pairs.empty() && (r.has_pair.empty() || r.has_pair[i]);
        try {
          t = pair ? ctx.tokenize(r.texts[i], std::string_view(r.pairs[i])) : ctx.tokenize(r.texts[i]);
        } catch (const Error& e) {
          throw HttpError{status_for(e.code()) == 400 ? bad : status_for(e.code()), where + ": " + e.what(), ""};
        }
      }
      if (t.truncated && !truncate)
        throw HttpError{bad, where + ": " + (t.untruncated_exact ? "" : "at least ") +
                                 std::to_string(t.untruncated_length) + " tokens, over the limit of " +
                                 std::to_string(limit) + " (send \"truncate\": true, or start the server "
                                 "without --no-truncate)", "Validation"};
      batch.push_back(std::move(t));
    }
    return batch;
  }

  // Runs one inference request: admission, parsing, compute, response, metrics.
  void handle(const std::string& ep, const httplib::Request& req, const std::string& body, httplib::Response& res) {
    const auto t0 = std::chrono::steady_clock::now();
    size_t n_texts = 0;
    int64_t n_tokens = 0;
    double queue_ms = 0, compute_ms = 0;
    int status = 200;
    if (!authorized(req, res)) {
      metrics.record(ep, 401, 0, 0);
      log_access(ep, 401, 0, 0, 0, 0);
      return;
    }
    if (inflight.fetch_add(1) >= opts.max_inflight) {
      inflight.fetch_sub(1);
      rejected.fetch_add(1);
      res.status = 429;
      res.set_header("Retry-After", "1");
      res.set_content(error_body({429, "server busy: " + std::to_string(opts.max_inflight) + " requests in flight",
                                  "Overloaded"}),
                      "application/json");
      metrics.record(ep, 429, 0, 0);
      log_access(ep, 429, 0, 0, 0, 0);
      return;
    }
    try {
      std::optional<PredictRequest> pr;
      std::optional<RerankRequest> rr;
      if (ep == "/predict") pr = parse_predict(body, opts.max_texts);
      if (ep == "/rerank") rr = parse_rerank(body, opts.max_texts);
      const EmbedRequest r = pr                  ? pr->inputs
                             : rr                ? rr->pairs
                             : ep == "/embed"    ? parse_embed(body, opts.max_texts)
                             : ep == "/classify" ? parse_classify(body, opts.max_texts)
                                                 : parse_openai(body, opts.max_texts);
      n_texts = r.size();
      const ModelInfo& mi = model->info();
      if ((pr || ep == "/classify") && mi.num_labels == 0)
        throw HttpError{501, "the model has no classification head (" + ep + " needs one)", "Unsupported"};
      if (rr && mi.num_labels != 1)
        throw HttpError{501, "/rerank needs a cross-encoder: a head with one output; this model has " +
                                 std::to_string(mi.num_labels) + " outputs", "Unsupported"};
      auto job = std::make_shared<BatchJob>();
      job->inputs = tokenize_all(tokenizer, r);
      std::vector<bool> trunc;
      for (const auto& t : job->inputs) trunc.push_back(t.truncated), n_tokens += int64_t(t.ids.size());
      job->kind = (pr || rr || ep == "/classify") ? BatchJob::Kind::Classify : BatchJob::Kind::Embed;
      job->normalize = r.dimensions ? std::optional<bool>(false) : r.normalize;  // cut first, then normalise
      if (const int fd = client_socket(req); fd >= 0) job->client_gone = [fd] { return peer_gone(fd); };
      std::vector<std::vector<float>> rows = batcher.submit(job).get();
      queue_ms = job->queue_ms, compute_ms = job->compute_ms;
      metrics.record_queue(queue_ms / 1000.0);
      if (pr) {
        res.set_content(predict_response(*pr, rows, mi.labels), "application/json");
      } else if (rr) {
        res.set_content(rerank_response(*rr, rows), "application/json");
      } else if (ep != "/classify") {
        if (r.dimensions) apply_dimensions(rows, *r.dimensions, r.normalize.value_or(mi.normalize));
        res.set_content(embed_response(r, rows, trunc, n_tokens, mi.path), "application/json");
      } else {
        res.set_content(classify_response(mi, rows, trunc), "application/json");
      }
    } catch (const HttpError& e) {
      status = e.status;
      res.status = e.status;
      res.set_content(error_body(e), "application/json");
    } catch (const ClientGone& e) {  // nginx's 499: nobody reads it, but the log and metrics say what happened
      status = 499;
      res.status = 499;
      res.set_content(error_body({499, e.what(), "ClientClosedRequest"}), "application/json");
    } catch (const Error& e) {
      status = status_for(e.code());
      res.status = status;
      res.set_content(error_body({status, e.what(), ""}), "application/json");
    } catch (const std::exception& e) {
      status = 500;
      res.status = 500;
      res.set_content(error_body({500, e.what(), "Backend"}), "application/json");
    }
    inflight.fetch_sub(1);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    metrics.record(ep, status, secs, n_texts);
    log_access(ep, status, n_texts, n_tokens, queue_ms, compute_ms);
  }

  // POST /tokenize (TEI's shape): per input, [{"id", "text", "special", "start", "stop"}]: a piece's byte span
  // in the input and the text it covers, or for [CLS]/[SEP] the vocabulary's string and null offsets.
  // Truncated like the model's inputs when add_special_tokens; the raw pieces otherwise.
  void tokenize_route(const httplib::Request& req, const std::string& body, httplib::Response& res) {
    const auto t0 = std::chrono::steady_clock::now();
    int status = 200;
    size_t n = 0;
    if (!authorized(req, res)) {
      metrics.record("/tokenize", 401, 0, 0);
      return;
    }
    try {
      const TokenizeRequest r = parse_tokenize(body, opts.max_texts);
      n = r.texts.size();
      nlohmann::json out = nlohmann::json::array();
      for (size_t i = 0; i < r.texts.size(); ++i) {
        std::vector<int32_t> ids;
        Model::TokenSpans raw;
        try {
          raw = model->tokenize_raw_spans(r.texts[i]);
          ids = r.add_special_tokens ? tokenizer.tokenize(r.texts[i]).ids : raw.ids;
        } catch (const Error& e) {
          throw HttpError{422, "inputs[" + std::to_string(i) + "]: " + e.what(), "Validation"};
        }
        // As TEI: a piece of the text has its byte span and the text it covers; [CLS]/[SEP] (and every piece of
        // a tokenizer without spans) have their vocabulary string and null offsets. With special tokens the ids
        // are [CLS], a prefix of the raw pieces (truncation), [SEP].
        const std::string& text = r.texts[i];
        nlohmann::json toks = nlohmann::json::array();
        for (size_t k = 0; k < ids.size(); ++k) {
          const bool special = r.add_special_tokens && (k == 0 || k + 1 == ids.size());  // [CLS] ... [SEP]
          const size_t j = r.add_special_tokens ? k - 1 : k;
          if (!special && j < raw.spans.size() && raw.ids[j] == ids[k]) {
            const auto [b, e] = raw.spans[j];
            toks.push_back({{"id", ids[k]}, {"text", text.substr(b, e - b)}, {"special", false}, {"start", b},
                            {"stop", e}});
          } else {
            toks.push_back({{"id", ids[k]}, {"text", model->token_piece(ids[k])}, {"special", special},
                            {"start", nullptr}, {"stop", nullptr}});
          }
        }
        out.push_back(toks);
      }
      res.set_content(out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "application/json");
    } catch (const HttpError& e) {
      status = e.status;
      res.status = e.status;
      res.set_content(error_body(e), "application/json");
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    metrics.record("/tokenize", status, secs, n);
    log_access("/tokenize", status, n, 0, 0, 0);
  }

  // Reads a POST body as it arrives, refusing it once it passes --max-body: cpp-httplib checks a declared
  // Content-Length itself but reads a chunked body whole (300 MB took 5.6 GB of RSS before a 200). The
  // receiver also takes every content type as it is (a form-encoded body over 8 KB, curl -d's default, was a
  // 413 from the library). On failure the error is written and false returned.
  bool read_body(const std::string& ep, const httplib::Request& req, const httplib::ContentReader& reader, httplib::Response& res,
                 std::string& body) {
    if (req.is_multipart_form_data()) {  // curl -F: a form upload, not a JSON body; read (dropped), then refused
      size_t dropped = 0;
      const bool read = reader([](const httplib::MultipartFormData&) { return true; },
                               [&](const char*, size_t len) { return (dropped += len) <= kMaxDiscard; });
      res.status = 415;
      if (!read) {
        res.set_header("Connection", "close");
        stop_reading_from(req);
      }
      res.set_content(error_body({415, "multipart/form-data bodies are not accepted: send the JSON request as the "
                                       "body (Content-Type: application/json)", "Validation"}),
                      "application/json");
      metrics.record(ep, 415, 0, 0);
      log_access(ep, 415, 0, 0, 0, 0);
      return false;
    }
    // Past the limit the rest is read and dropped up to kMaxDiscard bytes, so the client (still sending) gets
    // its 413 on a clean connection; beyond that the connection stops being read.
    bool over = false;
    size_t discarded = 0;
    const bool ok = reader([&](const char* data, size_t len) {
      if (!over && len <= opts.max_body_bytes - std::min(body.size(), opts.max_body_bytes)) {
        body.append(data, len);
        return true;
      }
      if (!over) over = true, body.clear(), body.shrink_to_fit();
      discarded += len;
      return discarded <= kMaxDiscard;
    });
    if (ok && !over) return true;
    const int status = over || res.status == 413 ? 413 : 400;
    res.status = status;
    if (over && !ok) {  // (the library skips a declared Content-Length over the limit itself)
      res.set_header("Connection", "close");
      stop_reading_from(req);
    }
    res.set_content(error_body({status, status == 413 ? "request body over the limit of " +
                                                            std::to_string(opts.max_body_bytes) + " bytes (--max-body)"
                                                      : std::string("request body cut short or malformed"),
                                status == 413 ? "Payload" : "Validation"}),
                    "application/json");
    metrics.record(ep, status, 0, 0);
    log_access(ep, status, 0, 0, 0, 0);
    return false;
  }

  // --api-key: "Authorization: Bearer KEY" (OpenAI's and TEI's clients send it so); 401 otherwise.
  bool authorized(const httplib::Request& req, httplib::Response& res) const {
    if (opts.api_key.empty() || req.get_header_value("Authorization") == "Bearer " + opts.api_key) return true;
    res.status = 401;
    res.set_header("WWW-Authenticate", "Bearer");
    res.set_content(error_body({401, "missing or wrong API key (send \"Authorization: Bearer KEY\")", "Unauthorized"}),
                    "application/json");
    return false;
  }

  // One JSON line per request on stderr (--access-log), written whole under a lock.
  void log_access(const std::string& ep, int status, size_t inputs, int64_t tokens, double queue_ms, double compute_ms) {
    if (!opts.access_log) return;
    const std::string line = nlohmann::json({{"route", ep}, {"status", status}, {"inputs", inputs}, {"tokens", tokens},
                                             {"queue_ms", queue_ms}, {"compute_ms", compute_ms}})
                                 .dump() + "\n";
    std::lock_guard<std::mutex> l(log_mu);
    std::fwrite(line.data(), 1, line.size(), stderr);
  }

  // GET /info: TEI's fields where they apply (model_id, model_type, max_input_length, max_client_batch_size,
  // max_concurrent_requests, version) plus rmsmp's own (scheme, bits, backend, file size).
  std::string info() const {
    const ModelInfo& mi = model->info();
    nlohmann::json type = mi.num_labels > 0
                              ? nlohmann::json{{"classifier", {{"labels", mi.labels}, {"regression", mi.regression}}}}
                              : nlohmann::json{{"embedding", {{"pooling", mi.pooling}}}};
    return nlohmann::json({{"model_id", mi.path},
                           {"model_type", type},
                           {"max_input_length", opts.max_tokens > 0 ? opts.max_tokens : mi.max_seq_length},
                           {"max_client_batch_size", opts.max_texts},
                           {"max_concurrent_requests", opts.max_inflight},
                           {"max_body_bytes", opts.max_body_bytes},
                           {"auto_truncate", opts.truncate},
                           {"compute_slots", opts.compute_slots},
                           {"hidden_size", mi.hidden_size},
                           {"embedding_size", mi.embedding_size},
                           {"normalize", mi.normalize},
                           {"scheme", mi.scheme},
                           {"avg_weight_bits", mi.avg_weight_bits},
                           {"file_bytes", mi.file_bytes},
                           {"backend", mi.backend},
                           {"version", kServerVersion}})
        .dump();
  }

  std::string prometheus() {
    std::ostringstream os;
    const ModelInfo& mi = model->info();
    os << "# HELP rmsmp_requests_total HTTP requests by endpoint and status.\n# TYPE rmsmp_requests_total counter\n";
    std::lock_guard<std::mutex> l(metrics.mu);
    for (const auto& [k, v] : metrics.requests)
      os << "rmsmp_requests_total{endpoint=\"" << k.first << "\",code=\"" << k.second << "\"} " << v << "\n";
    os << "# HELP rmsmp_request_seconds Time spent on requests (admitted and rejected).\n# TYPE rmsmp_request_seconds summary\n";
    for (const auto& [k, v] : metrics.seconds)
      os << "rmsmp_request_seconds_sum{endpoint=\"" << k << "\"} " << v.first << "\nrmsmp_request_seconds_count{endpoint=\""
         << k << "\"} " << v.second << "\n";
    os << "# HELP rmsmp_texts_total Texts processed.\n# TYPE rmsmp_texts_total counter\nrmsmp_texts_total " << metrics.texts
       << "\n# HELP rmsmp_rejected_total Requests refused with 429 (over max_inflight).\n# TYPE rmsmp_rejected_total counter\n"
       << "rmsmp_rejected_total " << rejected.load() << "\n"
       << "# HELP rmsmp_dropped_total Queued requests dropped because their client closed the connection.\n"
       << "# TYPE rmsmp_dropped_total counter\nrmsmp_dropped_total " << batcher.dropped() << "\n"
       << "# HELP rmsmp_inflight Requests being served now.\n"
       << "# TYPE rmsmp_inflight gauge\nrmsmp_inflight " << inflight.load() << "\n"
       << "# HELP rmsmp_queue_depth Requests tokenized and waiting for a compute worker.\n# TYPE rmsmp_queue_depth gauge\n"
       << "rmsmp_queue_depth " << batcher.queued() << "\n"
       ;
    metrics.duration.write(os, "rmsmp_request_duration_seconds", "Requests' time in the server (admitted and rejected).");
    metrics.queue.write(os, "rmsmp_queue_seconds", "Time from queueing a tokenized request to its batch starting.");
    metrics.batch_inputs.write(os, "rmsmp_batch_inputs", "Inputs per computed batch.");
    metrics.batch_tokens.write(os, "rmsmp_batch_tokens", "Tokens per computed batch.");
    os << "# HELP rmsmp_batches_total Batches computed (requests packed together count once).\n"
       << "# TYPE rmsmp_batches_total counter\nrmsmp_batches_total " << batcher.batches() << "\n"
       << "# HELP rmsmp_model_info The loaded model.\n# TYPE rmsmp_model_info gauge\nrmsmp_model_info{scheme=\"" << mi.scheme
       << "\",backend=\"" << mi.backend << "\",hidden_size=\"" << mi.hidden_size << "\"} 1\n";
    return os.str();
  }
};

Server::Server(std::shared_ptr<const Model> model, const Options& opts)
    : impl_(std::make_unique<Impl>(std::move(model), opts)) {
  // Upper bounds too: each in-flight request holds an HTTP worker thread and each slot a Context, so a hostile
  // value (--max-inflight 2000000000) would ask for threads the process cannot create.
  RMSMP_CHECK(opts.compute_slots >= 1 && opts.compute_slots <= kMaxSlots, ErrorCode::InvalidArgument,
              "serve: --slots " << opts.compute_slots << " outside 1.." << kMaxSlots);
  RMSMP_CHECK(opts.max_inflight >= 1 && opts.max_inflight <= kMaxInflight, ErrorCode::InvalidArgument,
              "serve: --max-inflight " << opts.max_inflight << " outside 1.." << kMaxInflight);
  RMSMP_CHECK(opts.max_connections >= 1 && opts.max_connections <= kMaxConnections, ErrorCode::InvalidArgument,
              "serve: --max-connections " << opts.max_connections << " outside 1.." << kMaxConnections);
  RMSMP_CHECK(opts.threads >= 0 && opts.threads <= kMaxContextThreads, ErrorCode::InvalidArgument,
              "serve: --threads " << opts.threads << " outside 0.." << kMaxContextThreads);
  RMSMP_CHECK(opts.max_texts >= 1 && opts.max_body_bytes >= 64, ErrorCode::InvalidArgument,
              "serve: --max-texts must be >= 1 and --max-body >= 64");
  Impl& s = *impl_;
  // A thread per open connection, up to --max-connections (idle and slow clients cannot hold a fixed pool);
  // requests beyond max_inflight still reach the admission check and get their 429 at once.
  const size_t max_conn = size_t(opts.max_connections);
  s.http.new_task_queue = [max_conn] { return new ConnectionPool(8, max_conn); };
  s.http.set_payload_max_length(opts.max_body_bytes);
  s.http.set_read_timeout(10, 0);
  s.http.set_keep_alive_max_count(100);
  // Remember the listening socket: Debian's compiled cpp-httplib listens with a backlog of 5 (its
  // CPPHTTPLIB_LISTEN_BACKLOG is fixed when the library is built, not by our headers), and start() raises it.
  s.http.set_socket_options([&s](socket_t sock) {
    httplib::default_socket_options(sock);
    if (s.listen_sock < 0) s.listen_sock = sock;
  });
  // Every POST route reads its body through read_body (bounded while reading). "/" is TEI's route for the
  // model's main task (huggingface_hub's InferenceClient posts there).
  const std::pair<const char*, const char*> routes[] = {
      {"/embed", "/embed"},       {"/", "/embed"},           {"/classify", "/classify"},
      {"/predict", "/predict"},   {"/rerank", "/rerank"},    {"/v1/embeddings", "/v1/embeddings"},
      {"/embeddings", "/v1/embeddings"}, {"/tokenize", "/tokenize"}};
  for (const auto& [route, ep_c] : routes) {
    const std::string ep = ep_c;
    s.http.Post(route, [&s, ep](const httplib::Request& q, httplib::Response& r, const httplib::ContentReader& rd) {
      handled_here = true;
      std::string body;
      if (!s.read_body(ep, q, rd, r, body)) return;
      if (ep == "/tokenize") s.tokenize_route(q, body, r);
      else s.handle(ep, q, body, r);
    });
  }
  s.http.Get("/info", [&s](const httplib::Request& q, httplib::Response& r) {
    if (s.authorized(q, r)) r.set_content(s.info(), "application/json");
  });
  s.http.Get("/health", [&s](const httplib::Request&, httplib::Response& r) {
    const ModelInfo& mi = s.model->info();
    r.set_content(nlohmann::json({{"status", "ok"}, {"model", mi.path}, {"scheme", mi.scheme},
                                  {"hidden_size", mi.hidden_size}, {"embedding_size", mi.embedding_size},
                                  {"num_labels", mi.num_labels}}).dump(),
                  "application/json");
  });
  s.http.Get("/metrics", [&s](const httplib::Request& q, httplib::Response& r) {
    if (s.authorized(q, r)) r.set_content(s.prometheus(), "text/plain; version=0.0.4");
  });
  s.http.set_logger([&s](const httplib::Request& q, const httplib::Response& r) {
    if (!std::exchange(handled_here, false)) {
      static const char* const known[] = {"/embed", "/", "/classify", "/predict", "/rerank", "/v1/embeddings",
                                          "/embeddings", "/tokenize", "/info", "/health", "/metrics"};
      const bool is_known = std::find(std::begin(known), std::end(known), q.path) != std::end(known);
      s.metrics.record_status(is_known ? q.path : "other", r.status);  // "other": the label set stays bounded
    }
  });
  s.http.set_error_handler([](const httplib::Request&, httplib::Response& r) {
    if (r.body.empty()) r.set_content(error_body({r.status, "HTTP " + std::to_string(r.status), ""}), "application/json");
  });
}

Server::~Server() { stop(); }

void Server::start() {
  Impl& s = *impl_;
  if (s.opts.port == 0) {
    s.bound_port = s.http.bind_to_any_port(s.opts.host);
    RMSMP_CHECK(s.bound_port > 0, ErrorCode::IoError, "serve: cannot bind " << s.opts.host << " (any port)");
  } else {
    RMSMP_CHECK(s.http.bind_to_port(s.opts.host, s.opts.port), ErrorCode::IoError,
                "serve: cannot bind " << s.opts.host << ":" << s.opts.port << " (in use, or not an address here)");
    s.bound_port = s.opts.port;
  }
  // A backlog of 5 drops the handshakes of a burst of clients connecting at once (16 clients: some saw their
  // first request fail with a read error). listen() on a listening socket only updates its backlog (Linux);
  // the kernel caps it at net.core.somaxconn.
  RMSMP_CHECK(s.listen_sock >= 0 && ::listen(s.listen_sock, kListenBacklog) == 0, ErrorCode::IoError,
              "serve: cannot set the listen backlog of " << s.opts.host << ":" << s.bound_port);
  s.thread = std::thread([&s] { s.http.listen_after_bind(); });
}

int Server::port() const { return impl_->bound_port; }

void Server::stop() {
  std::lock_guard<std::mutex> l(impl_->stop_mu);
  if (impl_->stopped) return;
  impl_->stopped = true;
  impl_->http.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace rmsmp::serve

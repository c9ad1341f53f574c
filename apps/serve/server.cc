// Server: request parsing and validation, admission control, the Context pool and Prometheus metrics.
#include "serve/server.h"

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "rmsmp/context.h"

namespace rmsmp::serve {

namespace {

// A request failure with its HTTP status.
struct HttpError {
  int status;
  std::string message;
};

struct Metrics {
  std::mutex mu;
  std::map<std::pair<std::string, int>, uint64_t> requests;  // (endpoint, status) -> count
  std::map<std::string, std::pair<double, uint64_t>> seconds; // endpoint -> (sum, count) of handled requests
  uint64_t texts = 0;

  void record(const std::string& ep, int status, double secs, size_t n_texts) {
    std::lock_guard<std::mutex> l(mu);
    ++requests[{ep, status}];
    auto& s = seconds[ep];
    s.first += secs, s.second += 1;
    texts += n_texts;
  }
};

// Fixed pool of Contexts; acquire blocks until one is free.
class ContextPool {
 public:
  ContextPool(const std::shared_ptr<const Model>& m, const Options& o) {
    ContextOptions co;
    co.threads = o.threads;
    co.max_tokens = o.max_tokens;
    co.truncation = o.truncate ? Truncation::Truncate : Truncation::Error;
    for (int i = 0; i < o.compute_slots; ++i) free_.push_back(std::make_unique<Context>(m, co));
  }
  std::unique_ptr<Context> acquire() {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return !free_.empty(); });
    auto c = std::move(free_.back());
    free_.pop_back();
    return c;
  }
  void release(std::unique_ptr<Context> c) {
    {
      std::lock_guard<std::mutex> l(mu_);
      free_.push_back(std::move(c));
    }
    cv_.notify_one();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Context>> free_;
};

// Error messages can quote the client's bytes (e.g. a JSON parse error on invalid UTF-8): replace what is not
// UTF-8 instead of letting dump() throw.
std::string json_error(const std::string& msg) {
  return nlohmann::json({{"error", msg}}).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// {"texts": [..], "pairs": [..]?, "normalize": bool?} -> validated fields.
struct Parsed {
  std::vector<std::string> texts, pairs;
  std::optional<bool> normalize;
};

Parsed parse_body(const std::string& body, size_t max_texts) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(body);
  } catch (const nlohmann::json::exception& e) {
    throw HttpError{400, std::string("malformed JSON: ") + e.what()};
  }
  if (!j.is_object() || !j.contains("texts") || !j["texts"].is_array())
    throw HttpError{400, "body must be a JSON object with \"texts\": [string, ...]"};
  Parsed p;
  auto strings = [&](const nlohmann::json& a, const char* name) {
    std::vector<std::string> v;
    for (size_t i = 0; i < a.size(); ++i) {
      if (!a[i].is_string()) throw HttpError{400, std::string(name) + "[" + std::to_string(i) + "] is not a string"};
      v.push_back(a[i].get<std::string>());
    }
    return v;
  };
  if (j["texts"].empty()) throw HttpError{400, "\"texts\" is empty"};
  if (j["texts"].size() > max_texts)
    throw HttpError{413, std::to_string(j["texts"].size()) + " texts; at most " + std::to_string(max_texts) + " per request"};
  p.texts = strings(j["texts"], "texts");
  if (j.contains("pairs")) {
    if (!j["pairs"].is_array() || j["pairs"].size() != p.texts.size())
      throw HttpError{400, "\"pairs\" must be an array as long as \"texts\""};
    p.pairs = strings(j["pairs"], "pairs");
  }
  if (j.contains("normalize")) {
    if (!j["normalize"].is_boolean()) throw HttpError{400, "\"normalize\" must be true or false"};
    p.normalize = j["normalize"].get<bool>();
  }
  return p;
}

int status_for(ErrorCode c) {
  switch (c) {
    case ErrorCode::InvalidText:
    case ErrorCode::InvalidArgument: return 400;
    case ErrorCode::Unsupported: return 501;
    default: return 500;
  }
}

}  // namespace

struct Server::Impl {
  std::shared_ptr<const Model> model;
  Options opts;
  httplib::Server http;
  ContextPool pool;
  Metrics metrics;
  std::atomic<int> inflight{0};
  std::atomic<uint64_t> rejected{0};
  std::thread thread;
  int bound_port = -1;
  std::mutex stop_mu;
  bool stopped = false;

  Impl(std::shared_ptr<const Model> m, const Options& o) : model(std::move(m)), opts(o), pool(model, o) {}

  // Runs one inference request: admission, parsing, compute, response, metrics.
  void handle(const std::string& ep, const httplib::Request& req, httplib::Response& res) {
    const auto t0 = std::chrono::steady_clock::now();
    size_t n_texts = 0;
    int status = 200;
    if (inflight.fetch_add(1) >= opts.max_inflight) {
      inflight.fetch_sub(1);
      rejected.fetch_add(1);
      res.status = 503;
      res.set_header("Retry-After", "1");
      res.set_content(json_error("server busy: " + std::to_string(opts.max_inflight) + " requests in flight"),
                      "application/json");
      metrics.record(ep, 503, 0, 0);
      return;
    }
    try {
      Parsed p = parse_body(req.body, opts.max_texts);
      n_texts = p.texts.size();
      std::unique_ptr<Context> ctx = pool.acquire();
      struct Release {
        ContextPool& pool;
        std::unique_ptr<Context>& c;
        ~Release() { pool.release(std::move(c)); }
      } release{pool, ctx};
      std::vector<Tokenized> batch;
      for (size_t i = 0; i < p.texts.size(); ++i) {
        try {
          batch.push_back(p.pairs.empty() ? ctx->tokenize(p.texts[i]) : ctx->tokenize(p.texts[i], std::string_view(p.pairs[i])));
        } catch (const Error& e) {
          throw HttpError{status_for(e.code()), "texts[" + std::to_string(i) + "]: " + e.what()};
        }
      }
      nlohmann::json out;
      nlohmann::json trunc = nlohmann::json::array();
      for (const auto& t : batch) trunc.push_back(t.truncated);
      if (ep == "/embed") {
        EmbedOptions eo;
        eo.normalize = p.normalize;
        out["embeddings"] = ctx->embed(batch, eo);
      } else {
        const ModelInfo& mi = model->info();
        if (mi.num_labels == 0) throw HttpError{501, "the model has no classification head"};
        const auto logits = ctx->classify(batch);
        nlohmann::json labels = nlohmann::json::array(), probs = nlohmann::json::array(), scores = nlohmann::json::array();
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
      }
      out["truncated"] = trunc;
      res.set_content(out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "application/json");
    } catch (const HttpError& e) {
      status = e.status;
      res.status = e.status;
      res.set_content(json_error(e.message), "application/json");
    } catch (const Error& e) {
      status = status_for(e.code());
      res.status = status;
      res.set_content(json_error(e.what()), "application/json");
    } catch (const std::exception& e) {
      status = 500;
      res.status = 500;
      res.set_content(json_error(e.what()), "application/json");
    }
    inflight.fetch_sub(1);
    metrics.record(ep, status, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), n_texts);
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
       << "\n# HELP rmsmp_rejected_total Requests refused with 503 (over max_inflight).\n# TYPE rmsmp_rejected_total counter\n"
       << "rmsmp_rejected_total " << rejected.load() << "\n# HELP rmsmp_inflight Requests being served now.\n"
       << "# TYPE rmsmp_inflight gauge\nrmsmp_inflight " << inflight.load() << "\n"
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
  RMSMP_CHECK(opts.threads >= 0 && opts.threads <= kMaxContextThreads, ErrorCode::InvalidArgument,
              "serve: --threads " << opts.threads << " outside 0.." << kMaxContextThreads);
  RMSMP_CHECK(opts.max_texts >= 1 && opts.max_body_bytes >= 64, ErrorCode::InvalidArgument,
              "serve: --max-texts must be >= 1 and --max-body >= 64");
  Impl& s = *impl_;
  // Workers: enough to reach the admission check for requests beyond max_inflight (they get their 503 at
  // once instead of waiting for a worker), plus keep-alive headroom.
  const size_t workers = size_t(opts.max_inflight) + 4;
  s.http.new_task_queue = [workers] { return new httplib::ThreadPool(workers); };
  s.http.set_payload_max_length(opts.max_body_bytes);
  s.http.set_read_timeout(10, 0);
  s.http.set_keep_alive_max_count(100);
  s.http.Post("/embed", [&s](const httplib::Request& q, httplib::Response& r) { s.handle("/embed", q, r); });
  s.http.Post("/classify", [&s](const httplib::Request& q, httplib::Response& r) { s.handle("/classify", q, r); });
  s.http.Get("/health", [&s](const httplib::Request&, httplib::Response& r) {
    const ModelInfo& mi = s.model->info();
    r.set_content(nlohmann::json({{"status", "ok"}, {"model", mi.path}, {"scheme", mi.scheme},
                                  {"hidden_size", mi.hidden_size}, {"num_labels", mi.num_labels}}).dump(),
                  "application/json");
  });
  s.http.Get("/metrics", [&s](const httplib::Request&, httplib::Response& r) {
    r.set_content(s.prometheus(), "text/plain; version=0.0.4");
  });
  s.http.set_error_handler([](const httplib::Request&, httplib::Response& r) {
    if (r.body.empty()) r.set_content(json_error("HTTP " + std::to_string(r.status)), "application/json");
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

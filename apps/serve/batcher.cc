// Cross-request batching (see batcher.h).
#include "serve/batcher.h"

#include <chrono>

namespace rmsmp::serve {

namespace {
int64_t tokens_of(const BatchJob& j) {
  int64_t t = 0;
  for (const auto& x : j.inputs) t += int64_t(x.ids.size());
  return t;
}
bool same_kind(const BatchJob& a, const BatchJob& b) { return a.kind == b.kind && a.normalize == b.normalize; }
double ms_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}
}  // namespace

Batcher::Batcher(std::shared_ptr<const Model> model, const ContextOptions& co, int workers, int64_t max_batch_tokens,
                 bool pack, std::function<void(size_t, int64_t)> on_batch)
    : max_tokens_(max_batch_tokens), pack_(pack), on_batch_(std::move(on_batch)) {
  for (int i = 0; i < workers; ++i) contexts_.push_back(std::make_unique<Context>(model, co));
  for (auto& c : contexts_) threads_.emplace_back([this, ctx = c.get()] { work(*ctx); });
}

Batcher::~Batcher() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

std::future<std::vector<std::vector<float>>> Batcher::submit(const std::shared_ptr<BatchJob>& job) {
  auto f = job->result.get_future();
  job->queued = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> l(mu_);
    queue_.push_back(job);
  }
  cv_.notify_one();
  return f;
}

size_t Batcher::queued() const {
  std::lock_guard<std::mutex> l(mu_);
  return queue_.size();
}

// The oldest job, then every later job of the same kind that still fits the token budget, in queue order
// (jobs of other kinds keep their places). Jobs whose client has gone are dropped first (waiting is when
// clients time out and leave; computing for them would only delay the ones still there).
std::vector<std::shared_ptr<BatchJob>> Batcher::take() {
  std::unique_lock<std::mutex> l(mu_);
  std::vector<std::shared_ptr<BatchJob>> out;
  for (;;) {
    cv_.wait(l, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return out;
    for (auto it = queue_.begin(); it != queue_.end();) {
      if ((*it)->client_gone && (*it)->client_gone()) {
        (*it)->result.set_exception(std::make_exception_ptr(ClientGone()));
        dropped_.fetch_add(1);
        it = queue_.erase(it);
      } else {
        ++it;
      }
    }
    if (!queue_.empty()) break;
  }
  out.push_back(queue_.front());
  queue_.pop_front();
  int64_t tokens = tokens_of(*out[0]);
  if (pack_)
    for (auto it = queue_.begin(); it != queue_.end();) {
      const int64_t t = tokens_of(**it);
      if (same_kind(**it, *out[0]) && tokens + t <= max_tokens_) {
        tokens += t;
        out.push_back(*it);
        it = queue_.erase(it);
      } else {
        ++it;
      }
    }
  return out;
}

void Batcher::work(Context& ctx) {
  for (;;) {
    const auto jobs = take();
    if (jobs.empty()) return;
    const auto t0 = std::chrono::steady_clock::now();
    batches_.fetch_add(1);
    std::vector<Tokenized> batch;
    for (const auto& j : jobs) {
      j->queue_ms = std::chrono::duration<double, std::milli>(t0 - j->queued).count();
      batch.insert(batch.end(), j->inputs.begin(), j->inputs.end());
    }
    if (on_batch_) {
      int64_t tokens = 0;
      for (const auto& t : batch) tokens += int64_t(t.ids.size());
      on_batch_(batch.size(), tokens);
    }
    try {
      std::vector<std::vector<float>> rows;
      if (jobs[0]->kind == BatchJob::Kind::Embed) {
        EmbedOptions eo;
        eo.normalize = jobs[0]->normalize;
        rows = ctx.embed(batch, eo);
      } else {
        rows = ctx.classify(batch);
      }
      const double ms = ms_since(t0);
      size_t at = 0;
      for (const auto& j : jobs) {
        std::vector<std::vector<float>> mine(rows.begin() + std::ptrdiff_t(at),
                                             rows.begin() + std::ptrdiff_t(at + j->inputs.size()));
        at += j->inputs.size();
        j->compute_ms = ms;
        j->result.set_value(std::move(mine));
      }
    } catch (...) {
      for (const auto& j : jobs) j->result.set_exception(std::current_exception());
    }
  }
}

}  // namespace rmsmp::serve

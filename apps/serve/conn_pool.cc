// Connection threads on demand (see conn_pool.h).
#include "serve/conn_pool.h"

#include <chrono>
#include <system_error>
#include <thread>

namespace rmsmp::serve {

namespace {
constexpr auto kIdleExit = std::chrono::seconds(30);  // an idle thread beyond keep_threads leaves after this
}

ConnectionPool::ConnectionPool(size_t keep_threads, size_t max_threads)
    : keep_(keep_threads), max_(max_threads < 1 ? 1 : max_threads) {}

ConnectionPool::~ConnectionPool() { shutdown(); }

void ConnectionPool::enqueue(std::function<void()> fn) {
  std::unique_lock<std::mutex> l(mu_);
  jobs_.push_back(std::move(fn));
  // More waiting connections than idle threads: one more thread, while under the cap. Threads are detached
  // and counted; shutdown() waits for the count to reach zero, so none outlives the pool.
  if (jobs_.size() > idle_ && threads_ < max_) {
    try {
      std::thread([this] { work(); }).detach();
      ++threads_;
    } catch (const std::system_error&) {  // no thread to be had now: the existing ones take it in turn
    }
  }
  l.unlock();
  work_cv_.notify_one();
}

void ConnectionPool::work() {
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    ++idle_;
    const bool woken = work_cv_.wait_for(l, kIdleExit, [&] { return stop_ || !jobs_.empty(); });
    --idle_;
    if (!jobs_.empty()) {
      std::function<void()> fn = std::move(jobs_.front());
      jobs_.pop_front();
      l.unlock();
      fn();  // the whole connection (cpp-httplib closes its socket at the end)
      l.lock();
      continue;
    }
    if (stop_ || (!woken && threads_ > keep_)) break;
  }
  --threads_;
  done_cv_.notify_all();
}

void ConnectionPool::shutdown() {
  std::unique_lock<std::mutex> l(mu_);
  stop_ = true;
  work_cv_.notify_all();
  done_cv_.wait(l, [&] { return threads_ == 0; });
}

}  // namespace rmsmp::serve

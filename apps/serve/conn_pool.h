// The HTTP server's connection threads: one per open connection, made on demand up to a cap.
//
// cpp-httplib runs each accepted connection, keep-alive included, on one task-queue thread until the client
// closes it or goes idle past the keep-alive timeout. A fixed pool lets a few idle or slow clients hold every
// thread (300 idle keep-alive connections delayed /health by 19.5 s; 100 clients sending a byte every 2 s
// kept it unanswered). Here a connection waits only when `max_threads` connections are open at once; idle
// threads beyond `keep_threads` leave after 30 s. Compute admission (--max-inflight) is separate.
#pragma once
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>

#include <httplib.h>

namespace rmsmp::serve {

class ConnectionPool : public httplib::TaskQueue {
 public:
  ConnectionPool(size_t keep_threads, size_t max_threads);
  ~ConnectionPool() override;
  void enqueue(std::function<void()> fn) override;
  void shutdown() override;  // runs what is queued, then waits for every thread to leave

 private:
  void work();
  const size_t keep_, max_;
  std::mutex mu_;
  std::condition_variable work_cv_, done_cv_;
  std::deque<std::function<void()>> jobs_;
  size_t threads_ = 0, idle_ = 0;
  bool stop_ = false;
};

}  // namespace rmsmp::serve

// Batching across requests: requests are tokenized on their own HTTP threads, queued here, and each compute
// worker (one per compute slot, owning one Context) packs the waiting requests of one kind into a batch of at
// most max_batch_tokens tokens, runs it once and hands every request its rows.
//
// Invariant: a request's rows equal what the same inputs give computed alone whenever the model's layers are
// quantized (per-token activation steps and exact integer sums make every row independent of its batch
// neighbours; LayerNorm, attention and pooling are per sequence). An fp32 model's GEMM sums may differ in the
// last bits with the batch's size, so the server packs fp32 models' requests only when --batch-fp32 says so.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "rmsmp/context.h"
#include "rmsmp/model.h"

namespace rmsmp::serve {

struct BatchJob {
  enum class Kind { Embed, Classify } kind = Kind::Embed;
  std::optional<bool> normalize;  // Embed: EmbedOptions::normalize (jobs batch together only when equal)
  std::vector<Tokenized> inputs;
  std::promise<std::vector<std::vector<float>>> result;
  std::chrono::steady_clock::time_point queued;
  double queue_ms = 0, compute_ms = 0;  // filled in by the worker before the result is set
  // Optional: true once the client that sent the job has closed its connection. Such a job is dropped from
  // the queue instead of computed; its future then throws ClientGone.
  std::function<bool()> client_gone;
};

// What a dropped job's future throws.
struct ClientGone : std::exception {
  const char* what() const noexcept override { return "the client closed the connection while queued"; }
};

class Batcher {
 public:
  // `pack`: false runs every job alone (one request per batch, as before).
  // on_batch (optional): called by a worker before each batch runs, with its inputs and tokens.
  Batcher(std::shared_ptr<const Model> model, const ContextOptions& co, int workers, int64_t max_batch_tokens, bool pack,
          std::function<void(size_t inputs, int64_t tokens)> on_batch = {});
  ~Batcher();  // finishes every queued job, then joins the workers
  // Queues the job; the future yields its rows (or rethrows the engine's error).
  std::future<std::vector<std::vector<float>>> submit(const std::shared_ptr<BatchJob>& job);
  size_t queued() const;
  uint64_t batches() const { return batches_.load(); }  // batches run so far (requests packed together count once)
  uint64_t dropped() const { return dropped_.load(); }  // jobs dropped because their client had gone

 private:
  void work(Context& ctx);
  std::vector<std::shared_ptr<BatchJob>> take();  // blocks; empty when stopping and drained

  const int64_t max_tokens_;
  const bool pack_;
  const std::function<void(size_t, int64_t)> on_batch_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<BatchJob>> queue_;
  bool stop_ = false;
  std::atomic<uint64_t> batches_{0}, dropped_{0};
  std::vector<std::unique_ptr<Context>> contexts_;
  std::vector<std::thread> threads_;
};

}  // namespace rmsmp::serve

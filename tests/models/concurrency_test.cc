// One loaded model shared by many threads: every result bit-identical to the serial run; and results that do
// not depend on the OpenMP thread count (integer models).
#include <gtest/gtest.h>
#include <omp.h>

#include <atomic>
#include <random>
#include <thread>

#include "convert.h"
#include "rmsmp/model.h"
#include "util/test_env.h"

namespace rmsmp {
namespace {

std::string tiny_rmsmp() {
  static std::string p = [] {
    ConvertOptions o;
    o.in_dir = test::make_tiny_checkpoint("tiny_conc");
    o.out_path = test::temp_dir() + "/tiny_conc.rmsmp";
    o.calib_sentences = {"the movie was very good !", "it is not fun , the plot was dull .", "a great play"};
    convert_checkpoint(o);
    return o.out_path;
  }();
  return p;
}

// Mixed-length requests (1 to 60 words; the tiny model truncates at 40 tokens) from the tiny vocabulary.
std::vector<std::string> make_requests(size_t n) {
  const char* words[] = {"the", "a", "movie", "was", "good", "bad", "not", "very", "!", ".", ",", "it", "is",
                         "playing", "fun", "dull", "great", "plot", "xyz"};
  std::mt19937_64 rng(17);
  std::vector<std::string> out(n);
  for (auto& s : out) {
    const size_t len = 1 + rng() % 60;
    for (size_t i = 0; i < len; ++i) s += std::string(i ? " " : "") + words[rng() % std::size(words)];
  }
  return out;
}

}  // namespace

TEST(Concurrency, EightThreadsServingTenThousandRequestsMatchTheSerialRun) {
  auto m = Model::load(tiny_rmsmp());
  const std::vector<std::string> req = make_requests(10000);
  std::vector<std::vector<float>> serial(req.size());
  for (size_t i = 0; i < req.size(); ++i) serial[i] = m->embed({m->tokenize(req[i])})[0];
  std::vector<std::vector<float>> par(req.size());
  std::atomic<size_t> next{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < 8; ++t)
    pool.emplace_back([&] {
      // Each thread takes small batches of 1-3 requests, so packed batches of mixed lengths run concurrently.
      for (;;) {
        const size_t i0 = next.fetch_add(3);
        if (i0 >= req.size()) break;
        const size_t batch = 1 + (i0 / 3) % 3;  // 1, 2 or 3 requests packed together, the rest alone
        std::vector<Tokenized> b;
        for (size_t i = i0; i < std::min(req.size(), i0 + batch); ++i) b.push_back(m->tokenize(req[i]));
        auto e = m->embed(b);
        for (size_t j = 0; j < e.size(); ++j) par[i0 + j] = std::move(e[j]);
        for (size_t i = i0 + e.size(); i < std::min(req.size(), i0 + 3); ++i) par[i] = m->embed({m->tokenize(req[i])})[0];
      }
    });
  for (auto& th : pool) th.join();
  size_t mismatches = 0;
  for (size_t i = 0; i < req.size(); ++i) mismatches += par[i] != serial[i];
  EXPECT_EQ(mismatches, 0u);
}

TEST(Concurrency, ResultsDoNotDependOnTheThreadCount) {
  auto m = Model::load(tiny_rmsmp());
  const std::vector<std::string> req = make_requests(64);
  std::vector<Tokenized> b;
  for (const auto& r : req) b.push_back(m->tokenize(r));
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  auto one = m->embed(b);
  omp_set_num_threads(4);
  auto four = m->embed(b);
  omp_set_num_threads(saved);
  EXPECT_EQ(one, four);
  EXPECT_EQ(m->embed(b), one) << "repeated runs must be identical";
}

}  // namespace rmsmp

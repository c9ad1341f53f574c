// rmsmp-serve over loopback: the server in-process (so the sanitizer pass covers it) for the endpoints,
// errors, limits, metrics and overload; the real binary for graceful SIGTERM. Expected classifier outputs are
// the softmax of transformers' logits (tests/data/tiny_classifier).
#include <gtest/gtest.h>
#include <signal.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cmath>
#include <fstream>
#include <atomic>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

// convert.h (Eigen) before httplib.h: httplib pulls in <resolv.h>, whose `_res` macro breaks Eigen's headers.
#include "convert.h"
#include "serve/server.h"
#include "util/test_env.h"

#include <httplib.h>

extern char** environ;

namespace rmsmp {
namespace {

std::string tiny_classifier_model() {
  static const std::string p = [] {
    ConvertOptions o;
    o.in_dir = test::data_dir() + "/tiny_classifier";
    o.out_path = test::temp_dir() + "/serve_cls.rmsmp";
    o.scheme = "fp32";
    convert_checkpoint(o);
    return o.out_path;
  }();
  return p;
}

nlohmann::json golden() {
  std::ifstream in(test::data_dir() + "/tiny_classifier/golden_logits.json");
  return nlohmann::json::parse(in);
}

struct Running {
  std::shared_ptr<const Model> model;
  serve::Server server;
  std::unique_ptr<httplib::Client> http;
  httplib::Client& client;
  Running(const serve::Options& o)
      : model(Model::load(tiny_classifier_model())), server(model, with_any_port(o)), http(start_and_connect(server)),
        client(*http) {
    client.set_read_timeout(60, 0);
  }
  static std::unique_ptr<httplib::Client> start_and_connect(serve::Server& s) {
    s.start();
    return std::make_unique<httplib::Client>("127.0.0.1", s.port());
  }
  static serve::Options with_any_port(serve::Options o) {
    o.port = 0;
    return o;
  }
  httplib::Result post(const std::string& path, const std::string& body) {
    return client.Post(path.c_str(), body, "application/json");
  }
};

}  // namespace

TEST(Serve, EmbedClassifyHealthMetrics) {
  Running r({});
  auto h = r.client.Get("/health");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(nlohmann::json::parse(h->body)["status"], "ok");

  const std::vector<std::string> texts = {"the movie was good !", "great"};
  auto e = r.post("/embed", nlohmann::json({{"texts", texts}}).dump());
  ASSERT_TRUE(e);
  ASSERT_EQ(e->status, 200) << e->body;
  const auto emb = nlohmann::json::parse(e->body)["embeddings"].get<std::vector<std::vector<float>>>();
  std::vector<Tokenized> b;
  for (const auto& t : texts) b.push_back(r.model->tokenize(t));
  EXPECT_EQ(emb, r.model->embed(b));  // floats survive the JSON round trip exactly

  const auto g = golden();
  nlohmann::json req = {{"texts", {g["cases"][3]["a"], g["cases"][4]["a"]}}, {"pairs", {g["cases"][3]["b"], g["cases"][4]["b"]}}};
  auto c = r.post("/classify", req.dump());
  ASSERT_TRUE(c);
  ASSERT_EQ(c->status, 200) << c->body;
  const auto cj = nlohmann::json::parse(c->body);
  for (int i = 0; i < 2; ++i) {
    const auto l = g["cases"][3 + i]["logits"].get<std::vector<double>>();
    double z = 0;
    for (double x : l) z += std::exp(x);
    size_t best = 0;
    for (size_t k = 0; k < 3; ++k) {
      EXPECT_NEAR(cj["probabilities"][i][k].get<double>(), std::exp(l[k]) / z, 1e-5);
      if (l[k] > l[best]) best = k;
    }
    EXPECT_EQ(cj["labels"][i], g["labels"][best]);
  }
  auto m = r.client.Get("/metrics");
  ASSERT_TRUE(m);
  EXPECT_NE(m->body.find("rmsmp_requests_total{endpoint=\"/embed\",code=\"200\"} 1"), std::string::npos) << m->body;
  EXPECT_NE(m->body.find("rmsmp_requests_total{endpoint=\"/classify\",code=\"200\"} 1"), std::string::npos);
  EXPECT_NE(m->body.find("rmsmp_texts_total 4"), std::string::npos);
  EXPECT_NE(m->body.find("# TYPE rmsmp_inflight gauge"), std::string::npos);
}

TEST(Serve, BadRequestsGetClearErrors) {
  serve::Options o;
  o.max_texts = 3;
  o.max_body_bytes = 4096;
  Running r(o);
  auto expect = [&](const std::string& path, const std::string& body, int status, const std::string& needle) {
    auto res = r.post(path, body);
    ASSERT_TRUE(res) << body;
    EXPECT_EQ(res->status, status) << body << " -> " << res->body;
    EXPECT_NE(res->body.find(needle), std::string::npos) << res->body;
  };
  expect("/embed", "{\"texts\": [\"a\", ", 400, "malformed JSON");
  expect("/embed", "[]", 422, "JSON object");
  expect("/embed", "{\"texts\": []}", 400, "empty");
  expect("/embed", "{\"texts\": [\"ok\", 7]}", 400, "texts[1] is not a string");
  expect("/embed", "{\"texts\": [\"a\"], \"pairs\": [\"b\", \"c\"]}", 400, "pairs");
  expect("/embed", "{\"texts\": [\"a\"], \"normalize\": \"yes\"}", 400, "normalize");
  expect("/embed", "{\"texts\": [\"bad \xff\"]}", 400, "error");  // invalid UTF-8 inside JSON
  expect("/embed", "{\"texts\": [\"a\", \"b\", \"c\", \"d\"]}", 413, "at most 3");
  auto big = r.post("/embed", "{\"texts\": [\"" + std::string(8000, 'a') + "\"]}");
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 413);
  auto nf = r.client.Get("/nope");
  ASSERT_TRUE(nf);
  EXPECT_EQ(nf->status, 404);
  // Still healthy after all of that.
  auto h = r.client.Get("/health");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
}

TEST(Serve, ModelsWithoutAHeadAnswer501OnClassify) {
  ConvertOptions co;
  co.in_dir = test::make_tiny_checkpoint("serve_nohead");
  co.out_path = test::temp_dir() + "/serve_nohead.rmsmp";
  co.scheme = "fp32";
  convert_checkpoint(co);
  serve::Options o;
  o.port = 0;
  serve::Server s(Model::load(co.out_path), o);
  s.start();
  httplib::Client c("127.0.0.1", s.port());
  auto res = c.Post("/classify", "{\"texts\": [\"the movie\"]}", "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 501);
  EXPECT_NE(res->body.find("no classification head"), std::string::npos);
}

// More simultaneous requests than max_inflight: the excess gets 429 at once, admitted ones succeed, and the
// server stays healthy; the metrics count every rejection.
TEST(Serve, OverloadGets429AndNothingBreaks) {
  serve::Options o;
  o.max_inflight = 2;
  o.compute_slots = 1;
  o.max_texts = 4096;
  o.max_body_bytes = 8 << 20;
  Running r(o);
  std::vector<std::string> texts(3000, "not fun , the plot was very dull and the movie was bad");
  const std::string body = nlohmann::json({{"texts", texts}}).dump();
  const int n = 12;
  std::vector<int> status(n, -1);
  std::vector<std::thread> th;
  for (int i = 0; i < n; ++i)
    th.emplace_back([&, i] {
      httplib::Client c("127.0.0.1", r.server.port());
      c.set_read_timeout(120, 0);
      auto res = c.Post("/embed", body, "application/json");
      status[size_t(i)] = res ? res->status : 0;
    });
  for (auto& t : th) t.join();
  int ok = 0, busy = 0;
  for (int s : status) {
    EXPECT_TRUE(s == 200 || s == 429) << s;
    ok += s == 200, busy += s == 429;
  }
  EXPECT_GE(ok, 1);
  EXPECT_GE(busy, 1);
  auto m = r.client.Get("/metrics");
  ASSERT_TRUE(m);
  EXPECT_NE(m->body.find("rmsmp_rejected_total " + std::to_string(busy) + "\n"), std::string::npos) << m->body;
  auto h = r.client.Get("/health");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
}

// Starts the rmsmp-serve binary on a free port with stdout (and stderr, when given) to files; returns its pid
// and port (0 if it did not start).
std::pair<pid_t, int> spawn_server(std::vector<std::string> extra, const std::string& err_path = "") {
  const std::string out = test::temp_dir() + "/serve_stdout.txt";
  const std::string exe = test::bin_dir() + "/rmsmp-serve", model = tiny_classifier_model();
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (!err_path.empty()) posix_spawn_file_actions_addopen(&fa, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<std::string> args = {exe, "--model", model, "--port", "0"};
  args.insert(args.end(), extra.begin(), extra.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid;
  if (posix_spawn(&pid, exe.c_str(), &fa, nullptr, argv.data(), environ) != 0) return {0, 0};
  posix_spawn_file_actions_destroy(&fa);
  int port = 0;
  for (int i = 0; i < 200 && port == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::ifstream f(out);
    std::string line;
    if (std::getline(f, line) && line.rfind("listening on ", 0) == 0) port = std::stoi(line.substr(line.rfind(':') + 1));
  }
  return {pid, port};
}

// The binary: SIGTERM while a request is in flight lets it finish with 200, then exits 0.
TEST(Serve, SigtermIsGraceful) {
  const auto [pid, port] = spawn_server({"--max-texts", "4096", "--max-body", "8388608"});
  ASSERT_GT(port, 0) << "server did not start";
  std::vector<std::string> texts(3000, "a great play , it is very fun");
  int status = -1;
  std::thread client([&] {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(120, 0);
    auto res = c.Post("/embed", nlohmann::json({{"texts", texts}}).dump(), "application/json");
    status = res ? res->status : 0;
  });
  // Signal once the request is admitted (in flight), as the metrics say.
  httplib::Client probe("127.0.0.1", port);
  for (int i = 0; i < 400; ++i) {
    auto m = probe.Get("/metrics");
    if (m && m->body.find("rmsmp_inflight 1\n") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  kill(pid, SIGTERM);
  client.join();
  int ws = 0;
  ASSERT_EQ(waitpid(pid, &ws, 0), pid);
  EXPECT_TRUE(WIFEXITED(ws));
  EXPECT_EQ(WEXITSTATUS(ws), 0);
  EXPECT_EQ(status, 200);
  httplib::Client after("127.0.0.1", port);
  EXPECT_FALSE(after.Get("/health"));  // no longer listening
}

// SIGTERM under load: 8 clients keep sending (a new connection per request) while the server is told to stop.
// Every request the server admitted (its access log has a line per answer) was answered 200 and reached its
// client; the rest found no server. Nothing is cut off, nothing gets a 5xx, and the exit status is 0.
TEST(Serve, SigtermUnderLoadAnswersEveryAdmittedRequest) {
  const std::string log = test::temp_dir() + "/serve_sigterm_load.log";
  const auto [pid, port] = spawn_server({"--access-log", "--max-texts", "512"}, log);
  ASSERT_GT(port, 0) << "server did not start";
  std::vector<std::string> texts(200, "a great play , it is very fun and the movie was good");
  const std::string body = nlohmann::json({{"texts", texts}}).dump();
  std::atomic<int> ok{0}, other{0}, done{0};
  std::vector<std::thread> th;
  for (int c = 0; c < 8; ++c)
    th.emplace_back([&] {
      for (;;) {
        httplib::Client cl("127.0.0.1", port);
        cl.set_keep_alive(false);
        cl.set_read_timeout(60, 0);
        auto r = cl.Post("/embed", body, "application/json");
        if (!r) return;  // no server (any more)
        if (r->status == 200) ++ok;
        else ++other;
        ++done;
      }
    });
  while (done.load() < 10) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  kill(pid, SIGTERM);
  int ws = 0;
  ASSERT_EQ(waitpid(pid, &ws, 0), pid);
  for (auto& t : th) t.join();
  EXPECT_TRUE(WIFEXITED(ws));
  EXPECT_EQ(WEXITSTATUS(ws), 0);
  EXPECT_EQ(other.load(), 0);
  std::ifstream f(log);
  std::string line;
  int logged = 0;
  while (std::getline(f, line)) {
    if (line.rfind("{", 0) != 0) continue;
    const auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["status"], 200) << line;
    ++logged;
  }
  EXPECT_GE(logged, 10);
  EXPECT_EQ(ok.load(), logged) << "an admitted request's answer did not reach its client";
}

}  // namespace rmsmp

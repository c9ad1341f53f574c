// rmsmp-serve's request bodies at the HTTP layer, over raw loopback sockets (cpp-httplib's client cannot send
// what hostile or careless clients send): chunked bodies over --max-body are refused while reading (413, then
// the same connection still answers), bodies far past it end the connection instead of being read, form-encoded
// bodies over 8 KB are taken as JSON, multipart uploads get 415, /metrics counts the HTTP layer's own answers,
// and idle or slow connections hold only their own thread.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

// convert.h (Eigen) before httplib.h: httplib pulls in <resolv.h>, whose `_res` macro breaks Eigen's headers.
#include "convert.h"
#include "serve/server.h"
#include "util/test_env.h"

#include <httplib.h>

namespace rmsmp {
namespace {

std::shared_ptr<const Model> tiny_model() {
  static const std::string p = [] {
    ConvertOptions o;
    o.in_dir = test::make_tiny_checkpoint("serve_body");
    o.out_path = test::temp_dir() + "/serve_body.rmsmp";
    o.scheme = "fp32";
    convert_checkpoint(o);
    return o.out_path;
  }();
  return Model::load(p);
}

// One client connection; send() reports whether every byte went out (the server may close first).
struct Conn {
  int fd = -1;
  explicit Conn(int port) {
    fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(uint16_t(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  }
  ~Conn() { close(fd); }
  bool send(const std::string& s) {
    for (size_t at = 0; at < s.size();) {
      const ssize_t n = ::send(fd, s.data() + at, s.size() - at, MSG_NOSIGNAL);
      if (n <= 0) return false;
      at += size_t(n);
    }
    return true;
  }
  // One response: headers, then Content-Length bytes of body. Empty when the connection ended first.
  std::string response() {
    std::string r;
    char b[4096];
    size_t want = std::string::npos;
    while (r.size() < want) {
      const ssize_t n = recv(fd, b, sizeof(b), 0);
      if (n <= 0) return r.size() >= want ? r : (want == std::string::npos ? std::string() : r);
      r.append(b, size_t(n));
      const size_t end = r.find("\r\n\r\n");
      if (want == std::string::npos && end != std::string::npos) {
        const size_t cl = r.find("Content-Length: ");
        want = end + 4 + (cl < end ? std::stoul(r.substr(cl + 16)) : 0);
      }
    }
    return r;
  }
};

std::string chunked_head(const std::string& path) {
  return "POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
}
std::string chunk(const std::string& data) {
  char h[32];
  std::snprintf(h, sizeof(h), "%zx\r\n", data.size());
  return h + data + "\r\n";
}
const std::string kHealth = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";

struct BodyServer {
  serve::Server server;
  explicit BodyServer(size_t max_body) : server(tiny_model(), [max_body] {
    serve::Options o;
    o.port = 0;
    o.max_body_bytes = max_body;
    return o;
  }()) {
    server.start();
  }
};

TEST(ServeBody, ChunkedBodyOverTheLimitIs413AndTheConnectionStaysUsable) {
  BodyServer s(4096);
  Conn c(s.server.port());
  // 1 MB in 64 KB chunks against a 4 KB limit: refused as it arrives, the rest read and dropped.
  std::string req = chunked_head("/embed") + chunk("{\"inputs\": \"");
  for (int i = 0; i < 16; ++i) req += chunk(std::string(65536, 'a'));
  req += chunk("\"}") + "0\r\n\r\n";
  ASSERT_TRUE(c.send(req));
  const std::string r = c.response();
  EXPECT_EQ(r.rfind("HTTP/1.1 413", 0), 0u) << r.substr(0, 200);
  EXPECT_NE(r.find("over the limit of 4096 bytes"), std::string::npos) << r;
  ASSERT_TRUE(c.send(kHealth));
  EXPECT_EQ(c.response().rfind("HTTP/1.1 200", 0), 0u);
  // A chunked body within the limit is read whole and answered.
  ASSERT_TRUE(c.send(chunked_head("/embed") + chunk("{\"inputs\": ") + chunk("\"a b c\"}") + "0\r\n\r\n"));
  EXPECT_EQ(c.response().rfind("HTTP/1.1 200", 0), 0u);
}

TEST(ServeBody, ChunkedBodyFarPastTheLimitEndsTheConnection) {
  BodyServer s(4096);
  {
    Conn c(s.server.port());
    // 96 MB with no end: past the 64 MB the server reads and drops, it answers 413 and stops reading, so the
    // send fails (reset) or the 413 is there to read; it never answers anything else.
    std::string mb = chunk(std::string(1 << 20, 'a'));
    bool sent = c.send(chunked_head("/embed") + chunk("{\"inputs\": \""));
    for (int i = 0; i < 96 && sent; ++i) sent = c.send(mb);
    const std::string r = c.response();
    EXPECT_TRUE(r.empty() || r.rfind("HTTP/1.1 413", 0) == 0) << r.substr(0, 200);
    // Reading all 96 MB (or waiting for the body's end) would leave the send complete and no answer.
    EXPECT_TRUE(!sent || !r.empty()) << "the server read the whole body without answering";
  }
  Conn d(s.server.port());  // the server is fine
  ASSERT_TRUE(d.send(kHealth));
  EXPECT_EQ(d.response().rfind("HTTP/1.1 200", 0), 0u);
}

TEST(ServeBody, FormEncodedBodiesAreJsonAndMultipartIs415) {
  BodyServer s(1 << 20);
  httplib::Client cl("127.0.0.1", s.server.port());
  // curl -d's default content type, over cpp-httplib's 8 KB form limit.
  std::string words;
  while (words.size() < 20000) words += "a b c ";
  const std::string body = "{\"inputs\": \"" + words + "\"}";
  auto r = cl.Post("/embed", body, "application/x-www-form-urlencoded");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  httplib::MultipartFormDataItems items = {{"file", "{\"inputs\": \"a\"}", "body.json", "application/json"}};
  r = cl.Post("/embed", items);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 415);
  EXPECT_NE(r->body.find("Content-Type: application/json"), std::string::npos) << r->body;
}

TEST(ServeBody, MetricsCountTheHttpLayersOwnAnswers) {
  BodyServer s(4096);
  httplib::Client cl("127.0.0.1", s.server.port());
  EXPECT_EQ(cl.Get("/nope")->status, 404);
  EXPECT_EQ(cl.Post("/embed", std::string(5000, ' '), "application/json")->status, 413);  // declared length
  EXPECT_EQ(cl.Get("/health")->status, 200);
  // The HTTP layer's answers are counted after they are written (cpp-httplib's logger), so poll briefly.
  const std::string want[] = {"rmsmp_requests_total{endpoint=\"other\",code=\"404\"} 1\n",
                              "rmsmp_requests_total{endpoint=\"/embed\",code=\"413\"} 1\n",
                              "rmsmp_requests_total{endpoint=\"/health\",code=\"200\"} 1\n"};
  std::string m;
  for (int i = 0; i < 100; ++i) {
    m = cl.Get("/metrics")->body;
    if (std::all_of(std::begin(want), std::end(want), [&](const std::string& w) { return m.find(w) != std::string::npos; }))
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (const auto& w : want) EXPECT_NE(m.find(w), std::string::npos) << w << m;
}

// 100 clients that never finish their request line and 50 idle keep-alive connections hold one connection
// thread each, not the server: /health and /embed are still answered (a fixed pool of 68 threads left /health
// unanswered for as long as the slow clients kept sending).
TEST(ServeBody, IdleAndSlowClientsHoldOnlyTheirOwnConnections) {
  BodyServer s(1 << 20);
  std::vector<std::unique_ptr<Conn>> held;
  for (int i = 0; i < 50; ++i) {
    held.push_back(std::make_unique<Conn>(s.server.port()));
    ASSERT_TRUE(held.back()->send(kHealth));
    ASSERT_EQ(held.back()->response().rfind("HTTP/1.1 200", 0), 0u);  // then idle, kept alive
  }
  for (int i = 0; i < 100; ++i) {
    held.push_back(std::make_unique<Conn>(s.server.port()));
    ASSERT_TRUE(held.back()->send("POST /em"));  // and nothing more
  }
  httplib::Client cl("127.0.0.1", s.server.port());
  cl.set_read_timeout(4, 0);  // a liveness bound, far above the milliseconds this takes
  auto h = cl.Get("/health");
  ASSERT_TRUE(h) << httplib::to_string(h.error());
  EXPECT_EQ(h->status, 200);
  auto e = cl.Post("/embed", "{\"inputs\": \"a b c\"}", "application/json");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->status, 200);
}

// A request whose client closes its connection while the request waits behind a long batch is dropped from
// the queue, not computed: counted in rmsmp_dropped_total and as a 499 (nginx's "client closed request").
TEST(ServeBody, QueuedRequestsOfGoneClientsAreDropped) {
  serve::Options o;
  o.port = 0;
  o.max_texts = 4096;
  o.max_body_bytes = 8 << 20;
  serve::Server server(tiny_model(), o);
  server.start();
  std::string longer;
  for (int i = 0; i < 4; ++i) longer += "not fun , the plot was very dull and the movie was bad . ";
  std::vector<std::string> texts(3000, longer);  // busy long enough for the second request to queue behind it
  int long_status = -1;
  std::thread busy([&] {
    httplib::Client c("127.0.0.1", server.port());
    c.set_read_timeout(120, 0);
    auto r = c.Post("/embed", nlohmann::json({{"texts", texts}}).dump(), "application/json");
    long_status = r ? r->status : 0;
  });
  httplib::Client probe("127.0.0.1", server.port());
  for (int i = 0; i < 5000; ++i) {  // until the long request's batch is computing
    auto m = probe.Get("/metrics");
    if (m && m->body.find("\nrmsmp_batch_inputs_count 1\n") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  {
    Conn gone(server.port());
    const std::string body = "{\"inputs\": \"a b c\"}";
    ASSERT_TRUE(gone.send("POST /embed HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
                          std::to_string(body.size()) + "\r\n\r\n" + body));
  }  // closed at once, without reading the answer
  busy.join();
  EXPECT_EQ(long_status, 200);
  std::string m;
  for (int i = 0; i < 250; ++i) {  // the drop is counted when the worker next takes from the queue
    m = probe.Get("/metrics")->body;
    if (m.find("rmsmp_requests_total{endpoint=\"/embed\",code=\"499\"} 1\n") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_NE(m.find("\nrmsmp_dropped_total 1\n"), std::string::npos) << m;
  EXPECT_NE(m.find("rmsmp_requests_total{endpoint=\"/embed\",code=\"499\"} 1\n"), std::string::npos) << m;
  EXPECT_NE(m.find("\nrmsmp_batches_total 1\n"), std::string::npos) << m;  // only the long request ran
}

TEST(ServeBody, ConnectionCapIsValidated) {
  serve::Options o;
  o.port = 0;
  o.max_connections = 0;
  EXPECT_THROW(serve::Server(tiny_model(), o), Error);
  o.max_connections = serve::kMaxConnections + 1;
  EXPECT_THROW(serve::Server(tiny_model(), o), Error);
}

}  // namespace
}  // namespace rmsmp

#include "service/health_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

namespace dancer::service {
namespace {

using Clock = std::chrono::steady_clock;

// A clock the test moves by hand, so the readiness cache is tested without sleeping.
struct ManualClock {
  std::atomic<Clock::rep> ticks{Clock::now().time_since_epoch().count()};
  Clock::time_point now() const { return Clock::time_point(Clock::duration(ticks.load())); }
  void advance(Clock::duration d) { ticks += d.count(); }
};

// A raw TCP socket owned by the test (closed on destruction).
class Socket {
 public:
  Socket() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {}
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  Socket(Socket&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  int fd() const { return fd_; }

 private:
  int fd_;
};

sockaddr_in loopback(int port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

// Opens a connection and sends a request line but never the blank line that ends the
// headers: what a slow or stalled client looks like to the server.
Socket slow_header_client(int port) {
  Socket sock;
  const auto address = loopback(port);
  EXPECT_EQ(::connect(sock.fd(), reinterpret_cast<const sockaddr*>(&address), sizeof address), 0)
      << std::strerror(errno);
  const std::string partial = "GET /healthz HTTP/1.1\r\n";
  EXPECT_EQ(::send(sock.fd(), partial.data(), partial.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(partial.size()));
  return sock;
}

httplib::Client client_for(const HealthServer& server) {
  httplib::Client client("127.0.0.1", server.port());
  client.set_connection_timeout(std::chrono::seconds(5));
  client.set_read_timeout(std::chrono::seconds(5));
  return client;
}

TEST(HealthServerTest, HealthzReflectsTheLivenessCheck) {
  std::atomic<bool> live{true};
  HealthServer server("127.0.0.1", 0, HealthChecks{[&] { return live.load(); }, {}, {}});
  server.start();
  ASSERT_GT(server.port(), 0);
  auto client = client_for(server);

  auto res = client.Get("/healthz");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(nlohmann::json::parse(res->body), (nlohmann::json{{"status", "ok"}}));
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");

  live = false;
  res = client.Get("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 503);
  EXPECT_EQ(nlohmann::json::parse(res->body)["status"], "unhealthy");
}

TEST(HealthServerTest, ReadyzReturnsTheDetailsWithTheMatchingStatus) {
  ManualClock clock;
  std::atomic<bool> database_ok{false};
  HealthChecks checks{
      {},
      [&] {
        const bool db = database_ok.load();
        return std::pair<bool, nlohmann::json>{db, {{"queue", true}, {"database", db}}};
      },
      {}};
  HealthServerOptions options;
  options.now = [&clock] { return clock.now(); };
  HealthServer server("127.0.0.1", 0, checks, options);
  server.start();
  auto client = client_for(server);

  auto res = client.Get("/readyz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 503);
  EXPECT_EQ(nlohmann::json::parse(res->body),
            (nlohmann::json{{"queue", true}, {"database", false}}));

  database_ok = true;
  clock.advance(std::chrono::seconds(3));  // past the cache
  res = client.Get("/readyz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(nlohmann::json::parse(res->body)["database"], true);
}

TEST(HealthServerTest, ReadinessIsCachedForTwoSeconds) {
  ManualClock clock;
  std::atomic<int> calls{0};
  std::atomic<bool> ready{true};
  HealthChecks checks{
      {},
      [&] {
        ++calls;
        return std::pair<bool, nlohmann::json>{ready.load(), {{"call", calls.load()}}};
      },
      {}};
  HealthServerOptions options;
  options.now = [&clock] { return clock.now(); };
  HealthServer server("127.0.0.1", 0, checks, options);
  server.start();
  auto client = client_for(server);

  auto res = client.Get("/readyz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(calls.load(), 1);

  // Within the 2 s window the cached answer is served, even though the check changed.
  ready = false;
  clock.advance(std::chrono::milliseconds(1999));
  res = client.Get("/readyz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(nlohmann::json::parse(res->body)["call"], 1);
  EXPECT_EQ(calls.load(), 1);

  clock.advance(std::chrono::milliseconds(1));
  res = client.Get("/readyz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 503);
  EXPECT_EQ(nlohmann::json::parse(res->body)["call"], 2);
  EXPECT_EQ(calls.load(), 2);
}

TEST(HealthServerTest, ConcurrentProbesShareOneReadinessCheck) {
  ManualClock clock;  // never advanced: every probe falls in the first window
  std::atomic<int> calls{0};
  HealthChecks checks{{},
                      [&] {
                        ++calls;
                        return std::pair<bool, nlohmann::json>{true, {{"queue", true}}};
                      },
                      {}};
  HealthServerOptions options;
  options.now = [&clock] { return clock.now(); };
  options.worker_threads = 4;
  HealthServer server("127.0.0.1", 0, checks, options);
  server.start();

  std::vector<std::thread> probes;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    probes.emplace_back([&] {
      auto client = client_for(server);
      for (int j = 0; j < 5; ++j) {
        auto res = client.Get("/readyz");
        if (res && res->status == 200) ++ok;
      }
    });
  }
  for (auto& probe : probes) probe.join();
  EXPECT_EQ(ok.load(), 40);
  EXPECT_EQ(calls.load(), 1);
}

TEST(HealthServerTest, ThrowingReadinessCheckMeansNotReady) {
  HealthChecks checks{
      {},
      []() -> std::pair<bool, nlohmann::json> { throw std::runtime_error("database exploded"); },
      {}};
  HealthServer server("127.0.0.1", 0, checks);
  server.start();
  auto client = client_for(server);
  auto res = client.Get("/readyz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 503);
  EXPECT_EQ(nlohmann::json::parse(res->body)["error"], "database exploded");
}

TEST(HealthServerTest, MetricsAreServedAsPrometheusText) {
  std::atomic<int> renders{0};
  HealthServer server("127.0.0.1", 0, HealthChecks{{}, {}, [&] {
                                                     ++renders;
                                                     return "dancer_up 1\nrender " +
                                                            std::to_string(renders.load()) + "\n";
                                                   }});
  server.start();
  auto client = client_for(server);
  auto res = client.Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "dancer_up 1\nrender 1\n");
  EXPECT_EQ(res->get_header_value("Content-Type").rfind("text/plain; version=0.0.4", 0), 0u)
      << res->get_header_value("Content-Type");
  // Metrics are not cached: each scrape renders afresh.
  res = client.Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body, "dancer_up 1\nrender 2\n");
}

TEST(HealthServerTest, EverythingElseIs404) {
  HealthServer server("127.0.0.1", 0,
                      HealthChecks{[] { return true; },
                                   [] {
                                     return std::pair<bool, nlohmann::json>{true, {}};
                                   },
                                   [] { return std::string("x 1\n"); }});
  server.start();
  auto client = client_for(server);
  for (const char* path : {"/", "/health", "/healthz/extra", "/metrics.json", "/readyz?x"}) {
    auto res = client.Get(path);
    ASSERT_TRUE(res) << path;
    if (std::string(path) == "/readyz?x") {
      EXPECT_EQ(res->status, 200) << "query strings do not change the route";
    } else {
      EXPECT_EQ(res->status, 404) << path;
    }
  }
  auto res = client.Post("/healthz", "", "text/plain");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
}

TEST(HealthServerTest, MissingMetricsCallbackIs404) {
  HealthServer server("127.0.0.1", 0, HealthChecks{});
  server.start();
  auto client = client_for(server);
  auto res = client.Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  res = client.Get("/healthz");  // absent liveness check: the process answering is enough
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST(HealthServerTest, StartThrowsWhenThePortIsTaken) {
  HealthServer first("127.0.0.1", 0, HealthChecks{});
  first.start();
  HealthServer second("127.0.0.1", first.port(), HealthChecks{});
  try {
    second.start();
    FAIL() << "a second server started on a taken port";
  } catch (const HealthServerError& e) {
    EXPECT_EQ(e.kind(), HealthServerStartError::kAddressInUse) << e.what();
    EXPECT_NE(std::string(e.what()).find("in use"), std::string::npos) << e.what();
  }
  // The first one is unaffected.
  auto client = client_for(first);
  auto res = client.Get("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST(HealthServerTest, TryStartReportsAPortHeldByAnotherProgramAsInUse) {
  // Another program's listener, bound without SO_REUSEADDR.
  Socket other;
  auto address = loopback(0);
  ASSERT_EQ(::bind(other.fd(), reinterpret_cast<const sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(other.fd(), 1), 0);
  socklen_t length = sizeof address;
  ASSERT_EQ(::getsockname(other.fd(), reinterpret_cast<sockaddr*>(&address), &length), 0);
  const int taken = ntohs(address.sin_port);

  HealthServer server("127.0.0.1", taken, HealthChecks{});
  std::string message;
  const auto error = server.try_start(&message);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(*error, HealthServerStartError::kAddressInUse);
  EXPECT_NE(message.find("127.0.0.1:" + std::to_string(taken)), std::string::npos) << message;
  EXPECT_EQ(server.port(), 0);
}

TEST(HealthServerTest, TryStartTellsOtherBindFailuresApart) {
  // 203.0.113.1 (TEST-NET-3, RFC 5737) is no address of this machine: EADDRNOTAVAIL.
  HealthServer server("203.0.113.1", 18080, HealthChecks{});
  std::string message;
  const auto error = server.try_start(&message);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(*error, HealthServerStartError::kOther) << message;
  EXPECT_FALSE(message.empty());
}

TEST(HealthServerTest, TryStartServesWhenThePortIsFree) {
  HealthServer server("127.0.0.1", 0, HealthChecks{});
  EXPECT_EQ(server.try_start(), std::nullopt);
  auto client = client_for(server);
  auto res = client.Get("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST(HealthServerTest, HealthzAnswersWhileSixteenClientsSendTheirHeadersSlowly) {
  HealthServer server("127.0.0.1", 0, HealthChecks{});
  server.start();
  std::vector<Socket> slow;
  for (int i = 0; i < 16; ++i) slow.push_back(slow_header_client(server.port()));
  // Let the server accept them all and park a worker on each.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));

  auto client = client_for(server);  // gives up after 5 s
  const auto started = Clock::now();
  auto res = client.Get("/healthz");
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
  std::cout << "/healthz with 16 slow-header connections open answered in " << took.count()
            << " ms\n";
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
}

TEST(HealthServerTest, AClientThatStopsSendingIsDisconnected) {
  HealthServerOptions options;
  options.read_timeout = std::chrono::milliseconds(300);
  HealthServer server("127.0.0.1", 0, HealthChecks{}, options);
  server.start();
  Socket stalled = slow_header_client(server.port());
  // Bound the wait so a server that never drops the client fails instead of hanging.
  timeval limit{10, 0};
  ASSERT_EQ(setsockopt(stalled.fd(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit), 0);
  char buffer[512];
  ssize_t got = 0;
  std::string answer;
  while ((got = ::recv(stalled.fd(), buffer, sizeof buffer, 0)) > 0) answer.append(buffer, got);
  // 0: the server closed the connection (after answering nothing, or a 400).
  EXPECT_EQ(got, 0) << "recv: " << std::strerror(errno);
  EXPECT_EQ(answer.find("200 OK"), std::string::npos) << answer;
}

TEST(HealthServerTest, StopClosesTheListenerAndIsIdempotent) {
  HealthServer server("127.0.0.1", 0, HealthChecks{});
  server.start();
  const int port = server.port();
  server.stop();
  server.stop();
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(std::chrono::seconds(2));
  EXPECT_FALSE(client.Get("/healthz"));
  // The port is free again: another server can bind it.
  HealthServer again("127.0.0.1", port, HealthChecks{});
  EXPECT_NO_THROW(again.start());
}

TEST(HealthServerTest, ImmediateStopAfterStartDoesNotHang) {
  for (int i = 0; i < 20; ++i) {
    HealthServer server("127.0.0.1", 0, HealthChecks{});
    server.start();
  }  // the destructor stops
  HealthServer never_started("127.0.0.1", 0, HealthChecks{});
  SUCCEED();
}

}  // namespace
}  // namespace dancer::service

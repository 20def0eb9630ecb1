#include "service/health_server.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
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
  EXPECT_THROW(second.start(), std::runtime_error);
  // The first one is unaffected.
  auto client = client_for(first);
  auto res = client.Get("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
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

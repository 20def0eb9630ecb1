// Small HTTP server for orchestrators and scrapers: GET /healthz (liveness), GET /readyz
// (readiness, with per-dependency details) and GET /metrics (Prometheus text format).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include <nlohmann/json.hpp>

namespace httplib {
class Server;
}

namespace dancer::service {

struct HealthChecks {
  std::function<bool()> live;                              // empty: always live
  std::function<std::pair<bool, nlohmann::json>()> ready;  // empty: always ready
  std::function<std::string()> metrics;                    // empty: /metrics is 404
};

struct HealthServerOptions {
  // Readiness touches SQS and the database; probes from several kubelets/load balancers
  // must not turn into a request storm against them, so a result is reused this long.
  std::chrono::steady_clock::duration ready_cache_ttl = std::chrono::seconds(2);
  // Injectable clock so the cache can be tested without sleeping.
  std::function<std::chrono::steady_clock::time_point()> now = [] {
    return std::chrono::steady_clock::now();
  };
  int worker_threads = 4;  // probes and scrapes are rare; don't spend a thread per core
};

class HealthServer {
 public:
  HealthServer(std::string bind_address, int port, HealthChecks checks,
               HealthServerOptions options = {});
  ~HealthServer();  // stops the server
  HealthServer(const HealthServer&) = delete;
  HealthServer& operator=(const HealthServer&) = delete;

  // Binds and serves in a background thread; returns once the server accepts connections.
  // Throws std::runtime_error if the address cannot be bound (e.g. the port is taken).
  void start();
  // Stops accepting, finishes in-flight requests and joins the thread. Idempotent.
  void stop();
  // The bound port (the ephemeral one chosen by the kernel when constructed with 0).
  int port() const;

 private:
  std::pair<bool, nlohmann::json> cached_readiness();

  std::string bind_address_;
  int requested_port_;
  HealthChecks checks_;
  HealthServerOptions options_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::atomic<int> bound_port_{0};

  std::mutex ready_mutex_;  // also makes concurrent probes share one check
  std::optional<std::chrono::steady_clock::time_point> ready_checked_at_;
  std::pair<bool, nlohmann::json> ready_result_;
};

}  // namespace dancer::service

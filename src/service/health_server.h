// Small HTTP server for orchestrators and scrapers: GET /healthz (liveness), GET /readyz
// (readiness, with per-dependency details) and GET /metrics (Prometheus text format).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
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
  // Each open connection holds a worker while httplib reads its request (httplib 0.11 has
  // no per-request deadline, only a per-read one), so a few slow or half-open clients must
  // not leave /healthz without a thread: the kubelet would restart a healthy pod. Idle
  // workers cost a stack mapping each, little memory.
  int worker_threads = 32;
  // A client that stops sending mid-request is dropped after this long without a byte.
  std::chrono::milliseconds read_timeout{2000};
  std::chrono::milliseconds write_timeout{2000};
  // Prometheus keeps scrape connections alive; an idle one releases its worker this soon,
  // and a connection is closed after this many requests so none holds a worker for long.
  std::chrono::seconds keep_alive_timeout{1};
  int keep_alive_max_count = 20;
};

// Why start() / try_start() could not serve.
enum class HealthServerStartError {
  kAddressInUse,  // another process listens on the port (EADDRINUSE)
  kOther,         // bad address, no permission, accept loop ended, ...
};

class HealthServerError : public std::runtime_error {
 public:
  HealthServerError(HealthServerStartError kind, const std::string& message)
      : std::runtime_error(message), kind_(kind) {}
  HealthServerStartError kind() const { return kind_; }

 private:
  HealthServerStartError kind_;
};

class HealthServer {
 public:
  HealthServer(std::string bind_address, int port, HealthChecks checks,
               HealthServerOptions options = {});
  ~HealthServer();  // stops the server
  HealthServer(const HealthServer&) = delete;
  HealthServer& operator=(const HealthServer&) = delete;

  // Binds and serves in a background thread; returns once the server accepts connections.
  // Throws HealthServerError (kind() kAddressInUse when the port is taken).
  void start();
  // As start(), but reports failure instead of throwing, so the caller decides what a taken
  // port means (e.g. a warning for the default port, fatal for one the operator chose).
  // Returns nullopt once serving; otherwise the reason, with its message in *message.
  std::optional<HealthServerStartError> try_start(std::string* message = nullptr);
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

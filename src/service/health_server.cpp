#include "service/health_server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <sys/socket.h>

#include <stdexcept>

namespace dancer::service {

namespace {

constexpr const char* kJson = "application/json";
// The Content-Type Prometheus expects for the text exposition format.
constexpr const char* kPrometheusText = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace

HealthServer::HealthServer(std::string bind_address, int port, HealthChecks checks,
                           HealthServerOptions options)
    : bind_address_(std::move(bind_address)),
      requested_port_(port),
      checks_(std::move(checks)),
      options_(std::move(options)) {}

HealthServer::~HealthServer() { stop(); }

int HealthServer::port() const { return bound_port_.load(); }

std::pair<bool, nlohmann::json> HealthServer::cached_readiness() {
  std::lock_guard lock(ready_mutex_);
  const auto now = options_.now();
  if (ready_checked_at_ && now - *ready_checked_at_ < options_.ready_cache_ttl) {
    return ready_result_;
  }
  try {
    ready_result_ = checks_.ready ? checks_.ready() : std::pair{true, nlohmann::json::object()};
  } catch (const std::exception& e) {
    // A check that throws means "not ready", never a crashed probe thread.
    ready_result_ = {false, {{"error", e.what()}}};
  }
  ready_checked_at_ = now;
  return ready_result_;
}

void HealthServer::start() {
  if (server_) throw std::logic_error("HealthServer::start called twice");
  auto server = std::make_unique<httplib::Server>();
  const int threads = options_.worker_threads > 0 ? options_.worker_threads : 1;
  server->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  // Prometheus keeps scrape connections alive; release an idle one's worker thread soon so
  // that a kubelet probe never waits behind it.
  server->set_keep_alive_timeout(1);
  // httplib's default sets SO_REUSEPORT, which lets a second process bind the same port
  // and silently share the probes; SO_REUSEADDR alone still allows a quick restart over
  // TIME_WAIT connections but makes a port held by a live listener fail with EADDRINUSE.
  server->set_socket_options([](socket_t sock) {
    const int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });

  server->Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
    bool live = false;
    try {
      live = !checks_.live || checks_.live();
    } catch (const std::exception& e) {
      spdlog::warn("liveness check threw: {}", e.what());
    }
    res.status = live ? 200 : 503;
    res.set_content(nlohmann::json{{"status", live ? "ok" : "unhealthy"}}.dump(), kJson);
  });
  server->Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
    const auto [ready, details] = cached_readiness();
    res.status = ready ? 200 : 503;
    res.set_content(details.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), kJson);
  });
  server->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    if (!checks_.metrics) {
      res.status = 404;
      return;
    }
    try {
      res.set_content(checks_.metrics(), kPrometheusText);
    } catch (const std::exception& e) {
      spdlog::warn("rendering metrics failed: {}", e.what());
      res.status = 500;
    }
  });

  int port = requested_port_;
  if (port == 0) {
    port = server->bind_to_any_port(bind_address_);
  } else if (!server->bind_to_port(bind_address_, port)) {
    port = -1;
  }
  if (port <= 0) {
    throw std::runtime_error("health server: cannot listen on " + bind_address_ + ":" +
                             std::to_string(requested_port_) + " (address in use?)");
  }
  bound_port_ = port;
  server_ = std::move(server);

  // Shared with the thread, which may outlive this frame.
  auto exited = std::make_shared<std::atomic<bool>>(false);
  httplib::Server* raw = server_.get();
  thread_ = std::thread([raw, exited] {
    raw->listen_after_bind();
    *exited = true;
  });
  // httplib's stop() is a no-op until the accept loop has marked itself running, so wait
  // for that: otherwise a stop() right after start() would leave the thread blocked.
  while (!raw->is_running() && !exited->load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (exited->load()) {
    thread_.join();
    server_.reset();
    throw std::runtime_error("health server: accept loop ended at start-up");
  }
}

void HealthServer::stop() {
  if (!server_) return;
  server_->stop();
  if (thread_.joinable()) thread_.join();
  server_.reset();
}

}  // namespace dancer::service

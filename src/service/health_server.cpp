#include "service/health_server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace dancer::service {

namespace {

constexpr const char* kJson = "application/json";
// The Content-Type Prometheus expects for the text exposition format.
constexpr const char* kPrometheusText = "text/plain; version=0.0.4; charset=utf-8";

// httplib's bind_to_port reports only success or failure. To tell a taken port from other
// failures, bind the same address once more with the same options and keep errno.
int bind_errno(const std::string& address, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  if (getaddrinfo(address.c_str(), std::to_string(port).c_str(), &hints, &found) != 0) {
    return EADDRNOTAVAIL;
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> owner(found, &freeaddrinfo);
  int error = EADDRNOTAVAIL;
  for (const addrinfo* info = found; info != nullptr; info = info->ai_next) {
    const int sock = ::socket(info->ai_family, info->ai_socktype | SOCK_CLOEXEC, info->ai_protocol);
    if (sock < 0) {
      error = errno;
      continue;
    }
    const int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    const bool bound = ::bind(sock, info->ai_addr, info->ai_addrlen) == 0;
    error = bound ? 0 : errno;
    ::close(sock);
    if (bound) break;
  }
  return error;
}

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
  std::string message;
  if (const auto error = try_start(&message)) throw HealthServerError(*error, message);
}

std::optional<HealthServerStartError> HealthServer::try_start(std::string* message) {
  if (server_) throw std::logic_error("HealthServer::start called twice");
  const auto fail = [message](HealthServerStartError kind, const std::string& text) {
    if (message != nullptr) *message = text;
    return std::optional<HealthServerStartError>(kind);
  };
  auto server = std::make_unique<httplib::Server>();
  const int threads = options_.worker_threads > 0 ? options_.worker_threads : 1;
  server->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  // httplib reads a request with one timeout per read call: a client that sends a request
  // line and then nothing is dropped after read_timeout instead of holding its worker for
  // httplib's default 5 s.
  server->set_read_timeout(options_.read_timeout);
  server->set_write_timeout(options_.write_timeout);
  server->set_keep_alive_timeout(options_.keep_alive_timeout.count());
  server->set_keep_alive_max_count(
      static_cast<std::size_t>(std::max(1, options_.keep_alive_max_count)));
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
    const int error = requested_port_ == 0 ? 0 : bind_errno(bind_address_, requested_port_);
    const std::string where = bind_address_ + ":" + std::to_string(requested_port_);
    if (error == EADDRINUSE) {
      return fail(HealthServerStartError::kAddressInUse,
                  "health server: cannot listen on " + where + ": address already in use");
    }
    return fail(HealthServerStartError::kOther,
                "health server: cannot listen on " + where + ": " +
                    (error == 0 ? std::string("bind failed") : std::strerror(error)));
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
    return fail(HealthServerStartError::kOther, "health server: accept loop ended at start-up");
  }
  return std::nullopt;
}

void HealthServer::stop() {
  if (!server_) return;
  server_->stop();
  if (thread_.joinable()) thread_.join();
  server_.reset();
}

}  // namespace dancer::service

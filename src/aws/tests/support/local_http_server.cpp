#include "support/local_http_server.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <stdexcept>

#include "common/strings.h"

namespace dancer::testing {

LocalHttpServer::~LocalHttpServer() {
  server_.stop();
  if (thread_.joinable()) thread_.join();
}

void LocalHttpServer::start() {
  port_ = server_.bind_to_any_port("127.0.0.1");
  if (port_ <= 0) throw std::runtime_error("cannot bind a port on 127.0.0.1");
  thread_ = std::thread([this] { server_.listen_after_bind(); });
  // listen_after_bind flips is_running() once it accepts; wait for that before use.
  for (int i = 0; i < 500 && !server_.is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!server_.is_running()) throw std::runtime_error("local HTTP server did not start");
}

std::string RecordedRequest::header(const std::string& lower_name) const {
  const auto found = headers.find(lower_name);
  return found == headers.end() ? std::string() : found->second;
}

void RequestLog::add(const httplib::Request& request) {
  RecordedRequest recorded;
  recorded.method = request.method;
  recorded.target = request.target;
  recorded.path = request.path;
  recorded.body = request.body;
  for (const auto& [name, value] : request.headers) {
    recorded.headers[common::ascii_lower(name)] = value;
  }
  std::lock_guard lock(mutex_);
  requests_.push_back(std::move(recorded));
}

std::vector<RecordedRequest> RequestLog::all() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

std::vector<RecordedRequest> RequestLog::with_method(const std::string& method) const {
  std::lock_guard lock(mutex_);
  std::vector<RecordedRequest> matching;
  for (const auto& request : requests_) {
    if (request.method == method) matching.push_back(request);
  }
  return matching;
}

std::size_t RequestLog::size() const {
  std::lock_guard lock(mutex_);
  return requests_.size();
}

}  // namespace dancer::testing

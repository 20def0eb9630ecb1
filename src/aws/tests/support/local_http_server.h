// An in-process cpp-httplib server on 127.0.0.1 for unit tests of the AWS clients,
// plus a thread-safe log of the requests it received.
#pragma once

#include <httplib.h>

#include <cstddef>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace dancer::testing {

class LocalHttpServer {
 public:
  LocalHttpServer() = default;
  ~LocalHttpServer();
  LocalHttpServer(const LocalHttpServer&) = delete;
  LocalHttpServer& operator=(const LocalHttpServer&) = delete;

  // Register handlers on server() first, then start().
  httplib::Server& server() { return server_; }
  // Binds a free port on 127.0.0.1 and serves on a background thread until destruction.
  void start();
  int port() const { return port_; }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  httplib::Server server_;
  int port_ = -1;
  std::thread thread_;
};

struct RecordedRequest {
  std::string method;
  std::string target;                          // as on the wire (percent-encoded)
  std::string path;                            // percent-decoded by httplib
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;

  std::string header(const std::string& lower_name) const;
};

class RequestLog {
 public:
  void add(const httplib::Request& request);
  std::vector<RecordedRequest> all() const;
  std::vector<RecordedRequest> with_method(const std::string& method) const;
  std::size_t size() const;

 private:
  mutable std::mutex mutex_;
  std::vector<RecordedRequest> requests_;
};

}  // namespace dancer::testing

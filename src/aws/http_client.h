// HTTP transport over libcurl. One HttpClient owns one CURL easy handle, so the TCP/TLS
// connection is kept alive and reused between requests (one client per worker thread).
// The transport sends what it is given: signing happens before, in sigv4.h.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dancer::aws {

struct HttpRequest {
  std::string method = "GET";
  std::string url;  // absolute; path and query already percent-encoded
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Whole-request limit; zero means none (streaming downloads use the low-speed limit).
  std::chrono::milliseconds timeout{30000};
  // Abort when fewer than low_speed_bytes per second arrive for low_speed_time (0: off).
  long low_speed_bytes = 0;
  std::chrono::seconds low_speed_time{0};
};

struct HttpResponse {
  long status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased; last value wins
  std::string body;  // the body, unless it went to a sink (2xx with a sink)

  // Header value by lower-case name, empty when absent.
  std::string header(std::string_view lower_name) const;
};

// Receives body bytes of a 2xx response as they arrive. Return false to abort the
// transfer (the call then throws AwsError(kLocalIo)).
using BodySink = std::function<bool(const char* data, std::size_t size)>;

// The curl command line tool's receive buffer (BUFFER_SIZE in tool_operate.c, see
// `curl --libcurl`); libcurl's own default is 16 KiB. A larger buffer means fewer recv()
// calls and write callbacks (each one a pwrite() of a download) per megabyte.
inline constexpr long kDefaultReceiveBufferBytes = 100 * 1024;

struct HttpClientOptions {
  std::chrono::milliseconds connect_timeout{5000};
  long receive_buffer_bytes = kDefaultReceiveBufferBytes;  // CURLOPT_BUFFERSIZE
};

class HttpClient {
 public:
  explicit HttpClient(HttpClientOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;
  HttpClient(HttpClient&&) noexcept;
  HttpClient& operator=(HttpClient&&) noexcept;

  // HTTP error statuses are returned, not thrown. Transport failures throw
  // AwsError(kNetwork | kTimeout | kCancelled | kLocalIo).
  HttpResponse send(const HttpRequest& request);
  // As send(), but a 2xx body is streamed to sink instead of being kept in memory.
  HttpResponse send(const HttpRequest& request, const BodySink& sink);

  // While *flag is true, transfers abort promptly with AwsError(kCancelled).
  void set_cancel_flag(const std::atomic<bool>* flag);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dancer::aws

// HttpClient against an in-process cpp-httplib server on 127.0.0.1 (random port).
#include "aws/http_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "aws/error.h"

namespace dancer::aws {
namespace {

// Runs an httplib::Server on a loopback port in a background thread.
class LocalServer {
 public:
  LocalServer() = default;
  ~LocalServer() { stop(); }
  LocalServer(const LocalServer&) = delete;
  LocalServer& operator=(const LocalServer&) = delete;

  httplib::Server& server() { return server_; }

  void start() {
    port_ = server_.bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }

  void stop() {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }

  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
};

// A listening socket that is never accept()ed: the kernel completes the TCP handshake
// from its backlog, but no byte is ever answered.
class SilentListener {
 public:
  SilentListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    auto* generic = reinterpret_cast<sockaddr*>(&address);
    if (fd_ < 0 || ::bind(fd_, generic, length) != 0 || ::listen(fd_, 8) != 0 ||
        ::getsockname(fd_, generic, &length) != 0) {
      throw std::runtime_error("cannot open a loopback listener");
    }
    port_ = ntohs(address.sin_port);
  }
  ~SilentListener() { close(); }
  SilentListener(const SilentListener&) = delete;
  SilentListener& operator=(const SilentListener&) = delete;
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

using Headers = std::vector<std::pair<std::string, std::string>>;

HttpRequest make_request(std::string method, std::string url, Headers headers = {},
                         std::string body = {}) {
  HttpRequest request;
  request.method = std::move(method);
  request.url = std::move(url);
  request.headers = std::move(headers);
  request.body = std::move(body);
  return request;
}

ErrorCode error_code_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const AwsError& error) {
    return error.code();
  }
  ADD_FAILURE() << "no AwsError thrown";
  return ErrorCode::kUnknown;
}

TEST(HttpClient, SecondRequestReusesTheConnection) {
  LocalServer local;
  std::mutex mutex;
  std::vector<int> client_ports;
  local.server().Get("/ping", [&](const httplib::Request& request, httplib::Response& response) {
    std::lock_guard lock(mutex);
    client_ports.push_back(request.remote_port);
    response.set_content("pong", "text/plain");
  });
  local.start();

  HttpClient client;
  for (int i = 0; i < 3; ++i) {
    const HttpResponse response = client.send(make_request("GET", local.url("/ping")));
    EXPECT_EQ(response.status, 200);
    EXPECT_EQ(response.body, "pong");
  }
  // Same client-side port = same TCP connection, kept alive between requests.
  ASSERT_EQ(client_ports.size(), 3u);
  EXPECT_EQ(std::set<int>(client_ports.begin(), client_ports.end()).size(), 1u);
}

TEST(HttpClient, HeadThenGetReturnsTheBody) {
  LocalServer local;
  local.server().Get("/object", [](const httplib::Request&, httplib::Response& response) {
    response.set_header("X-Amz-Request-Id", "REQ123");
    response.set_content("hello world", "text/plain");
  });
  local.start();

  HttpClient client;
  const HttpResponse head = client.send(make_request("HEAD", local.url("/object")));
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.body.empty());
  EXPECT_EQ(head.header("content-length"), "11");
  EXPECT_EQ(head.header("x-amz-request-id"), "REQ123");

  const HttpResponse get = client.send(make_request("GET", local.url("/object")));
  EXPECT_EQ(get.status, 200);
  EXPECT_EQ(get.body, "hello world");
}

TEST(HttpClient, StreamsA20MiBBodyToTheSink) {
  constexpr std::size_t kSize = 20u << 20;
  std::string payload(kSize, '\0');
  for (std::size_t i = 0; i < kSize; ++i) payload[i] = static_cast<char>((i * 131 + i / 7) & 0xFF);

  LocalServer local;
  local.server().Get("/big", [&](const httplib::Request&, httplib::Response& response) {
    response.set_content(payload, "application/octet-stream");
  });
  local.start();

  HttpClient client;
  std::size_t received = 0;
  bool matches = true;
  const HttpResponse response =
      client.send(make_request("GET", local.url("/big")), [&](const char* data, std::size_t size) {
        if (received + size > kSize || payload.compare(received, size, data, size) != 0) {
          matches = false;
        }
        received += size;
        return true;
      });
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(received, kSize);
  EXPECT_TRUE(matches);
  EXPECT_TRUE(response.body.empty());
}

// The sink sees at most receive_buffer_bytes per call: the option reaches libcurl
// (CURLOPT_BUFFERSIZE). A 4 KiB buffer is below libcurl's 16 KiB default, so an ignored
// option would show up as larger chunks.
TEST(HttpClient, ReceiveBufferBoundsTheChunksGivenToTheSink) {
  constexpr std::size_t kSize = 1u << 20;
  const std::string payload(kSize, 'x');
  LocalServer local;
  local.server().Get("/big", [&](const httplib::Request&, httplib::Response& response) {
    response.set_content(payload, "application/octet-stream");
  });
  local.start();

  HttpClientOptions options;
  options.receive_buffer_bytes = 4096;
  HttpClient client(options);
  std::size_t received = 0;
  std::size_t largest_chunk = 0;
  const HttpResponse response =
      client.send(make_request("GET", local.url("/big")), [&](const char*, std::size_t size) {
        received += size;
        largest_chunk = std::max(largest_chunk, size);
        return true;
      });
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(received, kSize);
  EXPECT_GT(largest_chunk, 0u);
  EXPECT_LE(largest_chunk, 4096u);
  EXPECT_EQ(HttpClientOptions{}.receive_buffer_bytes, kDefaultReceiveBufferBytes);
}

TEST(HttpClient, ErrorBodyIsCollectedNotStreamed) {
  const std::string error_xml =
      "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>gone</Message></Error>";
  LocalServer local;
  local.server().Get("/missing", [&](const httplib::Request&, httplib::Response& response) {
    response.status = 404;
    response.set_content(error_xml, "application/xml");
  });
  local.start();

  HttpClient client;
  bool sink_called = false;
  const HttpResponse response =
      client.send(make_request("GET", local.url("/missing")), [&](const char*, std::size_t) {
        sink_called = true;
        return true;
      });
  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(response.body, error_xml);
  EXPECT_FALSE(sink_called);
}

TEST(HttpClient, SinkRefusingDataIsLocalIoError) {
  LocalServer local;
  local.server().Get("/data", [](const httplib::Request&, httplib::Response& response) {
    response.set_content(std::string(1 << 20, 'x'), "application/octet-stream");
  });
  local.start();

  HttpClient client;
  EXPECT_EQ(error_code_of([&] {
              client.send(make_request("GET", local.url("/data")),
                          [](const char*, std::size_t) { return false; });
            }),
            ErrorCode::kLocalIo);
  // The handle stays usable after a failed transfer.
  EXPECT_EQ(client.send(make_request("GET", local.url("/data"))).body.size(), 1u << 20);
}

TEST(HttpClient, ServerThatNeverAnswersTimesOut) {
  SilentListener listener;
  HttpClient client;
  const std::string url = "http://127.0.0.1:" + std::to_string(listener.port()) + "/";
  EXPECT_EQ(error_code_of([&] {
              client.send([&] {
                HttpRequest request = make_request("GET", url);
                request.timeout = std::chrono::milliseconds(300);
                return request;
              }());
            }),
            ErrorCode::kTimeout);
}

TEST(HttpClient, ConnectionRefusedIsNetworkError) {
  int port = 0;
  {
    SilentListener listener;  // reserve a free port, then close it: nobody listens there
    port = listener.port();
  }
  HttpClient client;
  try {
    client.send(make_request("GET", "http://127.0.0.1:" + std::to_string(port) + "/"));
    FAIL() << "expected AwsError";
  } catch (const AwsError& error) {
    EXPECT_EQ(error.code(), ErrorCode::kNetwork);
    EXPECT_TRUE(error.transient());
  }
}

TEST(HttpClient, CancelFlagAbortsASlowResponse) {
  LocalServer local;
  local.server().Get("/slow", [](const httplib::Request&, httplib::Response& response) {
    // Trickles one chunk every 20 ms for up to a minute, until the client goes away.
    response.set_chunked_content_provider(
        "application/octet-stream", [](std::size_t offset, httplib::DataSink& sink) {
          if (offset > 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
          return offset < 3000 * 16 && sink.write("0123456789abcdef", 16);
        });
  });
  local.start();

  HttpClient client;
  std::atomic<bool> cancel{false};
  client.set_cancel_flag(&cancel);
  std::size_t received = 0;
  EXPECT_EQ(error_code_of([&] {
              client.send(make_request("GET", local.url("/slow")),
                          [&](const char*, std::size_t size) {
                            received += size;
                            cancel = true;  // shutdown requested once the transfer is under way
                            return true;
                          });
            }),
            ErrorCode::kCancelled);
  EXPECT_GT(received, 0u);
  EXPECT_LT(received, 3000u * 16u);
}

TEST(HttpClient, SendsExactlyTheGivenHeadersAndBody) {
  LocalServer local;
  std::mutex mutex;
  httplib::Headers seen_post;
  httplib::Headers seen_put;
  std::string seen_put_body;
  std::string seen_post_body;
  local.server().Post("/", [&](const httplib::Request& request, httplib::Response& response) {
    std::lock_guard lock(mutex);
    seen_post = request.headers;
    seen_post_body = request.body;
    response.set_content("{}", "application/x-amz-json-1.0");
  });
  local.server().Put("/key", [&](const httplib::Request& request, httplib::Response& response) {
    std::lock_guard lock(mutex);
    seen_put = request.headers;
    seen_put_body = request.body;
    response.status = 200;
  });
  local.start();

  HttpClient client;
  const std::string json = R"({"QueueUrl":"q"})";
  const HttpResponse post = client.send(
      make_request("POST", local.url("/"),
                   {{"Content-Type", "application/x-amz-json-1.0"},
                    {"X-Amz-Target", "AmazonSQS.ReceiveMessage"},
                    {"X-Amz-Date", "20150830T123600Z"},
                    {"Authorization", "AWS4-HMAC-SHA256 Credential=AKID/x, Signature=abc"}},
                   json));
  EXPECT_EQ(post.status, 200);
  EXPECT_EQ(seen_post_body, json);
  auto value = [](const httplib::Headers& headers, const std::string& name) {
    const auto found = headers.find(name);
    return found == headers.end() ? std::string("<absent>") : found->second;
  };
  EXPECT_EQ(value(seen_post, "Content-Type"), "application/x-amz-json-1.0");
  EXPECT_EQ(seen_post.count("Content-Type"), 1u);
  EXPECT_EQ(value(seen_post, "X-Amz-Target"), "AmazonSQS.ReceiveMessage");
  EXPECT_EQ(value(seen_post, "X-Amz-Date"), "20150830T123600Z");
  EXPECT_EQ(value(seen_post, "Authorization"), "AWS4-HMAC-SHA256 Credential=AKID/x, Signature=abc");
  EXPECT_EQ(seen_post.count("Expect"), 0u);
  EXPECT_EQ(seen_post.count("Accept"), 0u);

  // A 2 MiB upload: libcurl would add "Expect: 100-continue" (over 1 MiB) and nothing
  // signed it. No Content-Type given, so none may appear either.
  std::string upload(2u << 20, 'u');
  upload[12345] = 'v';
  const HttpResponse put =
      client.send(make_request("PUT", local.url("/key"), {{"X-Amz-Meta-A", "1"}}, upload));
  EXPECT_EQ(put.status, 200);
  EXPECT_EQ(seen_put_body, upload);
  EXPECT_EQ(value(seen_put, "Content-Length"), std::to_string(upload.size()));
  EXPECT_EQ(value(seen_put, "X-Amz-Meta-A"), "1");
  EXPECT_EQ(seen_put.count("Expect"), 0u);
  EXPECT_EQ(seen_put.count("Content-Type"), 0u);
  EXPECT_EQ(seen_put.count("Accept"), 0u);
}

TEST(HttpClient, PostWithoutContentTypeSendsNone) {
  LocalServer local;
  std::mutex mutex;
  httplib::Headers seen;
  local.server().Post("/form", [&](const httplib::Request& request, httplib::Response& response) {
    std::lock_guard lock(mutex);
    seen = request.headers;
    response.status = 204;
  });
  local.start();
  HttpClient client;
  EXPECT_EQ(client.send(make_request("POST", local.url("/form"), {}, "a=b")).status, 204);
  EXPECT_EQ(seen.count("Content-Type"), 0u);
}

TEST(HttpClient, DeleteUsesCustomMethodAndNextGetIsPlain) {
  LocalServer local;
  std::mutex mutex;
  std::vector<std::string> methods;
  auto record = [&](const httplib::Request& request, httplib::Response& response) {
    std::lock_guard lock(mutex);
    methods.push_back(request.method);
    response.set_content("ok", "text/plain");
  };
  local.server().Delete("/k", record);
  local.server().Get("/k", record);
  local.start();
  HttpClient client;
  EXPECT_EQ(client.send(make_request("DELETE", local.url("/k"))).status, 200);
  EXPECT_EQ(client.send(make_request("GET", local.url("/k"))).body, "ok");
  EXPECT_EQ(methods, (std::vector<std::string>{"DELETE", "GET"}));
}

TEST(HttpClient, ResponseHeadersAreLowerCasedAndResetPerResponse) {
  LocalServer local;
  local.server().Get("/a", [](const httplib::Request&, httplib::Response& response) {
    response.set_header("X-Only-On-A", "1");
    response.set_content("a", "text/plain");
  });
  local.server().Get("/b", [](const httplib::Request&, httplib::Response& response) {
    response.set_header("ETag", "\"abc\"");
    response.set_content("b", "text/plain");
  });
  local.start();
  HttpClient client;
  EXPECT_EQ(client.send(make_request("GET", local.url("/a"))).header("x-only-on-a"), "1");
  const HttpResponse b = client.send(make_request("GET", local.url("/b")));
  EXPECT_EQ(b.header("etag"), "\"abc\"");
  EXPECT_EQ(b.header("x-only-on-a"), "");
  EXPECT_EQ(b.headers.count("ETag"), 0u);
}

}  // namespace
}  // namespace dancer::aws

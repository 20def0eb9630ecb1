#include "aws/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <mutex>
#include <stdexcept>

#include "aws/error.h"
#include "common/strings.h"

namespace dancer::aws {
namespace {

// Error bodies (S3 XML, SQS JSON) are small; past this we keep reading but discard, so a
// misbehaving server cannot make us buffer a video-sized error page.
constexpr std::size_t kMaxErrorBody = 1 << 20;

struct CurlDeleter {
  void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};
using CurlHandle = std::unique_ptr<CURL, CurlDeleter>;

struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using HeaderList = std::unique_ptr<curl_slist, SlistDeleter>;

void global_init_once() {
  // curl_global_init is not thread-safe and must run before any other libcurl call.
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      throw AwsError(ErrorCode::kNetwork, "curl_global_init failed");
    }
  });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// The URL without its query: presigned URLs carry credentials and signatures there.
std::string redacted_url(const std::string& url) { return url.substr(0, url.find('?')); }

// State of one transfer, reachable from the libcurl callbacks.
struct Transfer {
  CURL* handle = nullptr;
  HttpResponse* response = nullptr;
  const BodySink* sink = nullptr;
  const std::string* upload = nullptr;
  std::size_t upload_offset = 0;
  const std::atomic<bool>* cancel_flag = nullptr;
  bool sink_refused = false;
  bool cancelled = false;
};

bool is_success(long status) { return status >= 200 && status <= 299; }

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const std::size_t bytes = size * count;
  const std::string_view line = trim(std::string_view(data, bytes));
  // Each response block (100 Continue, then the final one) starts with a status line;
  // only the headers of the last block describe the body we receive.
  if (line.rfind("HTTP/", 0) == 0) {
    transfer->response->headers.clear();
    return bytes;
  }
  const std::size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    transfer->response->headers[common::ascii_lower(trim(line.substr(0, colon)))] =
        std::string(trim(line.substr(colon + 1)));
  }
  return bytes;
}

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const std::size_t bytes = size * count;
  long status = 0;
  curl_easy_getinfo(transfer->handle, CURLINFO_RESPONSE_CODE, &status);
  if (transfer->sink != nullptr && *transfer->sink && is_success(status)) {
    if (!(*transfer->sink)(data, bytes)) {
      transfer->sink_refused = true;
      return 0;  // libcurl then fails the transfer with CURLE_WRITE_ERROR
    }
    return bytes;
  }
  std::string& body = transfer->response->body;
  if (transfer->sink == nullptr || body.size() < kMaxErrorBody) {
    body.append(data,
                transfer->sink == nullptr ? bytes : std::min(bytes, kMaxErrorBody - body.size()));
  }
  return bytes;
}

std::size_t on_upload_read(char* buffer, std::size_t size, std::size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const std::size_t remaining = transfer->upload->size() - transfer->upload_offset;
  const std::size_t bytes = std::min(size * count, remaining);
  std::memcpy(buffer, transfer->upload->data() + transfer->upload_offset, bytes);
  transfer->upload_offset += bytes;
  return bytes;
}

// libcurl rewinds the upload when it resends the request, e.g. after finding a reused
// keep-alive connection closed by the server.
int on_upload_seek(void* user, curl_off_t offset, int origin) {
  auto* transfer = static_cast<Transfer*>(user);
  if (origin != SEEK_SET || offset < 0 ||
      static_cast<std::size_t>(offset) > transfer->upload->size()) {
    return CURL_SEEKFUNC_CANTSEEK;
  }
  transfer->upload_offset = static_cast<std::size_t>(offset);
  return CURL_SEEKFUNC_OK;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* transfer = static_cast<Transfer*>(user);
  // Called at least once per second even while the transfer is idle, so a long poll or
  // a stalled download notices shutdown promptly.
  if (transfer->cancel_flag != nullptr && transfer->cancel_flag->load()) {
    transfer->cancelled = true;
    return 1;  // CURLE_ABORTED_BY_CALLBACK
  }
  return 0;
}

bool has_header(const HttpRequest& request, std::string_view lower_name) {
  return std::any_of(request.headers.begin(), request.headers.end(), [&](const auto& header) {
    return common::ascii_lower(header.first) == lower_name;
  });
}

template <typename T>
void set_option(CURL* handle, CURLoption option, T value) {
  const CURLcode code = curl_easy_setopt(handle, option, value);
  if (code != CURLE_OK) {
    throw AwsError(ErrorCode::kNetwork,
                   std::string("curl_easy_setopt failed: ") + curl_easy_strerror(code));
  }
}

}  // namespace

std::string HttpResponse::header(std::string_view lower_name) const {
  const auto found = headers.find(std::string(lower_name));
  return found == headers.end() ? std::string() : found->second;
}

struct HttpClient::Impl {
  HttpClientOptions options;
  CurlHandle handle;
  const std::atomic<bool>* cancel_flag = nullptr;
  char error_buffer[CURL_ERROR_SIZE] = {};

  HttpResponse perform(const HttpRequest& request, const BodySink* sink);
};

HttpClient::HttpClient(HttpClientOptions options) : impl_(std::make_unique<Impl>()) {
  global_init_once();
  impl_->options = options;
  impl_->handle.reset(curl_easy_init());
  if (!impl_->handle) throw AwsError(ErrorCode::kNetwork, "curl_easy_init failed");
}

HttpClient::~HttpClient() = default;
HttpClient::HttpClient(HttpClient&&) noexcept = default;
HttpClient& HttpClient::operator=(HttpClient&&) noexcept = default;

HttpResponse HttpClient::send(const HttpRequest& request) {
  return impl_->perform(request, nullptr);
}

HttpResponse HttpClient::send(const HttpRequest& request, const BodySink& sink) {
  return impl_->perform(request, &sink);
}

void HttpClient::set_cancel_flag(const std::atomic<bool>* flag) { impl_->cancel_flag = flag; }

HttpResponse HttpClient::Impl::perform(const HttpRequest& request, const BodySink* sink) {
  CURL* curl = handle.get();
  // curl_easy_reset clears every option (a previous HEAD's NOBODY, a PUT's UPLOAD...) but
  // keeps live connections, so keep-alive reuse survives it.
  curl_easy_reset(curl);

  HttpResponse response;
  Transfer transfer;
  transfer.handle = curl;
  transfer.response = &response;
  transfer.sink = sink;
  transfer.upload = &request.body;
  transfer.cancel_flag = cancel_flag;
  error_buffer[0] = '\0';

  set_option(curl, CURLOPT_URL, request.url.c_str());
  // Send the path byte for byte: S3 keys may contain "../" or "//", which libcurl would
  // otherwise squash (RFC 3986 dot-segment removal), addressing another key.
  set_option(curl, CURLOPT_PATH_AS_IS, 1L);
  set_option(curl, CURLOPT_ERRORBUFFER, error_buffer);
  // Without NOSIGNAL libcurl uses SIGALRM for DNS timeouts, unsafe with threads.
  set_option(curl, CURLOPT_NOSIGNAL, 1L);
  set_option(curl, CURLOPT_FOLLOWLOCATION, 0L);
  set_option(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  if (options.receive_buffer_bytes > 0) {
    set_option(curl, CURLOPT_BUFFERSIZE, options.receive_buffer_bytes);
  }
  set_option(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options.connect_timeout.count()));
  set_option(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
  if (request.low_speed_bytes > 0 && request.low_speed_time.count() > 0) {
    set_option(curl, CURLOPT_LOW_SPEED_LIMIT, request.low_speed_bytes);
    set_option(curl, CURLOPT_LOW_SPEED_TIME, static_cast<long>(request.low_speed_time.count()));
  }
  set_option(curl, CURLOPT_HEADERFUNCTION, on_header);
  set_option(curl, CURLOPT_HEADERDATA, &transfer);
  set_option(curl, CURLOPT_WRITEFUNCTION, on_body);
  set_option(curl, CURLOPT_WRITEDATA, &transfer);
  set_option(curl, CURLOPT_NOPROGRESS, 0L);
  set_option(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
  set_option(curl, CURLOPT_XFERINFODATA, &transfer);

  const auto body_size = static_cast<curl_off_t>(request.body.size());
  if (request.method == "GET") {
    set_option(curl, CURLOPT_HTTPGET, 1L);
  } else if (request.method == "HEAD") {
    set_option(curl, CURLOPT_NOBODY, 1L);
  } else if (request.method == "POST") {
    set_option(curl, CURLOPT_POST, 1L);
    set_option(curl, CURLOPT_POSTFIELDS, request.body.data());
    set_option(curl, CURLOPT_POSTFIELDSIZE_LARGE, body_size);
  } else if (request.method == "PUT") {
    set_option(curl, CURLOPT_UPLOAD, 1L);
    set_option(curl, CURLOPT_READFUNCTION, on_upload_read);
    set_option(curl, CURLOPT_READDATA, &transfer);
    set_option(curl, CURLOPT_SEEKFUNCTION, on_upload_seek);
    set_option(curl, CURLOPT_SEEKDATA, &transfer);
    set_option(curl, CURLOPT_INFILESIZE_LARGE, body_size);
  } else {
    set_option(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    if (!request.body.empty()) {
      set_option(curl, CURLOPT_POSTFIELDS, request.body.data());
      set_option(curl, CURLOPT_POSTFIELDSIZE_LARGE, body_size);
    }
  }

  // Send exactly the headers that were signed. "Name:" (nothing after the colon) tells
  // libcurl to drop a header it would add by itself: Expect: 100-continue on large
  // uploads, Accept: */*, and Content-Type: application/x-www-form-urlencoded on POST.
  HeaderList header_list;
  auto append = [&header_list](const std::string& line) {
    curl_slist* extended = curl_slist_append(header_list.get(), line.c_str());
    if (extended == nullptr) throw AwsError(ErrorCode::kNetwork, "curl_slist_append failed");
    (void)header_list.release();
    header_list.reset(extended);
  };
  for (const auto& [name, value] : request.headers) {
    // "Name;" sends a header with an empty value ("Name:" would remove it).
    append(value.empty() ? name + ";" : name + ": " + value);
  }
  for (const char* name : {"expect", "accept", "content-type"}) {
    if (!has_header(request, name)) append(std::string(name) + ":");
  }
  set_option(curl, CURLOPT_HTTPHEADER, header_list.get());

  const CURLcode code = curl_easy_perform(curl);
  if (code != CURLE_OK) {
    const std::string where = request.method + " " + redacted_url(request.url);
    std::string detail = curl_easy_strerror(code);
    if (error_buffer[0] != '\0') detail += std::string(" (") + error_buffer + ")";
    if (code == CURLE_ABORTED_BY_CALLBACK && transfer.cancelled) {
      throw AwsError(ErrorCode::kCancelled, where + ": cancelled");
    }
    if (code == CURLE_WRITE_ERROR && transfer.sink_refused) {
      throw AwsError(ErrorCode::kLocalIo, where + ": body sink refused the data");
    }
    if (code == CURLE_OPERATION_TIMEDOUT) {
      throw AwsError(ErrorCode::kTimeout, where + ": " + detail);
    }
    throw AwsError(ErrorCode::kNetwork, where + ": " + detail);
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

}  // namespace dancer::aws

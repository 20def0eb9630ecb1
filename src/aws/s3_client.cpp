#include "aws/s3_client.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <exception>
#include <fstream>
#include <iterator>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "aws/aws_xml.h"
#include "aws/error.h"
#include "aws/http_client.h"
#include "aws/service_call.h"
#include "aws/sigv4.h"
#include "aws/uri.h"

namespace dancer::aws {
namespace {

namespace fs = std::filesystem;

struct S3Address {
  std::string authority;  // Host header
  std::string path;       // wire path, encoded once
  std::string url;
};

detail::Endpoint s3_endpoint(const S3Config& config) {
  return detail::parse_endpoint(
      config.endpoint.empty() ? "https://s3." + config.region + ".amazonaws.com" : config.endpoint);
}

S3Address make_address(const S3Config& config, const detail::Endpoint& endpoint,
                       const std::string& bucket, const std::string& key) {
  // An IP or localhost endpoint has no DNS under which <bucket>.host could resolve.
  const bool virtual_hosted = !config.force_path_style &&
                              s3_bucket_is_virtual_host_compatible(bucket) &&
                              !detail::is_ip_literal(endpoint.host) && endpoint.host != "localhost";
  const std::string encoded_key = uri_encode(key, /*keep_slash=*/true);
  S3Address address;
  if (virtual_hosted) {
    address.authority = bucket + "." + endpoint.authority;
    address.path = endpoint.base_path + "/" + encoded_key;
  } else {
    address.authority = endpoint.authority;
    address.path = endpoint.base_path + "/" + uri_encode(bucket, /*keep_slash=*/false);
    if (!key.empty()) address.path += "/" + encoded_key;
  }
  address.url = endpoint.scheme + "://" + address.authority + address.path;
  return address;
}

std::string strip_quotes(std::string etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    etag = etag.substr(1, etag.size() - 2);
  }
  return etag;
}

// An S3 error: from the <Error> XML body, or for HEAD (no body) from the status alone.
AwsError s3_error(std::string_view operation, const HttpResponse& response) {
  const xml::ErrorDocument document = xml::parse_error_document(response.body);
  std::string request_id = document.request_id;
  if (request_id.empty()) request_id = response.header("x-amz-request-id");
  std::string text =
      "S3 " + std::string(operation) + " failed: HTTP " + std::to_string(response.status);
  if (!document.code.empty()) text += " " + document.code;
  if (!document.message.empty()) text += ": " + document.message;
  return AwsError(classify_aws_error(response.status, document.code, document.message),
                  std::move(text), response.status, document.code, std::move(request_id));
}

bool is_success(long status) { return status >= 200 && status <= 299; }

std::uint64_t parse_uint(const std::string& text, bool& ok) {
  ok = !text.empty() &&
       std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
  if (!ok) return 0;
  try {
    return std::stoull(text);
  } catch (const std::exception&) {
    ok = false;
    return 0;
  }
}

ObjectInfo object_info_from(const HttpResponse& response) {
  ObjectInfo info;
  bool ok = false;
  info.size = parse_uint(response.header("content-length"), ok);
  if (!ok) {
    throw AwsError(ErrorCode::kIntegrity, "S3 HeadObject: missing or bad Content-Length",
                   response.status);
  }
  info.etag = strip_quotes(response.header("etag"));
  info.content_type = response.header("content-type");
  info.version_id = response.header("x-amz-version-id");
  info.last_modified = response.header("last-modified");
  constexpr std::string_view kMetaPrefix = "x-amz-meta-";
  for (const auto& [name, value] : response.headers) {
    if (name.size() > kMetaPrefix.size() && name.compare(0, kMetaPrefix.size(), kMetaPrefix) == 0) {
      info.metadata[name.substr(kMetaPrefix.size())] = value;
    }
  }
  return info;
}

AwsError io_error(const std::string& what, const fs::path& path, int error_number) {
  return AwsError(ErrorCode::kLocalIo,
                  what + " " + path.string() + ": " + std::strerror(error_number));
}

// The download's temporary file: removed unless committed (renamed into place).
class PartFile {
 public:
  explicit PartFile(fs::path path) : path_(std::move(path)) {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) throw io_error("cannot create", path_, errno);
  }
  ~PartFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) {
      std::error_code ignored;
      fs::remove(path_, ignored);
    }
  }
  PartFile(const PartFile&) = delete;
  PartFile& operator=(const PartFile&) = delete;

  int fd() const { return fd_; }
  const fs::path& path() const { return path_; }

  // Writes all of data at offset; false with errno set on failure.
  bool write_at(const char* data, std::size_t size, std::uint64_t offset) const {
    while (size > 0) {
      const ssize_t written = ::pwrite(fd_, data, size, static_cast<off_t>(offset));
      if (written < 0) {
        if (errno == EINTR) continue;
        return false;
      }
      data += written;
      size -= static_cast<std::size_t>(written);
      offset += static_cast<std::uint64_t>(written);
    }
    return true;
  }

  void preallocate(std::uint64_t size) const {
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) {
      throw io_error("cannot preallocate", path_, errno);
    }
  }

  std::uint64_t size_on_disk() const {
    struct stat status {};
    if (::fstat(fd_, &status) != 0) throw io_error("cannot stat", path_, errno);
    return static_cast<std::uint64_t>(status.st_size);
  }

  // With sync, fsync before rename: after a crash dest is either absent or complete, never
  // a renamed file whose data blocks were not yet written (ext4/xfs delayed allocation).
  // Without it, rename still makes dest appear only once all bytes were written.
  void commit_as(const fs::path& dest, bool sync) {
    if (sync && ::fsync(fd_) != 0) throw io_error("cannot fsync", path_, errno);
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) throw io_error("cannot close", path_, errno);
    if (::rename(path_.c_str(), dest.c_str()) != 0) throw io_error("cannot rename", dest, errno);
    committed_ = true;
    if (!sync) return;
    // Persist the directory entry too; best effort (some filesystems refuse O_DIRECTORY fsync).
    const fs::path directory = dest.has_parent_path() ? dest.parent_path() : fs::path(".");
    const int directory_fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (directory_fd >= 0) {
      ::fsync(directory_fd);
      ::close(directory_fd);
    }
  }

 private:
  fs::path path_;
  int fd_ = -1;
  bool committed_ = false;
};

// Restores an HttpClient's cancel flag when a download ends.
class ScopedCancelFlag {
 public:
  ScopedCancelFlag(HttpClient& http, const std::atomic<bool>* flag) : http_(http) {
    http_.set_cancel_flag(flag);
  }
  ~ScopedCancelFlag() { http_.set_cancel_flag(nullptr); }
  ScopedCancelFlag(const ScopedCancelFlag&) = delete;
  ScopedCancelFlag& operator=(const ScopedCancelFlag&) = delete;

 private:
  HttpClient& http_;
};

// Bytes written so far across all parts, reported to DownloadOptions::on_progress.
class Progress {
 public:
  explicit Progress(const std::function<void(std::uint64_t)>& callback) : callback_(callback) {}
  void add(std::uint64_t bytes) {
    if (!callback_) return;
    std::lock_guard lock(mutex_);
    total_ += bytes;
    callback_(total_);
  }

 private:
  const std::function<void(std::uint64_t)>& callback_;
  std::mutex mutex_;
  std::uint64_t total_ = 0;
};

}  // namespace

bool s3_bucket_is_virtual_host_compatible(std::string_view bucket) {
  if (bucket.size() < 3 || bucket.size() > 63) return false;
  if (bucket.front() == '-' || bucket.back() == '-') return false;
  return std::all_of(bucket.begin(), bucket.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

std::string s3_object_url(const S3Config& config, const std::string& bucket,
                          const std::string& key) {
  return make_address(config, s3_endpoint(config), bucket, key).url;
}

struct S3Client::Impl {
  S3Config config;
  std::shared_ptr<CredentialsProvider> credentials;
  detail::Endpoint endpoint;
  HttpClient http;

  Impl(S3Config s3_config, std::shared_ptr<CredentialsProvider> provider)
      : config(std::move(s3_config)),
        credentials(std::move(provider)),
        endpoint(s3_endpoint(config)),
        http(HttpClientOptions{config.connect_timeout, config.receive_buffer_bytes}) {}

  S3Address address(const std::string& bucket, const std::string& key) const {
    return make_address(config, endpoint, bucket, key);
  }

  HttpRequest signed_request(std::string method, const S3Address& address,
                             std::vector<std::pair<std::string, std::string>> headers,
                             std::string body, const std::string& payload_hash,
                             const std::string& query = {}) const {
    HttpRequest request;
    request.method = std::move(method);
    request.url = query.empty() ? address.url : address.url + "?" + query;
    request.headers = std::move(headers);
    request.body = std::move(body);
    request.timeout = config.request_timeout;
    detail::sign(request, address.authority, address.path, query, payload_hash, credentials->get(),
                 {config.region, "s3", true});
    return request;
  }

  static const std::string& empty_payload_hash() {
    static const std::string hash = sigv4::sha256_hex("");
    return hash;
  }

  ObjectInfo head(const std::string& bucket, const std::string& key, const std::string& if_match,
                  const std::atomic<bool>* cancel = nullptr) {
    const S3Address target = address(bucket, key);
    return detail::with_retries(config.retry, cancel, "S3 HeadObject", [&] {
      std::vector<std::pair<std::string, std::string>> headers;
      if (!if_match.empty()) headers.emplace_back("If-Match", "\"" + if_match + "\"");
      const HttpResponse response =
          http.send(signed_request("HEAD", target, std::move(headers), "", empty_payload_hash()));
      if (!is_success(response.status)) throw s3_error("HeadObject", response);
      return object_info_from(response);
    });
  }

  void put(const std::string& bucket, const std::string& key, std::string bytes,
           const std::string& content_type, const std::map<std::string, std::string>& metadata) {
    const S3Address target = address(bucket, key);
    const std::string payload_hash = sigv4::sha256_hex(bytes);
    detail::with_retries(config.retry, nullptr, "S3 PutObject", [&] {
      // fauxqs (and some S3 proxies) reject a PUT without Content-Type.
      std::vector<std::pair<std::string, std::string>> headers = {
          {"Content-Type", content_type.empty() ? "application/octet-stream" : content_type}};
      for (const auto& [name, value] : metadata) headers.emplace_back("x-amz-meta-" + name, value);
      HttpRequest request = signed_request("PUT", target, std::move(headers), bytes, payload_hash);
      // Large bodies: no whole-request deadline, but abort a stalled upload.
      request.timeout = std::chrono::milliseconds{0};
      request.low_speed_bytes = config.low_speed_bytes;
      request.low_speed_time = config.low_speed_time;
      const HttpResponse response = http.send(request);
      if (!is_success(response.status)) throw s3_error("PutObject", response);
    });
  }

  // One call of the multipart API; throws on an error status, returns the response.
  HttpResponse multipart_call(std::string_view operation, const std::string& method,
                              const S3Address& target, const std::string& query,
                              std::vector<std::pair<std::string, std::string>> headers,
                              const std::string& body) {
    const std::string payload_hash = sigv4::sha256_hex(body);
    return detail::with_retries(config.retry, nullptr, "S3 " + std::string(operation), [&] {
      HttpRequest request = signed_request(method, target, headers, body, payload_hash, query);
      request.timeout = std::chrono::milliseconds{0};
      request.low_speed_bytes = config.low_speed_bytes;
      request.low_speed_time = config.low_speed_time;
      HttpResponse response = http.send(request);
      // CompleteMultipartUpload can fail after "200 OK" with an <Error> body (S3 API
      // reference), because S3 starts the response before assembling the parts.
      if (!is_success(response.status) || response.body.find("<Error>") != std::string::npos) {
        if (is_success(response.status)) response.status = 500;
        throw s3_error(operation, response);
      }
      return response;
    });
  }

  void put_multipart(const std::string& bucket, const std::string& key, std::ifstream& in,
                     const fs::path& source, std::uint64_t size, const std::string& content_type,
                     const std::map<std::string, std::string>& metadata) {
    const S3Address target = address(bucket, key);
    std::vector<std::pair<std::string, std::string>> headers = {
        {"Content-Type", content_type.empty() ? "application/octet-stream" : content_type}};
    for (const auto& [name, value] : metadata) headers.emplace_back("x-amz-meta-" + name, value);
    const HttpResponse created =
        multipart_call("CreateMultipartUpload", "POST", target, "uploads=", headers, "");
    const std::string upload_id = xml::element_text(created.body, "UploadId").value_or("");
    if (upload_id.empty()) {
      throw AwsError(ErrorCode::kServiceUnavailable, "S3 CreateMultipartUpload: no UploadId");
    }
    const std::string upload_query = "uploadId=" + uri_encode(upload_id, false);
    try {
      const std::uint64_t part_size = std::max<std::uint64_t>(config.multipart_part_size, 5u << 20);
      std::string completion = "<CompleteMultipartUpload>";
      std::string part(static_cast<std::size_t>(std::min(part_size, size)), '\0');
      for (std::uint64_t offset = 0, number = 1; offset < size; offset += part_size, ++number) {
        const auto length = static_cast<std::size_t>(std::min(part_size, size - offset));
        part.resize(length);
        if (!in.read(part.data(), static_cast<std::streamsize>(length))) {
          throw io_error("cannot read", source, errno);
        }
        const HttpResponse uploaded =
            multipart_call("UploadPart", "PUT", target,
                           "partNumber=" + std::to_string(number) + "&" + upload_query, {}, part);
        completion += "<Part><PartNumber>" + std::to_string(number) + "</PartNumber><ETag>" +
                      xml::escape(uploaded.header("etag")) + "</ETag></Part>";
      }
      completion += "</CompleteMultipartUpload>";
      multipart_call("CompleteMultipartUpload", "POST", target, upload_query,
                     {{"Content-Type", "application/xml"}}, completion);
    } catch (...) {
      try {
        multipart_call("AbortMultipartUpload", "DELETE", target, upload_query, {}, "");
      } catch (const AwsError&) {
        // The original error matters more; a lifecycle rule reaps abandoned uploads.
      }
      throw;
    }
  }

  ObjectInfo download(const std::string& bucket, const std::string& key, const fs::path& dest,
                      const DownloadOptions& options);
};

namespace {

// One download of bytes [begin, end) of an object into `file` at the same offsets,
// resuming after dropped connections and low-speed timeouts with
// "Range: bytes=<have>-<end-1>" and If-Match, so a changed object fails with 412
// instead of splicing two versions together (RFC 9110 13.1.1, 14.2).
struct RangeFetch {
  HttpClient& http;
  const S3Config& config;
  // Builds the signed GET of the object carrying the given extra headers.
  const std::function<HttpRequest(std::vector<std::pair<std::string, std::string>>)>& signed_get;
  const std::string& etag;  // unquoted
  std::uint64_t object_size;
  const PartFile& file;
  Progress& progress;
  const std::atomic<bool>* cancel;
  const std::atomic<bool>* abort_parts;  // set when a sibling part failed; may be null

  void run(std::uint64_t begin, std::uint64_t end, bool whole_object) {
    const RetryPolicy& policy = config.retry;
    std::uint64_t have = begin;
    int failures_without_progress = 0;
    bool first_request = true;
    while (first_request || have < end) {
      // The whole-object stream asks for no Range until it has to resume.
      const bool ranged = !whole_object || have > begin;
      first_request = false;
      std::vector<std::pair<std::string, std::string>> headers = {{"If-Match", "\"" + etag + "\""}};
      if (ranged) {
        headers.emplace_back("Range",
                             "bytes=" + std::to_string(have) + "-" + std::to_string(end - 1));
      }
      HttpRequest request = signed_get(std::move(headers));
      // No whole-request deadline for a body of any size; a stalled stream is cut by
      // the low-speed limit instead and then resumed.
      request.timeout = std::chrono::milliseconds{0};
      request.low_speed_bytes = config.low_speed_bytes;
      request.low_speed_time = config.low_speed_time;

      std::uint64_t offset = have;
      int write_errno = 0;
      bool overflow = false;
      bool aborted = false;
      const BodySink sink = [&](const char* data, std::size_t size) {
        if (abort_parts != nullptr && abort_parts->load()) return aborted = true, false;
        if (offset + size > end) return overflow = true, false;
        if (!file.write_at(data, size, offset)) return write_errno = errno, false;
        offset += size;
        progress.add(size);
        return true;
      };

      HttpResponse response;
      try {
        response = http.send(request, sink);
      } catch (const AwsError& error) {
        if (write_errno != 0) throw io_error("cannot write", file.path(), write_errno);
        if (overflow) {
          throw AwsError(ErrorCode::kIntegrity, "S3 GetObject: more bytes than the object size " +
                                                    std::to_string(object_size));
        }
        if (aborted) throw AwsError(ErrorCode::kCancelled, "S3 GetObject: sibling part failed");
        if (!error.transient()) throw;
        failures_without_progress = offset > have ? 1 : failures_without_progress + 1;
        have = offset;
        if (failures_without_progress >= policy.max_attempts) throw;
        // A connection that delivered bytes before dropping is resumed at once.
        if (failures_without_progress > 1) {
          const auto delay = backoff_delay(policy, failures_without_progress - 1);
          detail::log_retry("S3 GetObject", error, failures_without_progress, delay);
          detail::sleep_unless_cancelled(delay, cancel);
        }
        continue;
      }

      if (!is_success(response.status)) {
        AwsError error = s3_error("GetObject", response);
        // 412: If-Match failed, the object was replaced since HeadObject.
        if (!error.transient() || ++failures_without_progress >= policy.max_attempts) throw error;
        const auto delay = backoff_delay(policy, failures_without_progress);
        detail::log_retry("S3 GetObject", error, failures_without_progress, delay);
        detail::sleep_unless_cancelled(delay, cancel);
        continue;
      }
      check_response(response, ranged, have, end);
      if (offset == have && offset < end) {
        // A 2xx that delivered nothing of what remains: count it like a dropped connection.
        if (++failures_without_progress >= policy.max_attempts) {
          throw AwsError(ErrorCode::kIntegrity, "S3 GetObject: body ended early");
        }
      } else {
        failures_without_progress = 0;
      }
      have = offset;
    }
  }

  void check_response(const HttpResponse& response, bool ranged, std::uint64_t have,
                      std::uint64_t end) const {
    if (ranged && response.status != 206) {
      throw AwsError(ErrorCode::kIntegrity,
                     "S3 GetObject: Range ignored (HTTP " + std::to_string(response.status) + ")",
                     response.status);
    }
    // A server that does not honour If-Match would otherwise hand us another version.
    const std::string got_etag = strip_quotes(response.header("etag"));
    if (!got_etag.empty() && got_etag != etag) {
      throw AwsError(ErrorCode::kPreconditionFailed,
                     "S3 GetObject: ETag changed from " + etag + " to " + got_etag,
                     response.status);
    }
    bool ok = false;
    const std::uint64_t content_length = parse_uint(response.header("content-length"), ok);
    const std::uint64_t expected_length = ranged ? end - have : object_size;
    if (ok && content_length != expected_length) {
      throw AwsError(ErrorCode::kIntegrity,
                     "S3 GetObject: Content-Length " + std::to_string(content_length) +
                         ", expected " + std::to_string(expected_length),
                     response.status);
    }
    if (ranged) {
      // "bytes <first>-<last>/<complete length>" (RFC 9110 14.4).
      const std::string content_range = response.header("content-range");
      const std::string expected_prefix = "bytes " + std::to_string(have) + "-";
      const std::string expected_total = "/" + std::to_string(object_size);
      if (content_range.rfind(expected_prefix, 0) != 0 ||
          content_range.size() < expected_total.size() ||
          content_range.compare(content_range.size() - expected_total.size(), expected_total.size(),
                                expected_total) != 0) {
        throw AwsError(ErrorCode::kIntegrity,
                       "S3 GetObject: unexpected Content-Range '" + content_range + "'",
                       response.status);
      }
    }
  }
};

}  // namespace

ObjectInfo S3Client::Impl::download(const std::string& bucket, const std::string& key,
                                    const fs::path& dest, const DownloadOptions& options) {
  if (options.cancel != nullptr && options.cancel->load()) {
    throw AwsError(ErrorCode::kCancelled, "S3 download cancelled");
  }
  ScopedCancelFlag scoped_cancel(http, options.cancel);
  const std::string expected_etag = strip_quotes(options.expected_etag);
  ObjectInfo info = head(bucket, key, expected_etag, options.cancel);
  if (!expected_etag.empty() && info.etag != expected_etag) {
    throw AwsError(ErrorCode::kPreconditionFailed,
                   "S3 object ETag is " + info.etag + ", expected " + expected_etag);
  }
  if (options.max_size && info.size > *options.max_size) {
    throw AwsError(ErrorCode::kTooLarge, "S3 object is " + std::to_string(info.size) +
                                             " bytes, limit " + std::to_string(*options.max_size));
  }
  const S3Address target = address(bucket, key);
  const std::function<HttpRequest(std::vector<std::pair<std::string, std::string>>)> signed_get =
      [&](std::vector<std::pair<std::string, std::string>> headers) {
        return signed_request("GET", target, std::move(headers), "", empty_payload_hash());
      };
  PartFile file(fs::path(dest.string() + ".part"));
  Progress progress(options.on_progress);
  const std::uint64_t part_size = config.part_size;
  const bool parallel = config.parallel_parts > 1 && part_size > 0 && info.size > part_size;

  if (!parallel) {
    RangeFetch{http, config,   signed_get,     info.etag, info.size,
               file, progress, options.cancel, nullptr}
        .run(0, info.size, /*whole_object=*/true);
  } else {
    file.preallocate(info.size);
    const std::uint64_t part_count = (info.size + part_size - 1) / part_size;
    const auto worker_count = static_cast<std::uint64_t>(config.parallel_parts);
    std::atomic<std::uint64_t> next_part{0};
    std::atomic<bool> failed{false};
    std::mutex error_mutex;
    std::exception_ptr first_error;
    auto worker = [&] {
      try {
        // Each part runs on its own connection: one CURL handle per thread.
        HttpClient part_http(
            HttpClientOptions{config.connect_timeout, config.receive_buffer_bytes});
        part_http.set_cancel_flag(options.cancel);
        RangeFetch fetch{part_http, config,   signed_get,     info.etag, info.size,
                         file,      progress, options.cancel, &failed};
        for (std::uint64_t part = next_part++; part < part_count && !failed; part = next_part++) {
          const std::uint64_t begin = part * part_size;
          fetch.run(begin, std::min(info.size, begin + part_size), /*whole_object=*/false);
        }
      } catch (...) {
        std::lock_guard lock(error_mutex);
        if (!first_error) first_error = std::current_exception();
        failed = true;
      }
    };
    std::vector<std::thread> workers;
    for (std::uint64_t i = 1; i < std::min(worker_count, part_count); ++i) {
      workers.emplace_back(worker);
    }
    worker();
    for (auto& thread : workers) thread.join();
    if (first_error) std::rethrow_exception(first_error);
  }

  if (const std::uint64_t written = file.size_on_disk(); written != info.size) {
    throw AwsError(ErrorCode::kIntegrity, "S3 download wrote " + std::to_string(written) +
                                              " bytes, object has " + std::to_string(info.size));
  }
  file.commit_as(dest, options.sync_to_disk);
  return info;
}

S3Client::S3Client(S3Config config, std::shared_ptr<CredentialsProvider> credentials)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(credentials))) {}

S3Client::~S3Client() = default;

ObjectInfo S3Client::head_object(const std::string& bucket, const std::string& key) {
  return impl_->head(bucket, key, "");
}

ObjectInfo S3Client::download_to_file(const std::string& bucket, const std::string& key,
                                      const fs::path& dest, const DownloadOptions& options) {
  return impl_->download(bucket, key, dest, options);
}

void S3Client::put_object(const std::string& bucket, const std::string& key, const fs::path& source,
                          const std::string& content_type,
                          const std::map<std::string, std::string>& metadata) {
  std::ifstream in(source, std::ios::binary);
  if (!in) throw io_error("cannot open", source, errno);
  std::error_code size_error;
  const std::uint64_t size = fs::file_size(source, size_error);
  if (size_error) throw io_error("cannot stat", source, size_error.value());
  if (size > impl_->config.multipart_threshold) {
    impl_->put_multipart(bucket, key, in, source, size, content_type, metadata);
    return;
  }
  // Small enough to send as one buffer (the transport takes the body in memory).
  std::string bytes(static_cast<std::size_t>(size), '\0');
  if (!in.read(bytes.data(), static_cast<std::streamsize>(size))) {
    throw io_error("cannot read", source, errno);
  }
  impl_->put(bucket, key, std::move(bytes), content_type, metadata);
}

void S3Client::put_object_bytes(const std::string& bucket, const std::string& key,
                                const std::string& bytes, const std::string& content_type) {
  impl_->put(bucket, key, bytes, content_type, {});
}

void S3Client::delete_object(const std::string& bucket, const std::string& key) {
  const S3Address target = impl_->address(bucket, key);
  detail::with_retries(impl_->config.retry, nullptr, "S3 DeleteObject", [&] {
    const HttpResponse response = impl_->http.send(
        impl_->signed_request("DELETE", target, {}, "", Impl::empty_payload_hash()));
    // S3 answers 204 whether or not the key existed; some emulators answer 404 instead.
    if (is_success(response.status) || response.status == 404) return;
    throw s3_error("DeleteObject", response);
  });
}

void S3Client::create_bucket(const std::string& bucket) {
  const S3Address target = impl_->address(bucket, "");
  // Outside us-east-1 the region must be named in the body (CreateBucket API reference).
  std::string body;
  if (impl_->config.region != "us-east-1") {
    body =
        "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<LocationConstraint>" +
        xml::escape(impl_->config.region) + "</LocationConstraint></CreateBucketConfiguration>";
  }
  const std::string payload_hash = sigv4::sha256_hex(body);
  detail::with_retries(impl_->config.retry, nullptr, "S3 CreateBucket", [&] {
    const HttpResponse response =
        impl_->http.send(impl_->signed_request("PUT", target, {}, body, payload_hash));
    if (is_success(response.status)) return;
    AwsError error = s3_error("CreateBucket", response);
    // Creating a bucket we already own is what "ensure it exists" wants.
    if (error.aws_code() == "BucketAlreadyOwnedByYou") return;
    throw error;
  });
}

}  // namespace dancer::aws

// Amazon S3 REST: HeadObject, streaming GetObject to a file, PutObject, DeleteObject,
// CreateBucket.
// One client per worker thread; it reuses its HTTP connection. Not thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "aws/credentials.h"
#include "aws/http_client.h"
#include "aws/retry.h"

namespace dancer::aws {

struct S3Config {
  std::string region = "us-east-1";
  // Empty: https://s3.<region>.amazonaws.com (virtual-hosted: <bucket>.s3.<region>...).
  std::string endpoint;
  bool force_path_style = false;  // S3_FORCE_PATH_STYLE; emulators usually need it
  std::chrono::milliseconds connect_timeout{5000};
  long receive_buffer_bytes = kDefaultReceiveBufferBytes;  // per connection
  // A transfer is aborted when fewer than low_speed_bytes arrive in low_speed_time.
  std::chrono::seconds low_speed_time{30};
  long low_speed_bytes = 1024;
  std::chrono::milliseconds request_timeout{30000};  // for non-streaming calls
  RetryPolicy retry;
  // Ranged parallel GETs for large objects (0 concurrency or part_size: single stream).
  std::uint64_t part_size = 16ull << 20;
  int parallel_parts = 8;  // measured best at >= 256 MiB on loopback (bench/RESULTS.md)
  // put_object of a file larger than multipart_threshold uses a multipart upload of
  // multipart_part_size parts (read one at a time: memory stays at one part), as the
  // AWS CLI does (8 MiB / 8 MiB). S3 parts must be >= 5 MiB except the last.
  std::uint64_t multipart_threshold = 8ull << 20;
  std::uint64_t multipart_part_size = 8ull << 20;
};

struct ObjectInfo {
  std::uint64_t size = 0;
  std::string etag;  // without quotes
  std::string content_type;
  std::string version_id;
  std::string last_modified;
  std::map<std::string, std::string> metadata;  // x-amz-meta-* with the prefix removed, lowercase
};

struct DownloadOptions {
  std::string expected_etag;                  // If-Match when non-empty (the notification's ETag)
  std::optional<std::uint64_t> max_size;      // kTooLarge before any byte is written
  const std::atomic<bool>* cancel = nullptr;  // abort promptly when true
  std::function<void(std::uint64_t bytes_so_far)> on_progress;
  // fsync the file (and its directory entry) before returning. Off by default: the
  // service's downloads are scratch copies, processed at once and re-fetched after a
  // crash, so durability buys nothing and fsync cost ~30% of loopback throughput
  // (bench/RESULTS.md, download vs curl).
  bool sync_to_disk = false;
};

// True when `bucket` can be addressed virtual-hosted (<bucket>.<endpoint host>): a valid
// DNS label of 3..63 lower-case letters, digits and '-'. Names with '.' are excluded, as
// in the AWS SDKs, because they break TLS wildcard certificate matching.
bool s3_bucket_is_virtual_host_compatible(std::string_view bucket);

// The URL S3Client uses for an object (an empty key addresses the bucket): path-style
// <endpoint>/<bucket>/<key> when force_path_style, when the bucket is not virtual-host
// compatible or when the endpoint host is an IP literal or "localhost"; otherwise
// virtual-hosted <scheme>://<bucket>.<endpoint host>/<key>. The key is percent-encoded
// once with '/' kept (S3 signs the path exactly as sent). Pure: no I/O.
std::string s3_object_url(const S3Config& config, const std::string& bucket,
                          const std::string& key);

class S3Client {
 public:
  S3Client(S3Config config, std::shared_ptr<CredentialsProvider> credentials);
  ~S3Client();
  S3Client(const S3Client&) = delete;
  S3Client& operator=(const S3Client&) = delete;

  ObjectInfo head_object(const std::string& bucket, const std::string& key);

  // Streams the object to `<dest>.part` in constant memory, verifies size and ETag,
  // fsyncs and renames it to dest. A dropped connection resumes with Range + If-Match.
  // Throws AwsError; on failure no file is left at dest (the .part file is removed).
  ObjectInfo download_to_file(const std::string& bucket, const std::string& key,
                              const std::filesystem::path& dest,
                              const DownloadOptions& options = {});

  // Uploads a file; above config.multipart_threshold as a multipart upload (aborted on
  // failure so no parts are left billed).
  void put_object(const std::string& bucket, const std::string& key,
                  const std::filesystem::path& source, const std::string& content_type = {},
                  const std::map<std::string, std::string>& metadata = {});
  void put_object_bytes(const std::string& bucket, const std::string& key, const std::string& bytes,
                        const std::string& content_type = {});
  // Removes an object (succeeds when there is none). On a versioned bucket this adds a delete
  // marker, as an unversioned DELETE does.
  void delete_object(const std::string& bucket, const std::string& key);
  void create_bucket(const std::string& bucket);  // succeeds if it already exists and is ours

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dancer::aws

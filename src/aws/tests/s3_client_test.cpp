// S3Client against an in-process fake speaking S3 REST on 127.0.0.1: addressing, key
// encoding, signing headers, error mapping, and resumable, verified downloads.
#include "aws/s3_client.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "aws/error.h"
#include "aws/sigv4.h"
#include "common/strings.h"
#include "support/expect_aws_error.h"
#include "support/local_http_server.h"
#include "support/test_support.h"

namespace dancer::aws {
namespace {

namespace fs = std::filesystem;
using testing::expect_aws_error;
using testing::LocalHttpServer;
using testing::RecordedRequest;
using testing::RequestLog;
using testing::TempDir;

// ---------------------------------------------------------------- addressing (pure)

S3Config config_for(const std::string& endpoint, bool force_path_style,
                    std::string region = "eu-west-1") {
  S3Config config;
  config.region = std::move(region);
  config.endpoint = endpoint;
  config.force_path_style = force_path_style;
  return config;
}

TEST(S3ObjectUrl, DefaultEndpointIsVirtualHosted) {
  EXPECT_EQ(s3_object_url(config_for("", false), "my-bucket", "videos/walk.mp4"),
            "https://my-bucket.s3.eu-west-1.amazonaws.com/videos/walk.mp4");
}

TEST(S3ObjectUrl, ForcePathStyle) {
  EXPECT_EQ(s3_object_url(config_for("", true), "my-bucket", "videos/walk.mp4"),
            "https://s3.eu-west-1.amazonaws.com/my-bucket/videos/walk.mp4");
}

TEST(S3ObjectUrl, BucketsThatAreNotDnsLabelsUsePathStyle) {
  // Dots break TLS wildcard matching; upper case and '_' are not valid DNS labels.
  EXPECT_EQ(s3_object_url(config_for("", false), "my.bucket", "k"),
            "https://s3.eu-west-1.amazonaws.com/my.bucket/k");
  EXPECT_EQ(s3_object_url(config_for("", false), "My_Bucket", "k"),
            "https://s3.eu-west-1.amazonaws.com/My_Bucket/k");
  EXPECT_FALSE(s3_bucket_is_virtual_host_compatible("ab"));
  EXPECT_FALSE(s3_bucket_is_virtual_host_compatible("-bucket"));
  EXPECT_TRUE(s3_bucket_is_virtual_host_compatible("bucket-1"));
}

TEST(S3ObjectUrl, CustomEndpoints) {
  EXPECT_EQ(s3_object_url(config_for("http://minio.local:9000", false), "media", "a.mp4"),
            "http://media.minio.local:9000/a.mp4");
  // An IP literal cannot carry a bucket sub-domain.
  EXPECT_EQ(s3_object_url(config_for("http://127.0.0.1:4566/", false), "media", "a.mp4"),
            "http://127.0.0.1:4566/media/a.mp4");
  EXPECT_EQ(s3_object_url(config_for("http://127.0.0.1:4566/prefix/", true), "media", "a.mp4"),
            "http://127.0.0.1:4566/prefix/media/a.mp4");
  EXPECT_EQ(s3_object_url(config_for("https://s3.example.com:443", true), "media", ""),
            "https://s3.example.com/media");
}

TEST(S3ObjectUrl, Ipv6EndpointsKeepTheirBracketsAndUsePathStyle) {
  EXPECT_EQ(s3_object_url(config_for("http://[::1]:4566", false), "media", "a.mp4"),
            "http://[::1]:4566/media/a.mp4");
  EXPECT_EQ(s3_object_url(config_for("https://[FD00::5]:443/p/", false), "media", "a.mp4"),
            "https://[fd00::5]/p/media/a.mp4");
}

TEST(S3ObjectUrl, MalformedEndpointsAreInvalidRequests) {
  for (const char* bad : {"ftp://h", "http://h:80x", "http://[::1", "http://u:p@h", "http://h/?x=1",
                          "127.0.0.1:4566"}) {
    try {
      s3_object_url(config_for(bad, true), "b", "k");
      ADD_FAILURE() << "accepted " << bad;
    } catch (const AwsError& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidRequest) << bad;
    }
  }
}

TEST(S3ObjectUrl, KeysAreEncodedOnceKeepingSlashes) {
  const S3Config config = config_for("http://127.0.0.1:9000", true);
  EXPECT_EQ(s3_object_url(config, "b", "my video (1).mp4"),
            "http://127.0.0.1:9000/b/my%20video%20%281%29.mp4");
  EXPECT_EQ(s3_object_url(config, "b", "a+b=c&d.mp4"), "http://127.0.0.1:9000/b/a%2Bb%3Dc%26d.mp4");
  EXPECT_EQ(s3_object_url(config, "b", "vid\xC3\xA9o/\xC3\xBC.mp4"),
            "http://127.0.0.1:9000/b/vid%C3%A9o/%C3%BC.mp4");
  // S3 keys are opaque: no dot-segment removal, no slash collapsing.
  EXPECT_EQ(s3_object_url(config, "b", "../up//x.mp4"), "http://127.0.0.1:9000/b/../up//x.mp4");
  EXPECT_EQ(s3_object_url(config, "b", "~tilde_-."), "http://127.0.0.1:9000/b/~tilde_-.");
}

// ---------------------------------------------------------------- fake S3

struct FakeObject {
  std::uint64_t size = 0;
  std::string data;        // used when size is small; otherwise bytes are generated
  bool generated = false;  // byte at offset i = pattern(i), so 256 MiB cost no memory
  std::string etag;
  std::string content_type = "application/octet-stream";
  std::map<std::string, std::string> metadata;
};

FakeObject object_with(std::string data) {
  FakeObject object;
  object.data = std::move(data);
  return object;
}

char pattern_byte(std::uint64_t offset) { return static_cast<char>((offset * 2654435761u) >> 13); }

std::string random_bytes(std::size_t size, unsigned seed) {
  std::mt19937 generator(seed);
  std::string bytes(size, '\0');
  for (auto& byte : bytes) byte = static_cast<char>(generator());
  return bytes;
}

class FakeS3 {
 public:
  FakeS3() {
    auto& server = http_.server();
    server.Get(R"(/.*)", [this](const httplib::Request& request, httplib::Response& response) {
      // httplib would apply Range itself (also to error bodies); the fake does it explicitly.
      const_cast<httplib::Request&>(request).ranges.clear();
      log.add(request);
      serve_object(request, response);
    });
    server.Put(R"(/.*)", [this](const httplib::Request& request, httplib::Response& response) {
      log.add(request);
      if (request.has_param("partNumber")) {
        store_part(request, response);
      } else {
        store(request, response);
      }
    });
    server.Post(R"(/.*)", [this](const httplib::Request& request, httplib::Response& response) {
      log.add(request);
      multipart(request, response);
    });
    server.Delete(R"(/.*)", [this](const httplib::Request& request, httplib::Response&) {
      log.add(request);
      std::lock_guard lock(mutex_);
      uploads_.erase(request.get_param_value("uploadId"));
    });
    http_.start();
  }

  std::string endpoint() const { return http_.endpoint(); }

  void put(const std::string& bucket_and_key, FakeObject object) {
    std::lock_guard lock(mutex_);
    if (object.etag.empty()) object.etag = sigv4::sha256_hex(object.data).substr(0, 32);
    if (!object.generated) object.size = object.data.size();
    objects_[bucket_and_key] = std::move(object);
  }
  FakeObject get(const std::string& bucket_and_key) {
    std::lock_guard lock(mutex_);
    return objects_.at(bucket_and_key);
  }

  // Behaviour knobs.
  std::atomic<std::uint64_t> cut_after_bytes{0};  // close each GET after this many bytes
  std::atomic<int> responses_to_cut{0};           // ... for this many GET responses
  std::atomic<std::int64_t> head_size_delta{0};   // HEAD lies about the size
  std::atomic<int> get_failures_503{0};           // next GETs answer 503 SlowDown
  std::atomic<int> head_status{0};                // HEAD answers this status, no body
  std::atomic<bool> fail_part_uploads{false};     // UploadPart answers 403
  // The first GET sends this many bytes, then goes silent (connection kept open) until
  // the client gives up or 4 s pass.
  std::atomic<std::uint64_t> stall_after_bytes{0};
  // Called after a GET was cut: lets a test replace the object between requests.
  std::function<void()> after_cut;
  RequestLog log;

 private:
  static void xml_error(httplib::Response& response, int status, const std::string& code) {
    response.status = status;
    response.set_content("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>" + code +
                             "</Code><Message>fake " + code +
                             "</Message><RequestId>fake-req</RequestId></Error>",
                         "application/xml");
  }

  void serve_object(const httplib::Request& request, httplib::Response& response) {
    const bool head = request.method == "HEAD";
    if (head && head_status != 0) {
      response.status = head_status;
      return;
    }
    FakeObject object;
    {
      std::lock_guard lock(mutex_);
      const auto found = objects_.find(request.path.substr(1));
      if (found == objects_.end()) {
        if (head) {
          response.status = 404;
        } else {
          xml_error(response, 404, "NoSuchKey");
        }
        return;
      }
      object = found->second;
    }
    const std::string if_match = request.get_header_value("If-Match");
    if (!if_match.empty() && if_match != "\"" + object.etag + "\"") {
      if (head) {
        response.status = 412;
      } else {
        xml_error(response, 412, "PreconditionFailed");
      }
      return;
    }
    if (!head && get_failures_503 > 0) {
      --get_failures_503;
      xml_error(response, 503, "SlowDown");
      return;
    }
    response.set_header("ETag", "\"" + object.etag + "\"");
    response.set_header("Last-Modified", "Wed, 01 Nov 2023 10:00:00 GMT");
    response.set_header("x-amz-version-id", "v-" + object.etag.substr(0, 6));
    for (const auto& [name, value] : object.metadata)
      response.set_header("x-amz-meta-" + name, value);

    std::uint64_t first = 0;
    std::uint64_t length = object.size;
    if (head) {
      length = static_cast<std::uint64_t>(static_cast<std::int64_t>(object.size) + head_size_delta);
    }
    const std::string range = request.get_header_value("Range");
    if (!range.empty() && !head) {
      // "bytes=<first>-[<last>]"
      const auto dash = range.find('-');
      first = std::stoull(range.substr(6, dash - 6));
      const std::string last_text = range.substr(dash + 1);
      const std::uint64_t last = last_text.empty() ? object.size - 1 : std::stoull(last_text);
      length = std::min(last, object.size - 1) - first + 1;
      response.status = 206;
      response.set_header("Content-Range", "bytes " + std::to_string(first) + "-" +
                                               std::to_string(first + length - 1) + "/" +
                                               std::to_string(object.size));
    }
    const std::uint64_t stall_at = head ? 0 : stall_after_bytes.exchange(0);
    const bool cut = !head && responses_to_cut > 0 && cut_after_bytes > 0;
    if (cut) --responses_to_cut;
    const std::uint64_t cut_at = cut ? cut_after_bytes.load() : length;
    const std::string content_type = object.content_type;
    response.set_content_provider(
        static_cast<std::size_t>(length), content_type,
        [this, object = std::move(object), first, cut_at, stall_at](std::size_t offset, std::size_t,
                                                                    httplib::DataSink& sink) {
          if (stall_at > 0 && offset >= stall_at) {
            // Silent but open: only the client's low-speed limit ends this transfer.
            for (int i = 0; i < 40 && sink.is_writable(); ++i) {
              std::this_thread::sleep_for(std::chrono::milliseconds(100));
            }
            return false;
          }
          if (offset >= cut_at) {
            if (after_cut) after_cut();
            return false;  // httplib drops the connection mid-body
          }
          constexpr std::size_t kChunk = 64 * 1024;
          std::uint64_t limit = cut_at;
          if (stall_at > 0) limit = std::min(limit, stall_at);
          const std::size_t n = static_cast<std::size_t>(
              std::min<std::uint64_t>({kChunk, limit - offset, object.size - first - offset}));
          std::string chunk(n, '\0');
          for (std::size_t i = 0; i < n; ++i) {
            const std::uint64_t at = first + offset + i;
            chunk[i] = object.generated ? pattern_byte(at) : object.data[at];
          }
          return sink.write(chunk.data(), chunk.size());
        });
  }

  void store_part(const httplib::Request& request, httplib::Response& response) {
    if (fail_part_uploads) {
      xml_error(response, 403, "AccessDenied");
      return;
    }
    std::lock_guard lock(mutex_);
    const auto upload = uploads_.find(request.get_param_value("uploadId"));
    if (upload == uploads_.end()) {
      xml_error(response, 404, "NoSuchUpload");
      return;
    }
    const int number = std::stoi(request.get_param_value("partNumber"));
    upload->second.parts[number] = request.body;
    response.set_header("ETag", "\"part-" + std::to_string(number) + "\"");
  }

  void multipart(const httplib::Request& request, httplib::Response& response) {
    std::lock_guard lock(mutex_);
    if (request.has_param("uploads")) {
      const std::string id = "upload-" + std::to_string(uploads_.size() + 1) + "+/=";
      Upload upload;
      upload.object.content_type = request.get_header_value("Content-Type");
      upload.object.metadata["owner"] = request.get_header_value("x-amz-meta-owner");
      uploads_[id] = std::move(upload);
      response.set_content("<InitiateMultipartUploadResult><UploadId>" + id +
                               "</UploadId></InitiateMultipartUploadResult>",
                           "application/xml");
      return;
    }
    const auto upload = uploads_.find(request.get_param_value("uploadId"));
    if (upload == uploads_.end()) {
      xml_error(response, 404, "NoSuchUpload");
      return;
    }
    FakeObject object = upload->second.object;
    // Parts in the order the completion document lists them, each with its ETag.
    for (std::size_t at = request.body.find("<PartNumber>"); at != std::string::npos;
         at = request.body.find("<PartNumber>", at + 1)) {
      const int number = std::stoi(request.body.substr(at + 12));
      const std::string etag_xml = "<ETag>&quot;part-" + std::to_string(number) + "&quot;</ETag>";
      if (request.body.find(etag_xml, at) == std::string::npos) {
        xml_error(response, 400, "InvalidPart");
        return;
      }
      object.data += upload->second.parts.at(number);
    }
    object.size = object.data.size();
    object.etag = sigv4::sha256_hex(object.data).substr(0, 32) + "-" +
                  std::to_string(upload->second.parts.size());
    objects_[request.path.substr(1)] = std::move(object);
    uploads_.erase(upload);
    response.set_content("<CompleteMultipartUploadResult/>", "application/xml");
  }

  void store(const httplib::Request& request, httplib::Response& response) {
    if (request.get_header_value("x-amz-content-sha256") != sigv4::sha256_hex(request.body)) {
      xml_error(response, 400, "XAmzContentSHA256Mismatch");
      return;
    }
    const std::string name = request.path.substr(1);
    std::lock_guard lock(mutex_);
    if (name.find('/') == std::string::npos) {  // CreateBucket
      if (buckets_.count(name) != 0) {
        xml_error(response, 409,
                  name == "taken" ? "BucketAlreadyExists" : "BucketAlreadyOwnedByYou");
      }
      buckets_.insert({name, true});
      return;
    }
    FakeObject object;
    object.data = request.body;
    object.size = object.data.size();
    object.etag = sigv4::sha256_hex(object.data).substr(0, 32);
    object.content_type = request.get_header_value("Content-Type");
    for (const auto& [header_name, value] : request.headers) {
      const std::string lower = common::ascii_lower(header_name);
      if (lower.rfind("x-amz-meta-", 0) == 0) object.metadata[lower.substr(11)] = value;
    }
    response.set_header("ETag", "\"" + object.etag + "\"");
    objects_[name] = std::move(object);
  }

  std::mutex mutex_;
  std::map<std::string, FakeObject> objects_;
  std::map<std::string, bool> buckets_{{"taken", true}};
  struct Upload {
    FakeObject object;
    std::map<int, std::string> parts;
  };
  std::map<std::string, Upload> uploads_;
  LocalHttpServer http_;
};

std::string file_sha256(const fs::path& path) {
  return sigv4::sha256_hex(testing::read_file(path));
}

// Recomputes the SigV4 signature from what the server received (path as on the wire,
// the headers named in SignedHeaders, x-amz-date) and compares it with the one sent:
// catches any header or path the transport changed after signing.
void expect_valid_s3_signature(const RecordedRequest& request) {
  const std::string authorization = request.header("authorization");
  const auto signed_start = authorization.find("SignedHeaders=");
  const auto signed_end = authorization.find(',', signed_start);
  ASSERT_NE(signed_start, std::string::npos) << authorization;
  const std::string signed_headers =
      authorization.substr(signed_start + 14, signed_end - signed_start - 14);
  sigv4::Request to_sign;
  to_sign.method = request.method;
  const auto question = request.target.find('?');
  to_sign.path = request.target.substr(0, question);
  if (question != std::string::npos) to_sign.query = request.target.substr(question + 1);
  to_sign.payload_hash = request.header("x-amz-content-sha256");
  for (std::size_t start = 0; start <= signed_headers.size();) {
    auto end = signed_headers.find(';', start);
    if (end == std::string::npos) end = signed_headers.size();
    const std::string name = signed_headers.substr(start, end - start);
    // sign_request adds X-Amz-Date itself, from params.time.
    if (name != "x-amz-date") to_sign.headers.push_back({name, request.header(name)});
    start = end + 1;
  }
  const std::string amz_date = request.header("x-amz-date");
  ASSERT_EQ(amz_date.size(), 16u);
  std::tm parts{};
  parts.tm_year = std::stoi(amz_date.substr(0, 4)) - 1900;
  parts.tm_mon = std::stoi(amz_date.substr(4, 2)) - 1;
  parts.tm_mday = std::stoi(amz_date.substr(6, 2));
  parts.tm_hour = std::stoi(amz_date.substr(9, 2));
  parts.tm_min = std::stoi(amz_date.substr(11, 2));
  parts.tm_sec = std::stoi(amz_date.substr(13, 2));
  sigv4::SigningParams params;
  params.credentials = {"AKIDEXAMPLE", "secret", "", std::nullopt};
  params.region = "us-east-1";
  params.service = "s3";
  params.time = std::chrono::system_clock::from_time_t(timegm(&parts));
  params.double_uri_encode = false;
  params.normalize_path = false;
  std::string expected;
  for (const auto& header : sigv4::sign_request(to_sign, params)) {
    if (header.name == "Authorization") expected = header.value;
  }
  EXPECT_EQ(authorization, expected) << request.method << " " << request.target;
}

class S3ClientTest : public ::testing::Test {
 protected:
  S3Config config() const {
    S3Config config = config_for(fake.endpoint(), true, "us-east-1");
    config.retry.max_attempts = 4;
    config.retry.base_delay = std::chrono::milliseconds(1);
    config.retry.max_delay = std::chrono::milliseconds(5);
    return config;
  }
  S3Client client(const S3Config& s3_config) const {
    return S3Client(s3_config, make_static_provider({"AKIDEXAMPLE", "secret", "", std::nullopt}));
  }
  S3Client client() const { return client(config()); }

  void expect_no_files(const fs::path& dest) {
    EXPECT_FALSE(fs::exists(dest));
    EXPECT_FALSE(fs::exists(dest.string() + ".part"));
  }

  FakeS3 fake;
  TempDir dir;
};

TEST_F(S3ClientTest, HeadObjectParsesHeadersAndSignsForS3) {
  FakeObject object;
  object.data = "hello world";
  object.content_type = "video/mp4";
  object.metadata = {{"dancer-id", "42"}};
  fake.put("bucket/walk.mp4", object);
  auto s3 = client();
  const ObjectInfo info = s3.head_object("bucket", "walk.mp4");
  EXPECT_EQ(info.size, 11u);
  EXPECT_EQ(info.etag, fake.get("bucket/walk.mp4").etag);
  EXPECT_EQ(info.content_type, "video/mp4");
  EXPECT_EQ(info.version_id, "v-" + info.etag.substr(0, 6));
  EXPECT_EQ(info.last_modified, "Wed, 01 Nov 2023 10:00:00 GMT");
  EXPECT_EQ(info.metadata, (std::map<std::string, std::string>{{"dancer-id", "42"}}));

  const RecordedRequest request = fake.log.all().front();
  EXPECT_EQ(request.method, "HEAD");
  EXPECT_EQ(request.target, "/bucket/walk.mp4");
  EXPECT_EQ(request.header("x-amz-content-sha256"), sigv4::sha256_hex(""));
  const std::string authorization = request.header("authorization");
  EXPECT_NE(authorization.find("/us-east-1/s3/aws4_request"), std::string::npos) << authorization;
  EXPECT_NE(authorization.find("x-amz-content-sha256"), std::string::npos);
}

TEST_F(S3ClientTest, KeysWithSpacesUnicodeAndPlusRoundTrip) {
  auto s3 = client();
  const std::vector<std::pair<std::string, std::string>> keys = {
      {"my video 1.mp4", "/bucket/my%20video%201.mp4"},
      {"a+b.mp4", "/bucket/a%2Bb.mp4"},
      {"vid\xC3\xA9o/\xE3\x83\x95.mp4", "/bucket/vid%C3%A9o/%E3%83%95.mp4"},
      {"../up//x.mp4", "/bucket/../up//x.mp4"},
  };
  for (const auto& [key, wire_path] : keys) {
    s3.put_object_bytes("bucket", key, "content of " + key);
    EXPECT_EQ(fake.log.all().back().target, wire_path);
    expect_valid_s3_signature(fake.log.all().back());
    EXPECT_EQ(fake.get("bucket/" + key).data, "content of " + key);
    EXPECT_EQ(s3.head_object("bucket", key).size, ("content of " + key).size());
    const fs::path dest = dir / "out";
    s3.download_to_file("bucket", key, dest);
    EXPECT_EQ(testing::read_file(dest), "content of " + key);
  }
}

TEST_F(S3ClientTest, PutObjectSendsContentTypeMetadataAndPayloadHash) {
  const fs::path source = dir / "in.mp4";
  const std::string bytes = random_bytes(300 * 1024, 7);
  std::ofstream(source, std::ios::binary) << bytes;
  auto s3 = client();
  s3.put_object("bucket", "clips/in.mp4", source, "video/mp4", {{"owner", "ana"}});
  const RecordedRequest request = fake.log.all().back();
  EXPECT_EQ(request.method, "PUT");
  EXPECT_EQ(request.header("content-type"), "video/mp4");
  EXPECT_EQ(request.header("x-amz-meta-owner"), "ana");
  EXPECT_EQ(request.header("x-amz-content-sha256"), sigv4::sha256_hex(bytes));
  EXPECT_EQ(fake.get("bucket/clips/in.mp4").data, bytes);

  s3.put_object_bytes("bucket", "raw", "abc");
  EXPECT_EQ(fake.log.all().back().header("content-type"), "application/octet-stream");
}

TEST_F(S3ClientTest, LargeFileIsUploadedInParts) {
  const fs::path source = dir / "big.mp4";
  const std::string bytes = random_bytes((12 << 20) + 77, 12);
  std::ofstream(source, std::ios::binary) << bytes;
  S3Config multipart = config();
  multipart.multipart_threshold = 5 << 20;
  multipart.multipart_part_size = 5 << 20;
  auto s3 = client(multipart);
  s3.put_object("bucket", "big.mp4", source, "video/mp4", {{"owner", "ana"}});

  const FakeObject stored = fake.get("bucket/big.mp4");
  EXPECT_EQ(sigv4::sha256_hex(stored.data), sigv4::sha256_hex(bytes));
  EXPECT_EQ(stored.content_type, "video/mp4");
  EXPECT_EQ(stored.metadata.at("owner"), "ana");
  for (const auto& request : fake.log.all()) expect_valid_s3_signature(request);
  const auto parts = fake.log.with_method("PUT");
  ASSERT_EQ(parts.size(), 3u);
  for (std::size_t i = 0; i < parts.size(); ++i) {
    EXPECT_EQ(parts[i].header("x-amz-content-sha256"), sigv4::sha256_hex(parts[i].body));
    // The upload id contains '+', '/' and '=': they must arrive percent-encoded.
    EXPECT_NE(parts[i].target.find("uploadId=upload-1%2B%2F%3D"), std::string::npos)
        << parts[i].target;
  }
  EXPECT_EQ(parts[0].body.size(), 5u << 20);
  EXPECT_EQ(parts[2].body.size(), bytes.size() - (10u << 20));
  EXPECT_EQ(fake.log.with_method("POST").size(), 2u);  // create + complete
  EXPECT_TRUE(fake.log.with_method("DELETE").empty());
  // Downloading it back checks the multipart ETag path too.
  const fs::path dest = dir / "back.mp4";
  s3.download_to_file("bucket", "big.mp4", dest);
  EXPECT_EQ(file_sha256(dest), sigv4::sha256_hex(bytes));
}

TEST_F(S3ClientTest, FailedMultipartUploadIsAborted) {
  const fs::path source = dir / "big.mp4";
  std::ofstream(source, std::ios::binary) << random_bytes((6 << 20), 13);
  S3Config multipart = config();
  multipart.multipart_threshold = 5 << 20;
  auto s3 = client(multipart);
  fake.fail_part_uploads = true;
  EXPECT_EQ(expect_aws_error([&] { s3.put_object("bucket", "big.mp4", source); }).code(),
            ErrorCode::kAccessDenied);
  ASSERT_EQ(fake.log.with_method("DELETE").size(), 1u);
  EXPECT_NE(fake.log.with_method("DELETE")[0].target.find("uploadId="), std::string::npos);
  for (const auto& request : fake.log.all()) expect_valid_s3_signature(request);
}

TEST_F(S3ClientTest, CreateBucketIsIdempotentForOwnBuckets) {
  auto s3 = client();
  s3.create_bucket("fresh");
  s3.create_bucket("fresh");  // 409 BucketAlreadyOwnedByYou
  EXPECT_EQ(fake.log.size(), 2u);
  EXPECT_EQ(fake.log.all().back().target, "/fresh");
  const AwsError error = expect_aws_error([&] { s3.create_bucket("taken"); });
  EXPECT_EQ(error.aws_code(), "BucketAlreadyExists");
  EXPECT_EQ(error.code(), ErrorCode::kInvalidRequest);
}

TEST_F(S3ClientTest, MissingKeyIsNotFound) {
  auto s3 = client();
  EXPECT_EQ(expect_aws_error([&] { s3.head_object("bucket", "nope"); }).code(),
            ErrorCode::kNotFound);
  const fs::path dest = dir / "nope.mp4";
  EXPECT_EQ(expect_aws_error([&] { s3.download_to_file("bucket", "nope", dest); }).code(),
            ErrorCode::kNotFound);
  expect_no_files(dest);
}

TEST_F(S3ClientTest, HeadForbiddenIsAccessDeniedWithoutRetry) {
  fake.put("bucket/k", object_with("x"));
  fake.head_status = 403;
  auto s3 = client();
  EXPECT_EQ(expect_aws_error([&] { s3.head_object("bucket", "k"); }).code(),
            ErrorCode::kAccessDenied);
  EXPECT_EQ(fake.log.size(), 1u);
}

TEST_F(S3ClientTest, HeadServerErrorIsRetried) {
  fake.put("bucket/k", object_with("x"));
  fake.head_status = 500;
  auto s3 = client();
  EXPECT_EQ(expect_aws_error([&] { s3.head_object("bucket", "k"); }).code(),
            ErrorCode::kServiceUnavailable);
  EXPECT_EQ(fake.log.size(), static_cast<std::size_t>(config().retry.max_attempts));
}

TEST_F(S3ClientTest, DownloadWritesExactBytesWithIfMatch) {
  const std::string bytes = random_bytes(1 << 20, 1);
  fake.put("bucket/v.mp4", object_with(bytes));
  auto s3 = client();
  const fs::path dest = dir / "v.mp4";
  std::uint64_t last_progress = 0;
  DownloadOptions options;
  options.on_progress = [&](std::uint64_t so_far) { last_progress = so_far; };
  const ObjectInfo info = s3.download_to_file("bucket", "v.mp4", dest, options);
  EXPECT_EQ(info.size, bytes.size());
  EXPECT_EQ(file_sha256(dest), sigv4::sha256_hex(bytes));
  EXPECT_EQ(last_progress, bytes.size());
  EXPECT_FALSE(fs::exists(dest.string() + ".part"));
  const auto gets = fake.log.with_method("GET");
  ASSERT_EQ(gets.size(), 1u);
  EXPECT_EQ(gets[0].header("if-match"), "\"" + info.etag + "\"");
  EXPECT_EQ(gets[0].header("range"), "");
}

TEST_F(S3ClientTest, DroppedConnectionResumesWithRangeAndIfMatch) {
  const std::string bytes = random_bytes(3 << 20, 2);
  fake.put("bucket/v.mp4", object_with(bytes));
  fake.cut_after_bytes = 1 << 20;
  fake.responses_to_cut = 1;
  auto s3 = client();
  const fs::path dest = dir / "v.mp4";
  const ObjectInfo info = s3.download_to_file("bucket", "v.mp4", dest);
  EXPECT_EQ(file_sha256(dest), sigv4::sha256_hex(bytes));

  const auto gets = fake.log.with_method("GET");
  ASSERT_EQ(gets.size(), 2u);
  EXPECT_EQ(gets[0].header("range"), "");
  const std::string range = gets[1].header("range");
  ASSERT_EQ(range.rfind("bytes=", 0), 0u) << range;
  const std::uint64_t resumed_at = std::stoull(range.substr(6));
  EXPECT_GT(resumed_at, 0u);
  EXPECT_LE(resumed_at, 1u << 20);
  EXPECT_EQ(range, "bytes=" + std::to_string(resumed_at) + "-" + std::to_string(bytes.size() - 1));
  EXPECT_EQ(gets[1].header("if-match"), "\"" + info.etag + "\"");
}

TEST_F(S3ClientTest, StalledTransferIsResumedAfterLowSpeedTimeout) {
  const std::string bytes = random_bytes(1 << 20, 14);
  fake.put("bucket/v.mp4", object_with(bytes));
  fake.stall_after_bytes = 256 * 1024;
  S3Config impatient = config();
  impatient.low_speed_bytes = 1024;
  impatient.low_speed_time = std::chrono::seconds(1);
  auto s3 = client(impatient);
  const fs::path dest = dir / "v.mp4";
  s3.download_to_file("bucket", "v.mp4", dest);
  EXPECT_EQ(file_sha256(dest), sigv4::sha256_hex(bytes));
  const auto gets = fake.log.with_method("GET");
  ASSERT_EQ(gets.size(), 2u);
  EXPECT_EQ(gets[1].header("range").rfind("bytes=", 0), 0u);
  EXPECT_NE(gets[1].header("range"), "bytes=0-" + std::to_string(bytes.size() - 1))
      << "the bytes received before the stall are kept";
}

TEST_F(S3ClientTest, RepeatedDropsStillCompleteWhileBytesArrive) {
  const std::string bytes = random_bytes(2 << 20, 3);
  fake.put("bucket/v.mp4", object_with(bytes));
  fake.cut_after_bytes = 300 * 1024;
  fake.responses_to_cut = 100;  // more cuts than max_attempts: progress resets the count
  auto s3 = client();
  const fs::path dest = dir / "v.mp4";
  s3.download_to_file("bucket", "v.mp4", dest);
  EXPECT_EQ(file_sha256(dest), sigv4::sha256_hex(bytes));
  EXPECT_GE(fake.log.with_method("GET").size(), 7u);
}

TEST_F(S3ClientTest, ObjectReplacedMidDownloadIsPreconditionFailed) {
  fake.put("bucket/v.mp4", object_with(random_bytes(2 << 20, 4)));
  fake.cut_after_bytes = 512 * 1024;
  fake.responses_to_cut = 1;
  fake.after_cut = [this] { fake.put("bucket/v.mp4", object_with(random_bytes(2 << 20, 5))); };
  auto s3 = client();
  const fs::path dest = dir / "v.mp4";
  const AwsError error = expect_aws_error([&] { s3.download_to_file("bucket", "v.mp4", dest); });
  EXPECT_EQ(error.code(), ErrorCode::kPreconditionFailed) << error.what();
  EXPECT_EQ(error.http_status(), 412);
  expect_no_files(dest);
}

TEST_F(S3ClientTest, ExpectedEtagMismatchFailsBeforeDownloading) {
  fake.put("bucket/v.mp4", object_with("abc"));
  auto s3 = client();
  const fs::path dest = dir / "v.mp4";
  DownloadOptions options;
  options.expected_etag = "\"0123456789abcdef\"";
  EXPECT_EQ(expect_aws_error([&] { s3.download_to_file("bucket", "v.mp4", dest, options); }).code(),
            ErrorCode::kPreconditionFailed);
  EXPECT_TRUE(fake.log.with_method("GET").empty());
  expect_no_files(dest);

  options.expected_etag = "\"" + fake.get("bucket/v.mp4").etag + "\"";
  s3.download_to_file("bucket", "v.mp4", dest, options);
  EXPECT_EQ(testing::read_file(dest), "abc");
}

TEST_F(S3ClientTest, SizeDifferentFromHeadIsIntegrityError) {
  fake.put("bucket/v.mp4", object_with(random_bytes(100 * 1024, 6)));
  auto s3 = client();
  const fs::path dest = dir / "v.mp4";
  for (const std::int64_t delta : {10, -10}) {
    fake.head_size_delta = delta;
    const AwsError error = expect_aws_error([&] { s3.download_to_file("bucket", "v.mp4", dest); });
    EXPECT_EQ(error.code(), ErrorCode::kIntegrity) << "delta " << delta << ": " << error.what();
    expect_no_files(dest);
  }
}

TEST_F(S3ClientTest, TooLargeFailsBeforeAnyGet) {
  fake.put("bucket/v.mp4", object_with(std::string(5000, 'x')));
  auto s3 = client();
  const fs::path dest = dir / "v.mp4";
  DownloadOptions options;
  options.max_size = 4999;
  EXPECT_EQ(expect_aws_error([&] { s3.download_to_file("bucket", "v.mp4", dest, options); }).code(),
            ErrorCode::kTooLarge);
  EXPECT_TRUE(fake.log.with_method("GET").empty());
  expect_no_files(dest);
}

TEST_F(S3ClientTest, ThrottledGetIsRetried) {
  const std::string bytes = random_bytes(64 * 1024, 8);
  fake.put("bucket/v.mp4", object_with(bytes));
  fake.get_failures_503 = 2;
  auto s3 = client();
  const fs::path dest = dir / "v.mp4";
  s3.download_to_file("bucket", "v.mp4", dest);
  EXPECT_EQ(testing::read_file(dest), bytes);
  EXPECT_EQ(fake.log.with_method("GET").size(), 3u);
}

TEST_F(S3ClientTest, CancelledDownloadLeavesNoFile) {
  fake.put("bucket/v.mp4", object_with("abc"));
  auto s3 = client();
  const fs::path dest = dir / "v.mp4";
  std::atomic<bool> cancel{true};
  DownloadOptions options;
  options.cancel = &cancel;
  EXPECT_EQ(expect_aws_error([&] { s3.download_to_file("bucket", "v.mp4", dest, options); }).code(),
            ErrorCode::kCancelled);
  expect_no_files(dest);
}

TEST_F(S3ClientTest, CancelDuringTransferLeavesNoFile) {
  fake.put("bucket/v.mp4", object_with(random_bytes(4 << 20, 15)));
  auto s3 = client();
  const fs::path dest = dir / "v.mp4";
  std::atomic<bool> cancel{false};
  DownloadOptions options;
  options.cancel = &cancel;
  // Shutdown arrives once the first bytes are on disk.
  options.on_progress = [&](std::uint64_t) { cancel = true; };
  EXPECT_EQ(expect_aws_error([&] { s3.download_to_file("bucket", "v.mp4", dest, options); }).code(),
            ErrorCode::kCancelled);
  expect_no_files(dest);
  EXPECT_EQ(fake.log.with_method("GET").size(), 1u) << "a cancelled transfer is not resumed";
}

TEST_F(S3ClientTest, ParallelRangedPartsAssembleTheObject) {
  const std::string bytes = random_bytes((5 << 20) / 2 + 12345, 9);
  fake.put("bucket/v.mp4", object_with(bytes));
  fake.cut_after_bytes = 100 * 1024;
  fake.responses_to_cut = 2;  // two parts each lose their connection once
  S3Config parallel = config();
  parallel.part_size = 256 * 1024;
  parallel.parallel_parts = 3;
  auto s3 = client(parallel);
  const fs::path dest = dir / "v.mp4";
  std::atomic<std::uint64_t> last_progress{0};
  DownloadOptions options;
  options.on_progress = [&](std::uint64_t so_far) { last_progress = so_far; };
  s3.download_to_file("bucket", "v.mp4", dest, options);
  EXPECT_EQ(file_sha256(dest), sigv4::sha256_hex(bytes));
  EXPECT_EQ(last_progress.load(), bytes.size());
  const auto gets = fake.log.with_method("GET");
  const std::size_t parts = (bytes.size() + parallel.part_size - 1) / parallel.part_size;
  EXPECT_EQ(gets.size(), parts + 2);
  for (const auto& get : gets) EXPECT_EQ(get.header("range").rfind("bytes=", 0), 0u);
}

TEST_F(S3ClientTest, ParallelPartFailureRemovesPartFile) {
  fake.put("bucket/v.mp4", object_with(random_bytes(2 << 20, 10)));
  fake.cut_after_bytes = 50 * 1024;
  fake.responses_to_cut = 1;
  fake.after_cut = [this] { fake.put("bucket/v.mp4", object_with(random_bytes(2 << 20, 11))); };
  S3Config parallel = config();
  parallel.part_size = 256 * 1024;
  parallel.parallel_parts = 4;
  auto s3 = client(parallel);
  const fs::path dest = dir / "v.mp4";
  EXPECT_EQ(expect_aws_error([&] { s3.download_to_file("bucket", "v.mp4", dest); }).code(),
            ErrorCode::kPreconditionFailed);
  expect_no_files(dest);
}

long max_rss_kib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

TEST_F(S3ClientTest, LargeDownloadUsesConstantMemory) {
  constexpr std::uint64_t kSize = 256ull << 20;
  FakeObject object;
  object.generated = true;
  object.size = kSize;
  object.etag = "generated-256mib";
  fake.put("bucket/big.mp4", object);
  auto s3 = client();
  const fs::path dest = dir / "big.mp4";
  const long before = max_rss_kib();
  const ObjectInfo info = s3.download_to_file("bucket", "big.mp4", dest);
  const long growth_kib = max_rss_kib() - before;
  EXPECT_EQ(info.size, kSize);
  EXPECT_EQ(fs::file_size(dest), kSize);
  EXPECT_LT(growth_kib, 64 * 1024) << "peak RSS grew by " << growth_kib << " KiB";
  RecordProperty("peak_rss_growth_kib", std::to_string(growth_kib));
  std::cout << "peak RSS growth for a 256 MiB download: " << growth_kib << " KiB\n";
  // Spot-check content at a few offsets against the generator.
  std::ifstream in(dest, std::ios::binary);
  for (const std::uint64_t offset : std::vector<std::uint64_t>{0, 12345678, kSize - 1}) {
    in.seekg(static_cast<std::streamoff>(offset));
    char byte = 0;
    in.read(&byte, 1);
    EXPECT_EQ(byte, pattern_byte(offset)) << "offset " << offset;
  }
}

}  // namespace
}  // namespace dancer::aws

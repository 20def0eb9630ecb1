// S3Client against a real S3 implementation: the local emulator (fauxqs), or real AWS
// when DANCER_TEST_REAL_AWS=1 (then in DANCER_TEST_REAL_AWS_BUCKET, keys under a
// unique prefix).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <string>

#include "aws/error.h"
#include "aws/s3_client.h"
#include "aws/sigv4.h"
#include "support/aws_backend.h"
#include "support/test_support.h"

namespace dancer::aws {
namespace {

namespace fs = std::filesystem;
using testing::AwsBackend;

std::string random_bytes(std::size_t size, unsigned seed) {
  std::mt19937 generator(seed);
  std::string bytes(size, '\0');
  for (auto& byte : bytes) byte = static_cast<char>(generator());
  return bytes;
}

class S3Integration : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    backend = testing::aws_backend(GetParam());
    if (!backend) GTEST_SKIP();
    s3.emplace(backend->s3, backend->credentials);
    if (backend->create_bucket) s3->create_bucket(backend->bucket);
    prefix = testing::unique_name("objects") + "/";
  }

  // Uploads `bytes` under prefix + key through a file (put_object) and returns the key.
  std::string upload(const std::string& key, const std::string& bytes,
                     const std::string& content_type = "video/mp4") {
    const fs::path source = dir / "upload.bin";
    std::ofstream(source, std::ios::binary | std::ios::trunc) << bytes;
    s3->put_object(backend->bucket, prefix + key, source, content_type, {{"origin", "itest"}});
    return prefix + key;
  }

  std::optional<AwsBackend> backend;
  std::optional<S3Client> s3;
  std::string prefix;
  testing::TempDir dir;
};

TEST_P(S3Integration, CreateBucketTwiceSucceeds) {
  if (!backend->create_bucket) GTEST_SKIP() << "the real-aws bucket is given, not created";
  EXPECT_NO_THROW(s3->create_bucket(backend->bucket));
}

TEST_P(S3Integration, PutHeadAndDownloadSmallObject) {
  const std::string bytes = random_bytes(1024, 1);
  const std::string key = upload("small.mp4", bytes);
  const ObjectInfo head = s3->head_object(backend->bucket, key);
  EXPECT_EQ(head.size, bytes.size());
  EXPECT_EQ(head.content_type, "video/mp4");
  EXPECT_EQ(head.metadata.count("origin") == 1 ? head.metadata.at("origin") : "", "itest");
  EXPECT_FALSE(head.etag.empty());
  EXPECT_EQ(head.etag.find('"'), std::string::npos);

  const fs::path dest = dir / "small.mp4";
  DownloadOptions options;
  options.expected_etag = head.etag;
  const ObjectInfo downloaded = s3->download_to_file(backend->bucket, key, dest, options);
  EXPECT_EQ(downloaded.etag, head.etag);
  EXPECT_EQ(testing::read_file(dest), bytes);
  EXPECT_FALSE(fs::exists(dest.string() + ".part"));
}

TEST_P(S3Integration, DeleteObjectRemovesItAndSucceedsWhenThereIsNone) {
  const std::string key = upload("to-delete.html", "report", "text/html");
  ASSERT_NO_THROW(s3->head_object(backend->bucket, key));
  s3->delete_object(backend->bucket, key);
  try {
    s3->head_object(backend->bucket, key);
    ADD_FAILURE() << "still there";
  } catch (const AwsError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound) << e.what();
  }
  EXPECT_NO_THROW(s3->delete_object(backend->bucket, key));
  EXPECT_NO_THROW(s3->delete_object(backend->bucket, prefix + "never-existed"));
}

TEST_P(S3Integration, Download50MiBSingleStreamAndParallel) {
  const std::string bytes = random_bytes(50u << 20, 2);
  const std::string key = upload("large.mp4", bytes);
  const std::string expected_sha = sigv4::sha256_hex(bytes);

  const fs::path single = dir / "single.mp4";
  s3->download_to_file(backend->bucket, key, single);
  EXPECT_EQ(fs::file_size(single), bytes.size());
  EXPECT_EQ(sigv4::sha256_hex(testing::read_file(single)), expected_sha);

  S3Config parallel_config = backend->s3;
  parallel_config.part_size = 8u << 20;
  parallel_config.parallel_parts = 4;
  S3Client parallel(parallel_config, backend->credentials);
  const fs::path parts = dir / "parts.mp4";
  parallel.download_to_file(backend->bucket, key, parts);
  EXPECT_EQ(sigv4::sha256_hex(testing::read_file(parts)), expected_sha);
}

TEST_P(S3Integration, KeysWithSpacesUnicodeAndPlus) {
  for (const std::string name :
       {"my walk video.mp4", "vid\xC3\xA9o \xC3\xBC/\xE3\x83\x95.mp4", "a+b=c.mp4"}) {
    const std::string bytes = "content of " + name;
    const std::string key = upload(name, bytes);
    EXPECT_EQ(s3->head_object(backend->bucket, key).size, bytes.size()) << name;
    const fs::path dest = dir / "special.mp4";
    s3->download_to_file(backend->bucket, key, dest);
    EXPECT_EQ(testing::read_file(dest), bytes) << name;
  }
}

TEST_P(S3Integration, MissingKeyIsNotFound) {
  try {
    s3->head_object(backend->bucket, prefix + "absent.mp4");
    FAIL() << "expected AwsError";
  } catch (const AwsError& error) {
    EXPECT_EQ(error.code(), ErrorCode::kNotFound) << error.what();
  }
  const fs::path dest = dir / "absent.mp4";
  try {
    s3->download_to_file(backend->bucket, prefix + "absent.mp4", dest);
    FAIL() << "expected AwsError";
  } catch (const AwsError& error) {
    EXPECT_EQ(error.code(), ErrorCode::kNotFound) << error.what();
  }
  EXPECT_FALSE(fs::exists(dest));
  EXPECT_FALSE(fs::exists(dest.string() + ".part"));
}

TEST_P(S3Integration, StaleEtagIsPreconditionFailed) {
  const std::string key = upload("replaced.mp4", "first version");
  const std::string old_etag = s3->head_object(backend->bucket, key).etag;
  upload("replaced.mp4", "second version, longer");
  const fs::path dest = dir / "replaced.mp4";
  DownloadOptions options;
  options.expected_etag = old_etag;
  try {
    s3->download_to_file(backend->bucket, key, dest, options);
    FAIL() << "expected AwsError";
  } catch (const AwsError& error) {
    EXPECT_EQ(error.code(), ErrorCode::kPreconditionFailed) << error.what();
  }
  EXPECT_FALSE(fs::exists(dest));
  EXPECT_FALSE(fs::exists(dest.string() + ".part"));
}

INSTANTIATE_TEST_SUITE_P(Backends, S3Integration, ::testing::Values("emulator", "real-aws"),
                         [](const auto& param_info) {
                           return param_info.param == "emulator" ? std::string("emulator")
                                                                 : std::string("real_aws");
                         });

}  // namespace
}  // namespace dancer::aws

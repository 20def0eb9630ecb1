// Differential test: the same requests signed by sign_request and by botocore
// (SigV4Auth for SQS, S3SigV4Auth for S3, via botocore_sign.py) must carry identical
// Authorization, X-Amz-Date, X-Amz-Security-Token and x-amz-content-sha256 headers.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "aws/sigv4.h"
#include "aws/uri.h"
#include "common/strings.h"
#include "support/test_support.h"

namespace dancer::aws::sigv4 {
namespace {

struct Case {
  std::string name;
  std::string service;  // "sqs" or "s3"
  std::string method;
  std::string host;
  std::string path_or_key;  // SQS: wire path; S3: unencoded object key
  std::string query;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string token;
};

constexpr const char* kAccessKey = "AKIAIOSFODNN7EXAMPLE";
constexpr const char* kSecretKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
constexpr const char* kToken = "IQoJb3JpZ2luX2VjEXAMPLE//token+with/odd=chars==";
constexpr const char* kTimestamp = "20240506T070809Z";
constexpr const char* kSqsHost = "sqs.eu-west-1.amazonaws.com";
constexpr const char* kS3Host = "dancer-uploads.s3.eu-west-1.amazonaws.com";
// Spaces, UTF-8, '+', '~' and '/' (plus "//" and "./", which S3 must not normalise).
constexpr const char* kAwkwardKey = "videos/2024 05/dance+move~\xC3\xBC/\xE2\x9C\x93 clip (1).mp4";

std::vector<Case> cases() {
  const std::string receive =
      R"({"QueueUrl":"https://sqs.eu-west-1.amazonaws.com/123456789012/uploads",)"
      R"("MaxNumberOfMessages":10,"WaitTimeSeconds":20})";
  const std::string remove =
      R"({"QueueUrl":"https://sqs.eu-west-1.amazonaws.com/123456789012/uploads",)"
      R"("ReceiptHandle":"AQEB+abc/def=="})";
  auto json_headers = [](const std::string& target) {
    return std::vector<std::pair<std::string, std::string>>{
        {"Content-Type", "application/x-amz-json-1.0"}, {"X-Amz-Target", target}};
  };
  return {
      {"sqs_receive_json", "sqs", "POST", kSqsHost, "/", "",
       json_headers("AmazonSQS.ReceiveMessage"), receive, ""},
      {"sqs_delete_json_with_token", "sqs", "POST", kSqsHost, "/", "",
       json_headers("AmazonSQS.DeleteMessage"), remove, kToken},
      {"sqs_query_get_queue_url",
       "sqs",
       "GET",
       kSqsHost,
       "/123456789012/uploads",
       "Action=GetQueueUrl&QueueName=uploads&Version=2012-11-05",
       {},
       "",
       ""},
      {"s3_get_awkward_key", "s3", "GET", kS3Host, kAwkwardKey, "", {}, "", ""},
      {"s3_get_awkward_key_with_token",
       "s3",
       "GET",
       kS3Host,
       kAwkwardKey,
       "",
       {{"Range", "bytes=0-1023"}},
       "",
       kToken},
      {"s3_head_unnormalised_key", "s3", "HEAD", kS3Host, "raw//dots/./x..mp4", "", {}, "", ""},
      {"s3_put_body",
       "s3",
       "PUT",
       kS3Host,
       "results/a b+c.json",
       "",
       {{"Content-Type", "application/json"}},
       R"({"cadence":1.8})",
       ""},
      {"s3_put_body_with_token",
       "s3",
       "PUT",
       kS3Host,
       "results/a b+c.json",
       "",
       {{"Content-Type", "application/json"}, {"If-None-Match", "*"}},
       R"({"cadence":1.8})",
       kToken},
      {"s3_list_with_query",
       "s3",
       "GET",
       kS3Host,
       "",
       "list-type=2&prefix=videos%2F2024%2005%2F",
       {},
       "",
       ""},
  };
}

std::chrono::system_clock::time_point fixed_time() {
  std::tm tm{};
  strptime(kTimestamp, "%Y%m%dT%H%M%SZ", &tm);
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

std::map<std::string, std::string> lower_keys(
    const std::vector<std::pair<std::string, std::string>>& headers) {
  std::map<std::string, std::string> out;
  for (const auto& [name, value] : headers) {
    out[common::ascii_lower(name)] = value;
  }
  return out;
}

std::map<std::string, std::string> sign_with_dancer(const Case& c) {
  Request request;
  request.method = c.method;
  request.path =
      c.service == "s3" ? "/" + uri_encode(c.path_or_key, /*keep_slash=*/true) : c.path_or_key;
  request.query = c.query;
  request.headers.push_back({"host", c.host});
  for (const auto& [name, value] : c.headers) request.headers.push_back({name, value});
  request.payload_hash = sha256_hex(c.body);

  SigningParams params;
  params.credentials = {kAccessKey, kSecretKey, c.token, std::nullopt};
  params.region = "eu-west-1";
  params.service = c.service;
  params.time = fixed_time();
  const bool s3 = c.service == "s3";
  params.double_uri_encode = !s3;
  params.normalize_path = !s3;
  params.add_content_sha256_header = s3;

  std::vector<std::pair<std::string, std::string>> added;
  for (const Header& h : sign_request(request, params)) added.emplace_back(h.name, h.value);
  return lower_keys(added);
}

class BotocoreDifferential : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dancer::testing::TempDir dir;
    nlohmann::json input = nlohmann::json::array();
    for (const Case& c : cases()) {
      nlohmann::json entry = {
          {"name", c.name},           {"service", c.service}, {"region", "eu-west-1"},
          {"method", c.method},       {"host", c.host},       {"query", c.query},
          {"headers", c.headers},     {"body", c.body},       {"access_key", kAccessKey},
          {"secret_key", kSecretKey}, {"token", c.token},     {"timestamp", kTimestamp}};
      entry[c.service == "s3" ? "key" : "path"] = c.path_or_key;
      input.push_back(entry);
    }
    const auto input_path = dir / "cases.json";
    std::ofstream(input_path) << input.dump();
    const std::string script = std::string(DANCER_SOURCE_DIR) + "/src/aws/tests/botocore_sign.py";
    const auto result =
        dancer::testing::run_command("python3 " + dancer::testing::shell_quote(script) + " " +
                                     dancer::testing::shell_quote(input_path.string()));
    ASSERT_EQ(result.exit_code, 0) << "botocore_sign.py failed (is python3-botocore installed?)";
    for (const auto& signed_case : nlohmann::json::parse(result.output)) {
      botocore_headers_[signed_case.at("name").get<std::string>()] = lower_keys(
          signed_case.at("headers").get<std::vector<std::pair<std::string, std::string>>>());
    }
  }

  static std::map<std::string, std::map<std::string, std::string>> botocore_headers_;
};

std::map<std::string, std::map<std::string, std::string>> BotocoreDifferential::botocore_headers_;

TEST_F(BotocoreDifferential, EveryCaseWasSignedByBotocore) {
  EXPECT_EQ(botocore_headers_.size(), cases().size());
}

TEST_F(BotocoreDifferential, SameAuthorizationAndAddedHeaders) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    const auto found = botocore_headers_.find(c.name);
    ASSERT_NE(found, botocore_headers_.end());
    const auto& expected = found->second;
    ASSERT_TRUE(expected.count("authorization"));
    // Identical header sets (names and values), Authorization included.
    EXPECT_EQ(sign_with_dancer(c), expected);
  }
}

}  // namespace
}  // namespace dancer::aws::sigv4

#include "support/aws_backend.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <sstream>

#include "support/test_support.h"

extern char** environ;

namespace dancer::testing {
namespace {

std::string env_or(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::string(value) : fallback;
}

void record_skip(const std::string& why) {
  GTEST_MESSAGE_(why.c_str(), ::testing::TestPartResult::kSkip);
}

}  // namespace

std::string unique_name(const std::string& prefix) {
  std::random_device device;
  std::ostringstream name;
  name << "dancer-itest-" << prefix << "-" << std::hex << device() << device();
  return name.str();
}

std::optional<AwsBackend> aws_backend(const std::string& name) {
  AwsBackend backend;
  backend.name = name;
  for (auto* retry : {&backend.sqs.retry, &backend.s3.retry}) {
    retry->base_delay = std::chrono::milliseconds(50);
    retry->max_delay = std::chrono::milliseconds(1000);
  }
  if (name == "emulator") {
    const auto endpoint = integration_env("DANCER_TEST_AWS_ENDPOINT");
    if (!endpoint) return std::nullopt;
    backend.sqs.endpoint = *endpoint;
    backend.s3.endpoint = *endpoint;
    backend.s3.force_path_style = true;  // fauxqs serves S3 path-style only
    // fauxqs does not verify signatures, but the requests are signed all the same.
    backend.credentials = aws::make_static_provider({"test", "test", "", std::nullopt});
    backend.bucket = unique_name("bucket").substr(0, 63);
    backend.create_bucket = true;
    return backend;
  }
  if (env_or("DANCER_TEST_REAL_AWS", "") != "1") {
    record_skip(
        "real-aws backend: set DANCER_TEST_REAL_AWS=1, AWS credentials and "
        "DANCER_TEST_REAL_AWS_BUCKET (an existing bucket) to run against real AWS");
    return std::nullopt;
  }
  backend.bucket = env_or("DANCER_TEST_REAL_AWS_BUCKET", "");
  if (backend.bucket.empty()) {
    record_skip("real-aws backend: DANCER_TEST_REAL_AWS_BUCKET is not set");
    return std::nullopt;
  }
  const std::string region = env_or("AWS_REGION", env_or("AWS_DEFAULT_REGION", "us-east-1"));
  backend.sqs.region = region;
  backend.s3.region = region;
  aws::Environment environment;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string text(*entry);
    const auto equals = text.find('=');
    if (equals != std::string::npos) environment[text.substr(0, equals)] = text.substr(equals + 1);
  }
  backend.credentials = aws::make_default_credentials_chain(environment, region);
  return backend;
}

}  // namespace dancer::testing

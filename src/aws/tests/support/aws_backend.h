// Where the AWS integration tests run: the local emulator (DANCER_TEST_AWS_ENDPOINT,
// started by scripts/test.sh) or real AWS (DANCER_TEST_REAL_AWS=1 with credentials in
// the environment and DANCER_TEST_REAL_AWS_BUCKET).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "aws/credentials.h"
#include "aws/s3_client.h"
#include "aws/sqs_client.h"

namespace dancer::testing {

struct AwsBackend {
  std::string name;    // "emulator" or "real-aws"
  std::string bucket;  // for the emulator a fresh bucket the test creates
  bool create_bucket = false;
  aws::SqsConfig sqs;
  aws::S3Config s3;
  std::shared_ptr<aws::CredentialsProvider> credentials;
};

// The backend named `name`, or nullopt after recording why the test is skipped
// (call as: auto backend = aws_backend(GetParam()); if (!backend) return;).
std::optional<AwsBackend> aws_backend(const std::string& name);

// "dancer-itest-<prefix>-<random hex>": names that do not collide between runs.
std::string unique_name(const std::string& prefix);

}  // namespace dancer::testing

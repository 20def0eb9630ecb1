// AWS Signature Version 4, as pure functions: every input (clock, credentials, request)
// is an argument, every stage is callable on its own and tested byte for byte against
// the AWS SigV4 test suite. The signer only produces headers; the transport sends them.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "aws/credentials.h"

namespace dancer::aws::sigv4 {

struct Header {
  std::string name;
  std::string value;
};

struct Request {
  std::string method;           // "GET", "POST", ...
  std::string path;             // path as sent on the wire, percent-encoded ("/my%20key")
  std::string query;            // raw query string without '?', may be empty
  std::vector<Header> headers;  // must include "host"
  std::string payload_hash;     // lowercase hex SHA-256 of the body, or "UNSIGNED-PAYLOAD"
};

struct SigningParams {
  Credentials credentials;
  std::string region;   // "us-east-1"
  std::string service;  // "sqs", "s3", "sts"
  std::chrono::system_clock::time_point time;
  bool double_uri_encode = true;           // false for S3
  bool normalize_path = true;              // false for S3
  bool add_content_sha256_header = false;  // S3 requires x-amz-content-sha256
  bool omit_session_token = false;         // add X-Amz-Security-Token after signing
};

// Headers the transport must add to the request: X-Amz-Date, optionally
// X-Amz-Security-Token and x-amz-content-sha256, and Authorization.
std::vector<Header> sign_request(const Request& request, const SigningParams& params);

// Lowercase hex SHA-256 of data.
std::string sha256_hex(std::string_view data);

}  // namespace dancer::aws::sigv4

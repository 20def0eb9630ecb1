// Pieces shared by the SQS and S3 clients: endpoint parsing, SigV4 signing of an
// HttpRequest, and the retry loop for transient errors. Internal to src/aws.
#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <string_view>
#include <utility>

#include "aws/credentials.h"
#include "aws/error.h"
#include "aws/http_client.h"
#include "aws/retry.h"

namespace dancer::aws::detail {

struct Endpoint {
  std::string scheme;     // "https" or "http"
  std::string host;       // without port, lower-case
  std::string authority;  // host[:port], the port only when not the scheme's default
  std::string base_path;  // "" or "/prefix" (no trailing slash)

  std::string origin() const { return scheme + "://" + authority; }
};

// Parses "scheme://host[:port][/path]"; throws AwsError(kInvalidRequest) on anything else.
Endpoint parse_endpoint(std::string_view url);

// True for dotted IPv4 literals and bracketed IPv6 literals.
bool is_ip_literal(std::string_view host);

struct SigningTarget {
  std::string region;
  std::string service;
  bool s3 = false;  // S3: single URI encoding, no normalisation, x-amz-content-sha256
};

// Adds Host, X-Amz-Date, [X-Amz-Security-Token], [x-amz-content-sha256] and
// Authorization to `request`, signing every header already in it. `path` and `query`
// are the wire forms used in request.url.
void sign(HttpRequest& request, const std::string& authority, const std::string& path,
          const std::string& query, const std::string& payload_hash, const Credentials& credentials,
          const SigningTarget& target);

// Sleeps `delay`, waking early to throw AwsError(kCancelled) once *cancel is true.
void sleep_unless_cancelled(std::chrono::milliseconds delay, const std::atomic<bool>* cancel);

void log_retry(std::string_view what, const AwsError& error, int attempt_number,
               std::chrono::milliseconds delay);

// Calls attempt() until it returns, or throws a non-transient AwsError, or
// policy.max_attempts tries have been made; between tries sleeps backoff_delay
// (full jitter). `what` names the operation in log lines.
template <typename Attempt>
auto with_retries(const RetryPolicy& policy, const std::atomic<bool>* cancel, std::string_view what,
                  Attempt&& attempt) -> decltype(attempt()) {
  for (int attempt_number = 1;; ++attempt_number) {
    if (cancel != nullptr && cancel->load()) {
      throw AwsError(ErrorCode::kCancelled, std::string(what) + ": cancelled");
    }
    try {
      return attempt();
    } catch (const AwsError& error) {
      if (!error.transient() || attempt_number >= policy.max_attempts) throw;
      const auto delay = backoff_delay(policy, attempt_number);
      log_retry(what, error, attempt_number, delay);
      sleep_unless_cancelled(delay, cancel);
    }
  }
}

}  // namespace dancer::aws::detail

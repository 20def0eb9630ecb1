// Typed errors of the AWS layer. Callers decide retry / fail / delete from ErrorCode
// alone; the mapping from HTTP status and AWS error codes lives in one place
// (classify_aws_error in error.cpp).
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace dancer::aws {

// Each code says what to do next; classify_aws_error maps AWS error codes and statuses here.
enum class ErrorCode {
  kNetwork,               // connection refused/reset, DNS, TLS: transient
  kTimeout,               // request or connect timeout: transient
  kThrottled,             // 429, SlowDown, Throttling*, RequestLimitExceeded: transient
  kServiceUnavailable,    // 5xx, InternalError, ServiceUnavailable: transient
  kNotFound,              // NoSuchKey, NoSuchBucket, 404: permanent for the object
  kQueueDoesNotExist,     // NonExistentQueue / QueueDoesNotExist: configuration error
  kAccessDenied,          // 403, AccessDenied, SignatureDoesNotMatch, ExpiredToken...
  kPreconditionFailed,    // 412 (If-Match mismatch: the object changed under us)
  kReceiptHandleInvalid,  // ReceiptHandleIsInvalid, or InvalidParameterValue on a handle
  kInvalidRequest,        // other 4xx: our bug or bad input, permanent
  kIntegrity,             // downloaded size / ETag differ from what S3 announced: transient
  kLocalIo,               // writing the download failed (disk full, permissions)
  kTooLarge,              // object exceeds the configured size cap: permanent
  kCancelled,             // aborted by shutdown
  kCredentials,           // no credentials could be resolved
  kUnknown,
};

std::string_view to_string(ErrorCode code);

// True for codes where repeating the same request later may succeed.
bool is_transient(ErrorCode code);

class AwsError : public std::runtime_error {
 public:
  AwsError(ErrorCode code, std::string message, long http_status = 0, std::string aws_code = {},
           std::string request_id = {});

  ErrorCode code() const noexcept { return code_; }
  long http_status() const noexcept { return http_status_; }
  const std::string& aws_code() const noexcept { return aws_code_; }
  const std::string& request_id() const noexcept { return request_id_; }
  bool transient() const noexcept { return is_transient(code_); }

 private:
  ErrorCode code_;
  long http_status_;
  std::string aws_code_;
  std::string request_id_;
};

// The single mapping from an AWS error response (HTTP status plus the service's
// error code, e.g. "SlowDown", "AWS.SimpleQueueService.NonExistentQueue",
// "com.amazonaws.sqs#QueueDoesNotExist") to ErrorCode.
ErrorCode classify_aws_error(long http_status, std::string_view aws_code);

// As above, but also reads the error message: SQS answers an expired or foreign receipt
// handle with the generic "InvalidParameterValue", distinguishable only by its message
// ("... for parameter ReceiptHandle is invalid ..."), which then maps to kReceiptHandleInvalid.
ErrorCode classify_aws_error(long http_status, std::string_view aws_code, std::string_view message);

}  // namespace dancer::aws

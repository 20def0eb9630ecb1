#include "aws/error.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <utility>

#include "common/strings.h"

namespace dancer::aws {
namespace {

// AWS error codes, after removing the "namespace#" prefix of JSON protocols and the
// ";Sender" suffix of the x-amzn-query-error header. Codes are matched exactly
// (they are case-sensitive in every AWS protocol).
constexpr std::array<std::pair<std::string_view, ErrorCode>, 43> kCodeTable{{
    // SQS
    {"QueueDoesNotExist", ErrorCode::kQueueDoesNotExist},
    {"AWS.SimpleQueueService.NonExistentQueue", ErrorCode::kQueueDoesNotExist},
    {"ReceiptHandleIsInvalid", ErrorCode::kReceiptHandleInvalid},
    {"InvalidParameterValue", ErrorCode::kInvalidRequest},
    // Throttling in its many spellings; SQS "OverLimit" (too many in-flight messages)
    // and KMS throttling behind SSE-KMS queues clear up by waiting, like a 429.
    {"ThrottlingException", ErrorCode::kThrottled},
    {"Throttling", ErrorCode::kThrottled},
    {"ThrottledException", ErrorCode::kThrottled},
    {"RequestThrottled", ErrorCode::kThrottled},
    {"RequestThrottledException", ErrorCode::kThrottled},
    {"TooManyRequestsException", ErrorCode::kThrottled},
    {"RequestLimitExceeded", ErrorCode::kThrottled},
    {"KmsThrottled", ErrorCode::kThrottled},
    {"KMS.ThrottlingException", ErrorCode::kThrottled},
    {"OverLimit", ErrorCode::kThrottled},
    {"SlowDown", ErrorCode::kThrottled},
    {"BandwidthLimitExceeded", ErrorCode::kThrottled},
    // Server side
    {"ServiceUnavailable", ErrorCode::kServiceUnavailable},
    {"ServiceUnavailableException", ErrorCode::kServiceUnavailable},
    {"InternalFailure", ErrorCode::kServiceUnavailable},
    {"InternalError", ErrorCode::kServiceUnavailable},
    {"InternalServerError", ErrorCode::kServiceUnavailable},
    // S3 "RequestTimeout" (400): the socket was idle too long; resending works.
    {"RequestTimeout", ErrorCode::kTimeout},
    {"RequestTimeoutException", ErrorCode::kTimeout},
    // S3 uploads (400s that are not our request's fault): the body arrived short ("did not
    // provide the number of bytes specified by the Content-Length"), or changed in transit
    // (its digest does not match); sending it again works.
    {"IncompleteBody", ErrorCode::kNetwork},
    {"BadDigest", ErrorCode::kIntegrity},
    {"XAmzContentSHA256Mismatch", ErrorCode::kIntegrity},
    // S3 409 "A conflicting conditional operation is currently in progress against this
    // resource. Try again."
    {"OperationAborted", ErrorCode::kThrottled},
    // Authentication / authorisation
    {"AccessDenied", ErrorCode::kAccessDenied},
    {"AccessDeniedException", ErrorCode::kAccessDenied},
    {"InvalidClientTokenId", ErrorCode::kAccessDenied},
    {"InvalidAccessKeyId", ErrorCode::kAccessDenied},
    {"UnrecognizedClientException", ErrorCode::kAccessDenied},
    {"ExpiredToken", ErrorCode::kAccessDenied},
    {"ExpiredTokenException", ErrorCode::kAccessDenied},
    {"InvalidToken", ErrorCode::kAccessDenied},
    {"SignatureDoesNotMatch", ErrorCode::kAccessDenied},
    {"RequestExpired", ErrorCode::kAccessDenied},
    {"RequestTimeTooSkewed", ErrorCode::kAccessDenied},
    // S3 objects
    {"NoSuchKey", ErrorCode::kNotFound},
    {"NoSuchBucket", ErrorCode::kNotFound},
    {"NotFound", ErrorCode::kNotFound},
    {"PreconditionFailed", ErrorCode::kPreconditionFailed},
    {"InvalidRange", ErrorCode::kInvalidRequest},
}};

std::string_view bare_code(std::string_view code) {
  // "com.amazonaws.sqs#QueueDoesNotExist" (awsJson) -> "QueueDoesNotExist".
  if (const auto hash = code.rfind('#'); hash != std::string_view::npos) {
    code.remove_prefix(hash + 1);
  }
  // x-amzn-query-error: "AWS.SimpleQueueService.NonExistentQueue;Sender".
  if (const auto semicolon = code.find(';'); semicolon != std::string_view::npos) {
    code = code.substr(0, semicolon);
  }
  while (!code.empty() && std::isspace(static_cast<unsigned char>(code.front()))) {
    code.remove_prefix(1);
  }
  while (!code.empty() && std::isspace(static_cast<unsigned char>(code.back()))) {
    code.remove_suffix(1);
  }
  return code;
}

ErrorCode classify_status(long http_status) {
  if (http_status == 404) return ErrorCode::kNotFound;
  if (http_status == 401 || http_status == 403) return ErrorCode::kAccessDenied;
  if (http_status == 408) return ErrorCode::kTimeout;
  if (http_status == 412) return ErrorCode::kPreconditionFailed;
  if (http_status == 429) return ErrorCode::kThrottled;
  if (http_status >= 500 && http_status <= 599) return ErrorCode::kServiceUnavailable;
  if (http_status >= 400 && http_status <= 499) return ErrorCode::kInvalidRequest;
  return ErrorCode::kUnknown;
}

bool mentions_receipt_handle(std::string_view message) {
  std::string lowered = common::ascii_lower(message);
  std::erase(lowered, ' ');
  return lowered.find("receipthandle") != std::string::npos;
}

}  // namespace

std::string_view to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::kNetwork:
      return "network";
    case ErrorCode::kTimeout:
      return "timeout";
    case ErrorCode::kThrottled:
      return "throttled";
    case ErrorCode::kServiceUnavailable:
      return "service_unavailable";
    case ErrorCode::kNotFound:
      return "not_found";
    case ErrorCode::kQueueDoesNotExist:
      return "queue_does_not_exist";
    case ErrorCode::kAccessDenied:
      return "access_denied";
    case ErrorCode::kPreconditionFailed:
      return "precondition_failed";
    case ErrorCode::kReceiptHandleInvalid:
      return "receipt_handle_invalid";
    case ErrorCode::kInvalidRequest:
      return "invalid_request";
    case ErrorCode::kIntegrity:
      return "integrity";
    case ErrorCode::kLocalIo:
      return "local_io";
    case ErrorCode::kTooLarge:
      return "too_large";
    case ErrorCode::kCancelled:
      return "cancelled";
    case ErrorCode::kCredentials:
      return "credentials";
    case ErrorCode::kUnknown:
      return "unknown";
  }
  return "unknown";
}

bool is_transient(ErrorCode code) {
  switch (code) {
    case ErrorCode::kNetwork:
    case ErrorCode::kTimeout:
    case ErrorCode::kThrottled:
    case ErrorCode::kServiceUnavailable:
    case ErrorCode::kIntegrity:
      return true;
    default:
      return false;
  }
}

AwsError::AwsError(ErrorCode code, std::string message, long http_status, std::string aws_code,
                   std::string request_id)
    : std::runtime_error(std::string(to_string(code)) + ": " + message),
      code_(code),
      http_status_(http_status),
      aws_code_(std::move(aws_code)),
      request_id_(std::move(request_id)) {}

ErrorCode classify_aws_error(long http_status, std::string_view aws_code) {
  const std::string_view code = bare_code(aws_code);
  for (const auto& [name, mapped] : kCodeTable) {
    if (name == code) return mapped;
  }
  return classify_status(http_status);
}

ErrorCode classify_aws_error(long http_status, std::string_view aws_code,
                             std::string_view message) {
  const ErrorCode code = classify_aws_error(http_status, aws_code);
  if (bare_code(aws_code) == "InvalidParameterValue" && mentions_receipt_handle(message)) {
    return ErrorCode::kReceiptHandleInvalid;
  }
  return code;
}

}  // namespace dancer::aws

#include "aws/error.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace dancer::aws {
namespace {

struct Row {
  long status;
  std::string code;
  ErrorCode expected;
};

void PrintTo(const Row& row, std::ostream* os) { *os << row.status << " '" << row.code << "'"; }

class ClassifyAwsError : public ::testing::TestWithParam<Row> {};

TEST_P(ClassifyAwsError, MapsToExpectedCode) {
  const Row& row = GetParam();
  EXPECT_EQ(classify_aws_error(row.status, row.code), row.expected)
      << "got " << to_string(classify_aws_error(row.status, row.code)) << ", want "
      << to_string(row.expected);
}

// Statuses are those the services actually send with each code.
INSTANTIATE_TEST_SUITE_P(
    SqsCodes, ClassifyAwsError,
    ::testing::Values(
        Row{400, "com.amazonaws.sqs#QueueDoesNotExist", ErrorCode::kQueueDoesNotExist},
        Row{400, "AWS.SimpleQueueService.NonExistentQueue", ErrorCode::kQueueDoesNotExist},
        Row{400, "AWS.SimpleQueueService.NonExistentQueue;Sender", ErrorCode::kQueueDoesNotExist},
        Row{404, "ReceiptHandleIsInvalid", ErrorCode::kReceiptHandleInvalid},
        Row{400, "com.amazonaws.sqs#ReceiptHandleIsInvalid", ErrorCode::kReceiptHandleInvalid},
        Row{400, "InvalidParameterValue", ErrorCode::kInvalidRequest},
        Row{400, "ThrottlingException", ErrorCode::kThrottled},
        Row{400, "com.amazonaws.sqs#RequestThrottled", ErrorCode::kThrottled},
        Row{400, "KmsThrottled", ErrorCode::kThrottled},
        Row{403, "OverLimit", ErrorCode::kThrottled},
        Row{403, "OverLimit;Sender", ErrorCode::kThrottled},
        Row{503, "ServiceUnavailable", ErrorCode::kServiceUnavailable},
        Row{500, "InternalFailure", ErrorCode::kServiceUnavailable},
        Row{500, "InternalFailure;Receiver", ErrorCode::kServiceUnavailable},
        Row{400, "AccessDeniedException", ErrorCode::kAccessDenied},
        Row{400, "com.amazonaws.sqs#AccessDeniedException", ErrorCode::kAccessDenied},
        Row{403, "InvalidClientTokenId", ErrorCode::kAccessDenied},
        Row{400, "ExpiredToken", ErrorCode::kAccessDenied},
        Row{403, "SignatureDoesNotMatch", ErrorCode::kAccessDenied}));

INSTANTIATE_TEST_SUITE_P(
    S3Codes, ClassifyAwsError,
    ::testing::Values(Row{404, "NoSuchKey", ErrorCode::kNotFound},
                      Row{404, "NoSuchBucket", ErrorCode::kNotFound},
                      Row{503, "SlowDown", ErrorCode::kThrottled},
                      Row{500, "InternalError", ErrorCode::kServiceUnavailable},
                      Row{503, "ServiceUnavailable", ErrorCode::kServiceUnavailable},
                      Row{403, "AccessDenied", ErrorCode::kAccessDenied},
                      Row{403, "InvalidAccessKeyId", ErrorCode::kAccessDenied},
                      Row{412, "PreconditionFailed", ErrorCode::kPreconditionFailed},
                      Row{416, "InvalidRange", ErrorCode::kInvalidRequest},
                      Row{400, "RequestTimeout", ErrorCode::kTimeout},
                      Row{400, "IncompleteBody", ErrorCode::kNetwork},
                      Row{400, "BadDigest", ErrorCode::kIntegrity},
                      Row{400, "XAmzContentSHA256Mismatch", ErrorCode::kIntegrity},
                      Row{409, "OperationAborted", ErrorCode::kThrottled},
                      Row{400, "ExpiredToken", ErrorCode::kAccessDenied}));

INSTANTIATE_TEST_SUITE_P(
    PlainStatuses, ClassifyAwsError,
    ::testing::Values(
        Row{404, "", ErrorCode::kNotFound}, Row{403, "", ErrorCode::kAccessDenied},
        Row{412, "", ErrorCode::kPreconditionFailed}, Row{429, "", ErrorCode::kThrottled},
        Row{500, "", ErrorCode::kServiceUnavailable}, Row{502, "", ErrorCode::kServiceUnavailable},
        Row{503, "", ErrorCode::kServiceUnavailable}, Row{504, "", ErrorCode::kServiceUnavailable},
        Row{400, "", ErrorCode::kInvalidRequest}, Row{409, "", ErrorCode::kInvalidRequest},
        Row{405, "SomethingNew", ErrorCode::kInvalidRequest},
        Row{503, "UnheardOfCode", ErrorCode::kServiceUnavailable},
        Row{200, "", ErrorCode::kUnknown}, Row{0, "", ErrorCode::kUnknown}));

TEST(ClassifyAwsErrorWithMessage, InvalidParameterValueAboutAReceiptHandleIsHandleInvalid) {
  // SQS's answer to DeleteMessage with an expired receipt handle.
  EXPECT_EQ(classify_aws_error(400, "InvalidParameterValue",
                               "Value AQEB... for parameter ReceiptHandle is invalid. Reason: "
                               "The receipt handle has expired."),
            ErrorCode::kReceiptHandleInvalid);
  EXPECT_EQ(classify_aws_error(400, "com.amazonaws.sqs#InvalidParameterValue",
                               "The receipt handle has expired."),
            ErrorCode::kReceiptHandleInvalid);
  EXPECT_EQ(classify_aws_error(400, "InvalidParameterValue",
                               "Value 30 for parameter WaitTimeSeconds is invalid."),
            ErrorCode::kInvalidRequest);
  // The message never overrides a specific code.
  EXPECT_EQ(classify_aws_error(403, "AccessDenied", "receipt handle"), ErrorCode::kAccessDenied);
}

TEST(ErrorCode, TransientCodesAreExactlyTheRetryableOnes) {
  for (ErrorCode code : {ErrorCode::kNetwork, ErrorCode::kTimeout, ErrorCode::kThrottled,
                         ErrorCode::kServiceUnavailable, ErrorCode::kIntegrity}) {
    EXPECT_TRUE(is_transient(code)) << to_string(code);
  }
  for (ErrorCode code :
       {ErrorCode::kNotFound, ErrorCode::kQueueDoesNotExist, ErrorCode::kAccessDenied,
        ErrorCode::kPreconditionFailed, ErrorCode::kReceiptHandleInvalid,
        ErrorCode::kInvalidRequest, ErrorCode::kLocalIo, ErrorCode::kTooLarge,
        ErrorCode::kCancelled, ErrorCode::kCredentials, ErrorCode::kUnknown}) {
    EXPECT_FALSE(is_transient(code)) << to_string(code);
  }
}

TEST(ErrorCode, NamesAreDistinct) {
  std::set<std::string_view> names;
  for (int i = 0; i <= static_cast<int>(ErrorCode::kUnknown); ++i) {
    names.insert(to_string(static_cast<ErrorCode>(i)));
  }
  EXPECT_EQ(names.size(), static_cast<std::size_t>(ErrorCode::kUnknown) + 1);
}

TEST(AwsError, CarriesItsFields) {
  const AwsError error(ErrorCode::kThrottled, "SendMessage", 503, "SlowDown", "REQ-1");
  EXPECT_EQ(error.code(), ErrorCode::kThrottled);
  EXPECT_EQ(error.http_status(), 503);
  EXPECT_EQ(error.aws_code(), "SlowDown");
  EXPECT_EQ(error.request_id(), "REQ-1");
  EXPECT_TRUE(error.transient());
  EXPECT_NE(std::string(error.what()).find("SendMessage"), std::string::npos);
  EXPECT_NE(std::string(error.what()).find("throttled"), std::string::npos);
}

}  // namespace
}  // namespace dancer::aws

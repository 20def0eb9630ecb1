#include "service/processor.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "analysis/analyzer.h"
#include "aws/error.h"
#include "media/metadata.h"
#include "support/test_support.h"

namespace dancer::service {
namespace {

ClassifiedFailure classify(const std::function<void()>& thrower) {
  try {
    thrower();
  } catch (...) {
    return classify_current_exception();
  }
  ADD_FAILURE() << "nothing thrown";
  return {FailureClass::kTransient, ""};
}

TEST(FailureClassificationTest, FollowsTheErrorCodeNotTheMessage) {
  using aws::AwsError;
  using aws::ErrorCode;
  EXPECT_EQ(classify([] { throw AwsError(ErrorCode::kThrottled, "x"); }).kind,
            FailureClass::kTransient);
  EXPECT_EQ(classify([] { throw AwsError(ErrorCode::kServiceUnavailable, "x"); }).kind,
            FailureClass::kTransient);
  EXPECT_EQ(classify([] { throw AwsError(ErrorCode::kNetwork, "x"); }).kind,
            FailureClass::kTransient);
  // The download could not be written: transient (the processor tells a full disk apart).
  EXPECT_EQ(classify([] { throw AwsError(ErrorCode::kLocalIo, "disk full"); }).kind,
            FailureClass::kTransient);
  EXPECT_EQ(classify([] { throw AwsError(ErrorCode::kNotFound, "transient words"); }).kind,
            FailureClass::kPermanent);
  EXPECT_EQ(classify([] { throw AwsError(ErrorCode::kTooLarge, "x"); }).kind,
            FailureClass::kPermanent);
  EXPECT_EQ(classify([] { throw AwsError(ErrorCode::kPreconditionFailed, "x"); }).kind,
            FailureClass::kPermanent);
  EXPECT_EQ(classify([] { throw AwsError(ErrorCode::kCancelled, "x"); }).kind,
            FailureClass::kCancelled);
  EXPECT_EQ(classify([] {
              throw store::StoreError(store::StoreErrorCode::kBusy, "database is locked");
            }).kind,
            FailureClass::kTransient);
  EXPECT_EQ(classify([] {
              throw media::MediaError(media::MediaErrorCode::kInvalidData, "moov atom not found");
            }).kind,
            FailureClass::kPermanent);
  EXPECT_EQ(classify([] {
              throw analysis::AnalysisError(analysis::AnalysisErrorCode::kTimeout, "hung");
            }).kind,
            FailureClass::kPermanent);
  EXPECT_EQ(classify([] {
              throw analysis::AnalysisError(analysis::AnalysisErrorCode::kCrashed, "SIGSEGV");
            }).kind,
            FailureClass::kPermanent);
  EXPECT_EQ(classify([] { throw std::runtime_error("who knows"); }).kind, FailureClass::kTransient);
  EXPECT_NE(
      classify([] { throw AwsError(ErrorCode::kNotFound, "NoSuchKey"); }).reason.find("NoSuchKey"),
      std::string::npos);
}

TEST(RetryDelayTest, DoublesPerDeliveryAndIsCapped) {
  QueueSettings q;
  q.retry_base_delay_seconds = 10;
  q.retry_max_delay_seconds = 900;
  EXPECT_EQ(retry_delay_seconds(q, 0), 10);
  EXPECT_EQ(retry_delay_seconds(q, 1), 10);
  EXPECT_EQ(retry_delay_seconds(q, 2), 20);
  EXPECT_EQ(retry_delay_seconds(q, 4), 80);
  EXPECT_EQ(retry_delay_seconds(q, 10), 900);
  EXPECT_EQ(retry_delay_seconds(q, 1000), 900);
  q.retry_max_delay_seconds = 100000;
  EXPECT_EQ(retry_delay_seconds(q, 30), 43200);  // SQS visibility ceiling
}

TEST(LocalFileNameTest, NeverContainsPathComponentsOfTheKey) {
  for (const std::string key :
       {"uploads/../../etc/passwd", "uploads/a b/c.MP4", "/abs/x.mov", "uploads/..",
        "uploads/x.mp4/../../y", "uploads/evil.$(rm)", "uploads/\xE2\x9C\x93.webm"}) {
    const std::string name = local_file_name(42, key);
    EXPECT_EQ(name.find('/'), std::string::npos) << key;
    EXPECT_EQ(name.find(".."), std::string::npos) << key;
    EXPECT_EQ(name.rfind("job-42-", 0), 0u) << key;
    for (char c : name)
      EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.') << key;
  }
  EXPECT_EQ(local_file_name(1, "uploads/a b/c.MP4")
                .substr(local_file_name(1, "uploads/a b/c.MP4").size() - 4),
            ".MP4");
  EXPECT_NE(local_file_name(1, "uploads/a.mp4"), local_file_name(1, "uploads/b.mp4"));
}

}  // namespace
}  // namespace dancer::service

// SqsClient against a real SQS implementation: the local emulator (fauxqs), or real
// AWS when DANCER_TEST_REAL_AWS=1. Each test works on its own fresh queue.
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>

#include "aws/error.h"
#include "aws/sqs_client.h"
#include "support/aws_backend.h"

namespace dancer::aws {
namespace {

using testing::AwsBackend;

class SqsIntegration : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    backend = testing::aws_backend(GetParam());
    if (!backend) GTEST_SKIP();
    sqs.emplace(backend->sqs, backend->credentials);
    queue_name = testing::unique_name("queue");
    queue_url = sqs->create_queue(queue_name);
    ASSERT_FALSE(queue_url.empty());
  }
  void TearDown() override {
    if (sqs && !queue_url.empty()) {
      try {
        sqs->delete_queue(queue_url);
      } catch (const AwsError& error) {
        ADD_FAILURE() << "cleanup: " << error.what();
      }
    }
  }

  // Receives until a message arrives (long polls of up to 5 s, a few times): SQS is
  // distributed, an empty answer does not prove the queue is empty.
  std::optional<SqsMessage> receive_one(int visibility_timeout_seconds) {
    for (int attempt = 0; attempt < 4; ++attempt) {
      auto messages = sqs->receive_messages(queue_url, 1, 5, visibility_timeout_seconds);
      if (!messages.empty()) return messages.front();
    }
    return std::nullopt;
  }

  std::optional<AwsBackend> backend;
  std::optional<SqsClient> sqs;
  std::string queue_name;
  std::string queue_url;
};

TEST_P(SqsIntegration, GetQueueUrlFindsTheCreatedQueue) {
  EXPECT_EQ(sqs->get_queue_url(queue_name), queue_url);
  // CreateQueue with the same name and attributes returns the existing queue.
  EXPECT_EQ(sqs->create_queue(queue_name), queue_url);
}

TEST_P(SqsIntegration, MissingQueueIsQueueDoesNotExist) {
  try {
    sqs->get_queue_url(testing::unique_name("absent"));
    FAIL() << "expected AwsError";
  } catch (const AwsError& error) {
    EXPECT_EQ(error.code(), ErrorCode::kQueueDoesNotExist) << error.what();
  }
}

TEST_P(SqsIntegration, LongPollOnEmptyQueueReturnsNothing) {
  EXPECT_TRUE(sqs->receive_messages(queue_url, 10, 1, 30).empty());
}

TEST_P(SqsIntegration, SendReceiveDelete) {
  const std::string body = R"({"Records":[{"s3":{"object":{"key":"walk 1.mp4"}}}]})";
  const std::string message_id = sqs->send_message(queue_url, body);
  EXPECT_FALSE(message_id.empty());

  const auto message = receive_one(30);
  ASSERT_TRUE(message.has_value());
  EXPECT_EQ(message->message_id, message_id);
  EXPECT_EQ(message->body, body);
  EXPECT_FALSE(message->receipt_handle.empty());
  EXPECT_EQ(message->approximate_receive_count, 1);
  EXPECT_TRUE(message->attributes.count("SentTimestamp") == 1) << "system attributes requested";

  sqs->delete_message(queue_url, message->receipt_handle);
  // Made visible again at once, a deleted message must still not come back.
  EXPECT_TRUE(sqs->receive_messages(queue_url, 10, 1, 30).empty());
}

TEST_P(SqsIntegration, VisibilityZeroRedeliversWithHigherReceiveCount) {
  const std::string message_id = sqs->send_message(queue_url, "redeliver me");
  const auto first = receive_one(60);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->approximate_receive_count, 1);
  // Hidden for 60 s: not delivered again yet.
  EXPECT_TRUE(sqs->receive_messages(queue_url, 10, 1, 60).empty());

  sqs->change_message_visibility(queue_url, first->receipt_handle, 0);
  const auto second = receive_one(60);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->message_id, message_id);
  EXPECT_EQ(second->approximate_receive_count, 2);
  sqs->delete_message(queue_url, second->receipt_handle);
}

TEST_P(SqsIntegration, QueueAttributesCountMessages) {
  sqs->send_message(queue_url, "one");
  sqs->send_message(queue_url, "two");
  // The count is approximate on real SQS; poll a little before judging it.
  std::string visible;
  for (int attempt = 0; attempt < 10; ++attempt) {
    const auto attributes = sqs->get_queue_attributes(queue_url, {"ApproximateNumberOfMessages"});
    visible = attributes.count("ApproximateNumberOfMessages") != 0
                  ? attributes.at("ApproximateNumberOfMessages")
                  : "";
    if (visible == "2") break;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  EXPECT_EQ(visible, "2");
}

INSTANTIATE_TEST_SUITE_P(Backends, SqsIntegration, ::testing::Values("emulator", "real-aws"),
                         [](const auto& param_info) {
                           return param_info.param == "emulator" ? std::string("emulator")
                                                                 : std::string("real_aws");
                         });

}  // namespace
}  // namespace dancer::aws

// SqsClient against an in-process fake speaking the SQS JSON protocol on 127.0.0.1.
#include "aws/sqs_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "aws/error.h"
#include "support/expect_aws_error.h"
#include "support/local_http_server.h"

namespace dancer::aws {
namespace {

using nlohmann::json;
using testing::expect_aws_error;
using testing::LocalHttpServer;
using testing::RecordedRequest;
using testing::RequestLog;

using Responder = std::function<void(const json& input, httplib::Response&)>;

void reply_json(httplib::Response& response, int status, const json& body) {
  response.status = status;
  response.set_content(body.dump(), "application/x-amz-json-1.0");
}

void reply_error(httplib::Response& response, int status, const std::string& type,
                 const std::string& message, const std::string& query_code = {}) {
  if (!query_code.empty()) response.set_header("x-amzn-query-error", query_code + ";Sender");
  response.set_header("x-amzn-RequestId", "req-123");
  reply_json(response, status, {{"__type", type}, {"message", message}});
}

// A fake SQS endpoint: every action is POSTed to "/" and answered by `responder`.
class FakeSqs {
 public:
  FakeSqs() {
    http_.server().Post("/", [this](const httplib::Request& request, httplib::Response& response) {
      log.add(request);
      Responder current;
      {
        std::lock_guard lock(mutex_);
        current = responder_;
      }
      current(json::parse(request.body), response);
    });
    http_.start();
  }
  void respond(Responder responder) {
    std::lock_guard lock(mutex_);
    responder_ = std::move(responder);
  }
  std::string endpoint() const { return http_.endpoint(); }
  RequestLog log;

 private:
  std::mutex mutex_;
  Responder responder_ = [](const json&, httplib::Response& response) {
    reply_json(response, 200, json::object());
  };
  LocalHttpServer http_;
};

class SqsClientTest : public ::testing::Test {
 protected:
  SqsConfig config() const {
    SqsConfig config;
    config.region = "eu-west-1";
    config.endpoint = fake.endpoint();
    config.retry.max_attempts = 4;
    config.retry.base_delay = std::chrono::milliseconds(1);
    config.retry.max_delay = std::chrono::milliseconds(5);
    return config;
  }
  SqsClient client(Credentials credentials = {"AKIDEXAMPLE", "secret", "", std::nullopt}) const {
    return SqsClient(config(), make_static_provider(credentials));
  }

  FakeSqs fake;
  const std::string queue_url = "http://127.0.0.1/000000000000/jobs";
};

TEST_F(SqsClientTest, GetQueueUrlSendsSignedJsonRequest) {
  fake.respond([&](const json& input, httplib::Response& response) {
    reply_json(response, 200,
               {{"QueueUrl", "http://sqs/123/" + input.at("QueueName").get<std::string>()}});
  });
  auto sqs = client();
  EXPECT_EQ(sqs.get_queue_url("uploads"), "http://sqs/123/uploads");

  ASSERT_EQ(fake.log.size(), 1u);
  const RecordedRequest request = fake.log.all().front();
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.target, "/");
  EXPECT_EQ(request.header("x-amz-target"), "AmazonSQS.GetQueueUrl");
  EXPECT_EQ(request.header("content-type"), "application/x-amz-json-1.0");
  EXPECT_EQ(json::parse(request.body), json({{"QueueName", "uploads"}}));
  const std::string authorization = request.header("authorization");
  EXPECT_EQ(authorization.rfind("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/", 0), 0u)
      << authorization;
  EXPECT_NE(authorization.find("/eu-west-1/sqs/aws4_request"), std::string::npos);
  EXPECT_NE(authorization.find("x-amz-target"), std::string::npos) << "target must be signed";
  EXPECT_NE(authorization.find("Signature="), std::string::npos);
  EXPECT_EQ(request.header("x-amz-date").size(), 16u);
  EXPECT_EQ(request.header("x-amz-security-token"), "");
}

TEST_F(SqsClientTest, SessionTokenIsSent) {
  auto sqs = client({"ASIAEXAMPLE", "secret", "token-abc", std::nullopt});
  sqs.delete_message(queue_url, "handle-1");
  ASSERT_EQ(fake.log.size(), 1u);
  EXPECT_EQ(fake.log.all().front().header("x-amz-security-token"), "token-abc");
}

TEST_F(SqsClientTest, ReceiveMessageRequestsAttributesAndParsesReceiveCount) {
  fake.respond([](const json&, httplib::Response& response) {
    reply_json(
        response, 200,
        {{"Messages",
          json::array({{{"MessageId", "m-1"},
                        {"ReceiptHandle", "rh-1"},
                        {"Body", "{\"Records\":[]}"},
                        {"Attributes",
                         {{"ApproximateReceiveCount", "3"}, {"SentTimestamp", "1700000000000"}}}},
                       {{"MessageId", "m-2"}, {"ReceiptHandle", "rh-2"}, {"Body", "x"}}})}});
  });
  auto sqs = client();
  const auto messages = sqs.receive_messages(queue_url, 5, 2, 120);

  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0].message_id, "m-1");
  EXPECT_EQ(messages[0].receipt_handle, "rh-1");
  EXPECT_EQ(messages[0].body, "{\"Records\":[]}");
  EXPECT_EQ(messages[0].approximate_receive_count, 3);
  EXPECT_EQ(messages[0].attributes.at("SentTimestamp"), "1700000000000");
  EXPECT_EQ(messages[1].approximate_receive_count, 0);

  const RecordedRequest request = fake.log.all().front();
  EXPECT_EQ(request.header("x-amz-target"), "AmazonSQS.ReceiveMessage");
  const json input = json::parse(request.body);
  EXPECT_EQ(input.at("QueueUrl"), queue_url);
  EXPECT_EQ(input.at("MaxNumberOfMessages"), 5);
  EXPECT_EQ(input.at("WaitTimeSeconds"), 2);
  EXPECT_EQ(input.at("VisibilityTimeout"), 120);
  EXPECT_EQ(input.at("MessageSystemAttributeNames"), json::array({"All"}));
  EXPECT_EQ(input.at("AttributeNames"), json::array({"All"}));
}

TEST_F(SqsClientTest, BodyChecksumIsVerified) {
  // MD5("hello") = 5d41402abc4b2a76b9719d911017c592 (RFC 1321 reference implementation).
  std::atomic<bool> corrupt{false};
  fake.respond([&](const json&, httplib::Response& response) {
    reply_json(response, 200,
               {{"Messages", json::array({{{"MessageId", "m-1"},
                                           {"ReceiptHandle", "rh-1"},
                                           {"Body", corrupt ? "hellp" : "hello"},
                                           {"MD5OfBody", "5d41402abc4b2a76b9719d911017c592"}}})}});
  });
  auto sqs = client();
  EXPECT_EQ(sqs.receive_messages(queue_url, 1, 0, 30).at(0).body, "hello");
  corrupt = true;
  EXPECT_EQ(expect_aws_error([&] { sqs.receive_messages(queue_url, 1, 0, 30); }).code(),
            ErrorCode::kIntegrity);
}

TEST_F(SqsClientTest, EmptyReceiveReturnsNoMessages) {
  auto sqs = client();
  EXPECT_TRUE(sqs.receive_messages(queue_url, 10, 0, 30).empty());
}

TEST_F(SqsClientTest, LongPollMayOutlastRequestTimeout) {
  // The server answers after 1.5 s; request_timeout alone (1 s) would abort, but
  // ReceiveMessage adds WaitTimeSeconds to it.
  fake.respond([](const json&, httplib::Response& response) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    reply_json(response, 200, json::object());
  });
  SqsConfig short_timeout = config();
  short_timeout.request_timeout = std::chrono::milliseconds(1000);
  short_timeout.retry.max_attempts = 1;
  SqsClient sqs(short_timeout, make_static_provider({"AKID", "secret", "", std::nullopt}));
  EXPECT_TRUE(sqs.receive_messages(queue_url, 1, 2, 30).empty());
}

TEST_F(SqsClientTest, OtherActionsSendTheirFields) {
  fake.respond([](const json& input, httplib::Response& response) {
    if (input.contains("MessageBody")) {
      reply_json(response, 200, {{"MessageId", "sent-1"}});
    } else if (input.contains("AttributeNames")) {
      reply_json(response, 200, {{"Attributes", {{"ApproximateNumberOfMessages", "7"}}}});
    } else if (input.contains("QueueName")) {
      reply_json(response, 200, {{"QueueUrl", "http://q/created"}});
    } else {
      reply_json(response, 200, json::object());
    }
  });
  auto sqs = client();
  EXPECT_EQ(sqs.send_message(queue_url, "hello", 3), "sent-1");
  EXPECT_EQ(sqs.create_queue("jobs", {{"VisibilityTimeout", "60"}}), "http://q/created");
  sqs.change_message_visibility(queue_url, "rh-9", 0);
  const auto attributes = sqs.get_queue_attributes(queue_url, {"ApproximateNumberOfMessages"});
  EXPECT_EQ(attributes.at("ApproximateNumberOfMessages"), "7");

  const auto requests = fake.log.all();
  ASSERT_EQ(requests.size(), 4u);
  EXPECT_EQ(requests[0].header("x-amz-target"), "AmazonSQS.SendMessage");
  EXPECT_EQ(json::parse(requests[0].body),
            json({{"QueueUrl", queue_url}, {"MessageBody", "hello"}, {"DelaySeconds", 3}}));
  EXPECT_EQ(requests[1].header("x-amz-target"), "AmazonSQS.CreateQueue");
  EXPECT_EQ(json::parse(requests[1].body),
            json({{"QueueName", "jobs"}, {"Attributes", {{"VisibilityTimeout", "60"}}}}));
  EXPECT_EQ(requests[2].header("x-amz-target"), "AmazonSQS.ChangeMessageVisibility");
  EXPECT_EQ(json::parse(requests[2].body),
            json({{"QueueUrl", queue_url}, {"ReceiptHandle", "rh-9"}, {"VisibilityTimeout", 0}}));
  EXPECT_EQ(requests[3].header("x-amz-target"), "AmazonSQS.GetQueueAttributes");
  EXPECT_EQ(json::parse(requests[3].body).at("AttributeNames"),
            json::array({"ApproximateNumberOfMessages"}));
}

TEST_F(SqsClientTest, QueueDoesNotExistIsTypedAndNotRetried) {
  fake.respond([](const json&, httplib::Response& response) {
    reply_error(response, 400, "com.amazonaws.sqs#QueueDoesNotExist",
                "The specified queue does not exist.", "AWS.SimpleQueueService.NonExistentQueue");
  });
  auto sqs = client();
  const AwsError error = expect_aws_error([&] { sqs.get_queue_url("missing"); });
  EXPECT_EQ(error.code(), ErrorCode::kQueueDoesNotExist);
  EXPECT_EQ(error.http_status(), 400);
  EXPECT_EQ(error.request_id(), "req-123");
  EXPECT_EQ(fake.log.size(), 1u);
}

TEST_F(SqsClientTest, ErrorCodeFromQueryHeaderWhenBodyHasNone) {
  fake.respond([](const json&, httplib::Response& response) {
    response.set_header("x-amzn-query-error", "AWS.SimpleQueueService.NonExistentQueue;Sender");
    reply_json(response, 400, json::object());
  });
  auto sqs = client();
  EXPECT_EQ(expect_aws_error([&] { sqs.get_queue_url("missing"); }).code(),
            ErrorCode::kQueueDoesNotExist);
}

TEST_F(SqsClientTest, InvalidReceiptHandleIsTyped) {
  fake.respond([](const json&, httplib::Response& response) {
    reply_error(response, 400, "com.amazonaws.sqs#InvalidParameterValue",
                "Value rh-old for parameter ReceiptHandle is invalid. Reason: expired.");
  });
  auto sqs = client();
  EXPECT_EQ(expect_aws_error([&] { sqs.delete_message(queue_url, "rh-old"); }).code(),
            ErrorCode::kReceiptHandleInvalid);
  EXPECT_EQ(fake.log.size(), 1u);
}

TEST_F(SqsClientTest, ThrottlingIsRetriedThenSucceeds) {
  std::atomic<int> calls{0};
  fake.respond([&](const json&, httplib::Response& response) {
    if (++calls <= 2) {
      reply_error(response, 400, "com.amazonaws.sqs#ThrottlingException", "Rate exceeded");
    } else {
      reply_json(response, 200, {{"MessageId", "after-throttle"}});
    }
  });
  auto sqs = client();
  EXPECT_EQ(sqs.send_message(queue_url, "x"), "after-throttle");
  EXPECT_EQ(fake.log.size(), 3u);
}

TEST_F(SqsClientTest, ServerErrorIsRetriedThenSucceeds) {
  std::atomic<int> calls{0};
  fake.respond([&](const json&, httplib::Response& response) {
    if (++calls == 1) {
      reply_error(response, 500, "com.amazonaws.sqs#InternalFailure", "oops");
    } else {
      reply_json(response, 200, {{"QueueUrl", "http://q/ok"}});
    }
  });
  auto sqs = client();
  EXPECT_EQ(sqs.get_queue_url("jobs"), "http://q/ok");
  EXPECT_EQ(fake.log.size(), 2u);
}

TEST_F(SqsClientTest, PersistentServerErrorStopsAfterMaxAttempts) {
  fake.respond([](const json&, httplib::Response& response) {
    response.status = 503;
    response.set_content("unavailable", "text/plain");
  });
  auto sqs = client();
  const AwsError error = expect_aws_error([&] { sqs.get_queue_url("jobs"); });
  EXPECT_EQ(error.code(), ErrorCode::kServiceUnavailable);
  EXPECT_EQ(fake.log.size(), static_cast<std::size_t>(config().retry.max_attempts));
}

TEST_F(SqsClientTest, AccessDeniedIsNotRetried) {
  fake.respond([](const json&, httplib::Response& response) {
    reply_error(response, 403, "com.amazonaws.sqs#AccessDeniedException", "no");
  });
  auto sqs = client();
  EXPECT_EQ(expect_aws_error([&] { sqs.get_queue_url("jobs"); }).code(), ErrorCode::kAccessDenied);
  EXPECT_EQ(fake.log.size(), 1u);
}

TEST_F(SqsClientTest, CancelFlagSetBeforeCallFailsWithoutRequest) {
  std::atomic<bool> cancel{true};
  auto sqs = client();
  sqs.set_cancel_flag(&cancel);
  EXPECT_EQ(expect_aws_error([&] { sqs.receive_messages(queue_url, 1, 20, 30); }).code(),
            ErrorCode::kCancelled);
  EXPECT_EQ(fake.log.size(), 0u);
}

TEST_F(SqsClientTest, CancelFlagAbortsLongPollInFlight) {
  // The server holds the poll until the test ends it; cancelling must not wait for it.
  std::mutex mutex;
  std::condition_variable changed;
  bool poll_arrived = false;
  bool release = false;
  fake.respond([&](const json&, httplib::Response& response) {
    std::unique_lock lock(mutex);
    poll_arrived = true;
    changed.notify_all();
    changed.wait(lock, [&] { return release; });
    reply_json(response, 200, json::object());
  });
  std::atomic<bool> cancel{false};
  auto sqs = client();
  sqs.set_cancel_flag(&cancel);
  std::thread canceller([&] {
    std::unique_lock lock(mutex);
    changed.wait(lock, [&] { return poll_arrived; });
    cancel = true;
  });
  const AwsError error = expect_aws_error([&] { sqs.receive_messages(queue_url, 1, 20, 30); });
  canceller.join();
  {
    std::lock_guard lock(mutex);
    release = true;
  }
  changed.notify_all();
  EXPECT_EQ(error.code(), ErrorCode::kCancelled);
}

}  // namespace
}  // namespace dancer::aws

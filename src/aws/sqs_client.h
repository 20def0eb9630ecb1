// Amazon SQS over the JSON protocol (Content-Type: application/x-amz-json-1.0,
// X-Amz-Target: AmazonSQS.<Action>). One client per worker thread: it owns one HTTP
// connection that is reused across calls. Not thread-safe, except cancel().
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "aws/credentials.h"
#include "aws/retry.h"

namespace dancer::aws {

struct SqsConfig {
  std::string region = "us-east-1";
  // Empty: https://sqs.<region>.amazonaws.com. Otherwise AWS_ENDPOINT_URL_SQS / AWS_ENDPOINT_URL.
  std::string endpoint;
  std::chrono::milliseconds connect_timeout{5000};
  // Added to WaitTimeSeconds for ReceiveMessage; the whole timeout of other calls.
  std::chrono::milliseconds request_timeout{30000};
  RetryPolicy retry;
};

struct SqsMessage {
  std::string message_id;
  std::string receipt_handle;
  std::string body;
  int approximate_receive_count = 0;              // from the ApproximateReceiveCount attribute
  std::map<std::string, std::string> attributes;  // all system attributes returned
};

class SqsClient {
 public:
  SqsClient(SqsConfig config, std::shared_ptr<CredentialsProvider> credentials);
  ~SqsClient();
  SqsClient(const SqsClient&) = delete;
  SqsClient& operator=(const SqsClient&) = delete;

  std::string get_queue_url(const std::string& queue_name);
  std::string create_queue(const std::string& queue_name,
                           const std::map<std::string, std::string>& attributes = {});
  void delete_queue(const std::string& queue_url);  // tests and tooling clean up with it
  // Long poll: waits up to wait_time_seconds (0..20). Returns 0..max_messages (1..10).
  std::vector<SqsMessage> receive_messages(const std::string& queue_url, int max_messages,
                                           int wait_time_seconds, int visibility_timeout_seconds);
  void delete_message(const std::string& queue_url, const std::string& receipt_handle);
  void change_message_visibility(const std::string& queue_url, const std::string& receipt_handle,
                                 int visibility_timeout_seconds);
  std::map<std::string, std::string> get_queue_attributes(const std::string& queue_url,
                                                          const std::vector<std::string>& names);
  std::string send_message(const std::string& queue_url, const std::string& body,
                           int delay_seconds = 0);

  // Makes an in-flight or future call fail promptly with ErrorCode::kCancelled while
  // *flag is true (used to abandon a long poll on SIGTERM). Thread-safe.
  void set_cancel_flag(const std::atomic<bool>* flag);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dancer::aws

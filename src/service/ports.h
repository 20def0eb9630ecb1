// The narrow interfaces the message lifecycle uses: a work queue and an object store. The
// processor and the service take them (with store::JobStore and AnalysisRunner), so every
// outcome can be walked with in-memory fakes (tests/support/fakes.h) as well as against
// SQS and S3 (aws_ports.cpp). Errors are the aws layer's typed AwsError in both cases: the
// failure classes the processor decides on do not depend on which implementation threw.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "aws/s3_client.h"
#include "aws/sqs_client.h"

namespace dancer::service {

// Message counts of the queue (GetQueueAttributes' approximate numbers).
struct QueueCounts {
  long visible = 0;    // ApproximateNumberOfMessages
  long in_flight = 0;  // ApproximateNumberOfMessagesNotVisible
  long delayed = 0;    // ApproximateNumberOfMessagesDelayed
  long total() const { return visible + in_flight + delayed; }
};

class WorkQueue {
 public:
  virtual ~WorkQueue() = default;
  // Long poll for up to max_messages; returns early with nothing when cancelled.
  virtual std::vector<aws::SqsMessage> receive(int max_messages, int wait_seconds,
                                               int visibility_timeout_seconds) = 0;
  virtual void remove(const std::string& receipt_handle) = 0;
  virtual void change_visibility(const std::string& receipt_handle, int seconds) = 0;
  // Sends to another queue (DEAD_LETTER_QUEUE_URL).
  virtual void send(const std::string& queue_url, const std::string& body) = 0;
  // Sends `body` to this queue again, visible after delay_seconds (0..900).
  virtual void send_again(const std::string& body, int delay_seconds) = 0;
  virtual QueueCounts counts() = 0;
  // A pending receive returns at once when *flag turns true.
  virtual void set_cancel_flag(const std::atomic<bool>* flag) = 0;
};

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;
  virtual aws::ObjectInfo head(const std::string& bucket, const std::string& key) = 0;
  virtual aws::ObjectInfo download(const std::string& bucket, const std::string& key,
                                   const std::filesystem::path& destination,
                                   const aws::DownloadOptions& options) = 0;
  virtual void put(const std::string& bucket, const std::string& key,
                   const std::filesystem::path& file, const std::string& content_type) = 0;
  // Deletes an object; succeeds when there is none.
  virtual void remove(const std::string& bucket, const std::string& key) = 0;
};

// SQS and S3 behind the interfaces; each instance owns its own connection.
std::unique_ptr<WorkQueue> make_sqs_work_queue(
    const aws::SqsConfig& config, std::shared_ptr<aws::CredentialsProvider> credentials,
    std::string queue_url);
std::unique_ptr<ObjectStore> make_s3_object_store(
    const aws::S3Config& config, std::shared_ptr<aws::CredentialsProvider> credentials);

}  // namespace dancer::service

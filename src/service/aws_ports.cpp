// SQS and S3 behind the lifecycle interfaces of ports.h.
#include <spdlog/spdlog.h>

#include "service/ports.h"

namespace dancer::service {
namespace {

long count_attribute(const std::map<std::string, std::string>& attributes,
                     const std::string& name) {
  auto it = attributes.find(name);
  if (it == attributes.end()) return 0;
  try {
    return std::stol(it->second);
  } catch (const std::exception&) {
    return 0;
  }
}

class SqsWorkQueue final : public WorkQueue {
 public:
  SqsWorkQueue(const aws::SqsConfig& config, std::shared_ptr<aws::CredentialsProvider> credentials,
               std::string queue_url)
      : client_(config, std::move(credentials)), queue_url_(std::move(queue_url)) {}

  std::vector<aws::SqsMessage> receive(int max_messages, int wait_seconds,
                                       int visibility_timeout_seconds) override {
    return client_.receive_messages(queue_url_, max_messages, wait_seconds,
                                    visibility_timeout_seconds);
  }
  void remove(const std::string& receipt_handle) override {
    client_.delete_message(queue_url_, receipt_handle);
  }
  void change_visibility(const std::string& receipt_handle, int seconds) override {
    client_.change_message_visibility(queue_url_, receipt_handle, seconds);
  }
  void send(const std::string& queue_url, const std::string& body) override {
    client_.send_message(queue_url, body);
  }
  void send_again(const std::string& body, int delay_seconds) override {
    client_.send_message(queue_url_, body, delay_seconds);
  }
  QueueCounts counts() override {
    auto attributes = client_.get_queue_attributes(
        queue_url_, {"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                     "ApproximateNumberOfMessagesDelayed"});
    return {count_attribute(attributes, "ApproximateNumberOfMessages"),
            count_attribute(attributes, "ApproximateNumberOfMessagesNotVisible"),
            count_attribute(attributes, "ApproximateNumberOfMessagesDelayed")};
  }
  void set_cancel_flag(const std::atomic<bool>* flag) override { client_.set_cancel_flag(flag); }

 private:
  aws::SqsClient client_;
  std::string queue_url_;
};

class S3ObjectStore final : public ObjectStore {
 public:
  S3ObjectStore(const aws::S3Config& config, std::shared_ptr<aws::CredentialsProvider> credentials)
      : client_(config, std::move(credentials)) {}

  aws::ObjectInfo head(const std::string& bucket, const std::string& key) override {
    return client_.head_object(bucket, key);
  }
  aws::ObjectInfo download(const std::string& bucket, const std::string& key,
                           const std::filesystem::path& destination,
                           const aws::DownloadOptions& options) override {
    return client_.download_to_file(bucket, key, destination, options);
  }
  void put(const std::string& bucket, const std::string& key, const std::filesystem::path& file,
           const std::string& content_type) override {
    client_.put_object(bucket, key, file, content_type);
  }
  void remove(const std::string& bucket, const std::string& key) override {
    client_.delete_object(bucket, key);
  }

 private:
  aws::S3Client client_;
};

}  // namespace

std::unique_ptr<WorkQueue> make_sqs_work_queue(
    const aws::SqsConfig& config, std::shared_ptr<aws::CredentialsProvider> credentials,
    std::string queue_url) {
  return std::make_unique<SqsWorkQueue>(config, std::move(credentials), std::move(queue_url));
}

std::unique_ptr<ObjectStore> make_s3_object_store(
    const aws::S3Config& config, std::shared_ptr<aws::CredentialsProvider> credentials) {
  return std::make_unique<S3ObjectStore>(config, std::move(credentials));
}

}  // namespace dancer::service

// Runs the real dancer-analysis binary against the local S3+SQS emulator, with a
// bucket and queue of its own, for end-to-end tests.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "aws/s3_client.h"
#include "aws/sqs_client.h"
#include "support/test_support.h"

namespace dancer::testing {

struct ServiceResult {
  int exit_code = -1;
  int term_signal = 0;
  std::string stdout_text;
  std::string stderr_text;
};

class ServiceHarness {
 public:
  // endpoint: the emulator's URL. Creates a uniquely named bucket and queue.
  explicit ServiceHarness(std::string endpoint);

  aws::S3Client& s3() { return *s3_; }
  aws::SqsClient& sqs() { return *sqs_; }
  const std::string& bucket() const { return bucket_; }
  const std::string& queue_name() const { return queue_name_; }
  const std::string& queue_url() const { return queue_url_; }
  const std::filesystem::path& dir() const { return dir_.path(); }
  std::filesystem::path download_dir() const { return dir_.path() / "downloads"; }
  std::string sqlite_url() const { return "sqlite:///" + (dir_.path() / "jobs.db").string(); }

  // Environment for the service: endpoint, bucket, queue, database, fast polling.
  std::map<std::string, std::string>& env() { return env_; }

  // Uploads a file under `key` and sends the notification S3 would send.
  void upload_and_notify(const std::filesystem::path& file, const std::string& key);
  void send_raw(const std::string& body);

  // Runs `dancer-analysis <args>` to completion (timeout in seconds).
  ServiceResult run(const std::vector<std::string>& args, int timeout_seconds = 120);
  // Starts it in the background with its output appended to log_file; returns the pid.
  pid_t spawn(const std::vector<std::string>& args, const std::filesystem::path& log_file);
  static int wait_for(pid_t pid, int timeout_seconds);  // exit code, or -signal

  // Visible + in-flight messages left in the queue.
  long messages_left();

  static std::filesystem::path binary();

 private:
  std::vector<std::string> env_argv() const;

  TempDir dir_;
  std::string endpoint_;
  std::string bucket_;
  std::string queue_name_;
  std::string queue_url_;
  std::unique_ptr<aws::S3Client> s3_;
  std::unique_ptr<aws::SqsClient> sqs_;
  std::map<std::string, std::string> env_;
};

}  // namespace dancer::testing

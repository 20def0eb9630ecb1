#include "support/service_harness.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <thread>

#include "analysis/subprocess.h"
#include "service/events.h"

extern char** environ;

namespace dancer::testing {
namespace {

std::string random_suffix() {
  std::random_device rd;
  std::mt19937_64 rng(rd());
  static const char* kChars = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string s;
  for (int i = 0; i < 10; ++i) s += kChars[rng() % 36];
  return s;
}

}  // namespace

std::filesystem::path ServiceHarness::binary() {
  return std::filesystem::path(DANCER_BINARY_DIR) / "dancer-analysis";
}

ServiceHarness::ServiceHarness(std::string endpoint) : endpoint_(std::move(endpoint)) {
  const std::string suffix = random_suffix();
  bucket_ = "itest-" + suffix;
  queue_name_ = "itest-" + suffix;
  auto credentials = aws::make_static_provider({"test", "test", "", std::nullopt});
  aws::S3Config s3_config;
  s3_config.endpoint = endpoint_;
  s3_config.force_path_style = true;
  aws::SqsConfig sqs_config;
  sqs_config.endpoint = endpoint_;
  s3_ = std::make_unique<aws::S3Client>(s3_config, credentials);
  sqs_ = std::make_unique<aws::SqsClient>(sqs_config, credentials);
  s3_->create_bucket(bucket_);
  queue_url_ = sqs_->create_queue(queue_name_, {{"VisibilityTimeout", "60"}});
  env_ = {{"AWS_ENDPOINT_URL", endpoint_},
          {"AWS_REGION", "us-east-1"},
          {"AWS_ACCESS_KEY_ID", "test"},
          {"AWS_SECRET_ACCESS_KEY", "test"},
          {"AWS_EC2_METADATA_DISABLED", "true"},
          {"S3_FORCE_PATH_STYLE", "true"},
          {"S3_BUCKET", bucket_},
          {"S3_PREFIX", "uploads/"},
          {"SQS_QUEUE_NAME", queue_name_},
          {"SQS_WAIT_TIME", "1"},
          {"SQS_VISIBILITY_TIMEOUT", "60"},
          {"DATABASE_URL", sqlite_url()},
          {"DOWNLOAD_DIR", download_dir().string()},
          {"REPORT_DIR", (dir_.path() / "reports").string()},
          {"LOG_FILE", (dir_.path() / "service.log").string()},
          {"LOG_LEVEL", "DEBUG"},
          {"HEALTH_PORT", "0"},
          {"RETRY_BASE_DELAY", "1"},
          {"MAX_WORKERS", "2"}};
}

void ServiceHarness::upload_and_notify(const std::filesystem::path& file, const std::string& key) {
  s3_->put_object(bucket_, key, file, "video/mp4");
  aws::ObjectInfo head = s3_->head_object(bucket_, key);
  send_raw(service::make_object_created_body(bucket_, key, static_cast<std::int64_t>(head.size),
                                             head.etag, "us-east-1"));
}

void ServiceHarness::send_raw(const std::string& body) { sqs_->send_message(queue_url_, body); }

std::vector<std::string> ServiceHarness::env_argv() const {
  std::vector<std::string> argv = {"/usr/bin/env"};
  for (const auto& [k, v] : env_) argv.push_back(k + "=" + v);
  return argv;
}

ServiceResult ServiceHarness::run(const std::vector<std::string>& args, int timeout_seconds) {
  analysis::SubprocessOptions options;
  options.argv = env_argv();
  options.argv.push_back(binary().string());
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  options.timeout = std::chrono::seconds(timeout_seconds);
  options.max_stderr_bytes = 4u << 20;
  analysis::SubprocessResult r = analysis::run_subprocess(options);
  return ServiceResult{r.exit_code, r.term_signal, r.stdout_text, r.stderr_text};
}

pid_t ServiceHarness::spawn(const std::vector<std::string>& args,
                            const std::filesystem::path& log_file) {
  std::vector<std::string> argv = env_argv();
  argv.push_back(binary().string());
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> raw;
  for (auto& a : argv) raw.push_back(a.data());
  raw.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_file.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, raw[0], &actions, nullptr, raw.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("posix_spawn failed");
  return pid;
}

int ServiceHarness::wait_for(pid_t pid, int timeout_seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  int status = 0;
  while (true) {
    pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1000;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return -WTERMSIG(status);
}

long ServiceHarness::messages_left() {
  auto attributes = sqs_->get_queue_attributes(
      queue_url_, {"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"});
  return std::stol(attributes["ApproximateNumberOfMessages"]) +
         std::stol(attributes["ApproximateNumberOfMessagesNotVisible"]);
}

}  // namespace dancer::testing

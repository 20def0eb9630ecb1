#include "support/service_harness.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "sandbox/subprocess.h"
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
  return spawn_process(argv, log_file);
}

pid_t ServiceHarness::spawn_process(std::vector<std::string> argv,
                                    const std::filesystem::path& log_file) {
  std::vector<char*> raw;
  for (auto& a : argv) raw.push_back(a.data());
  raw.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_file.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, raw[0], &actions, nullptr, raw.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("posix_spawn " + argv[0] + " failed");
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
      queue_url_, {"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                   "ApproximateNumberOfMessagesDelayed"});
  long total = 0;
  for (const auto& [name, value] : attributes) total += std::stol(value);
  return total;
}

void ServiceHarness::use_proxy(const std::string& url) {
  env_["AWS_ENDPOINT_URL_S3"] = url;
  env_["AWS_ENDPOINT_URL_SQS"] = url;
}

std::string ServiceHarness::use_new_postgres_database(const std::string& admin_url) {
  const auto slash = admin_url.find_last_of('/');
  if (slash == std::string::npos || admin_url.find("://") == std::string::npos) {
    throw std::runtime_error("unexpected PostgreSQL URL " + admin_url);
  }
  const std::string name = "itest_" + random_suffix();
  CommandResult created =
      run_command("psql " + shell_quote(admin_url) + " -v ON_ERROR_STOP=1 -qAtc " +
                  shell_quote("CREATE DATABASE " + name));
  CommandResult exists =
      run_command("psql " + shell_quote(admin_url) + " -qAtc " +
                  shell_quote("SELECT count(*) FROM pg_database WHERE datname = '" + name + "'"));
  if (created.exit_code != 0 || exists.output != "1\n") {
    throw std::runtime_error("psql: CREATE DATABASE " + name + " failed (exit " +
                             std::to_string(created.exit_code) + ", output " + created.output +
                             ")");
  }
  // Filled in place: a temporary CreatedDatabase would drop the database as it dies.
  created_database_ = std::make_unique<CreatedDatabase>();
  created_database_->admin_url = admin_url;
  created_database_->name = name;
  const std::string url = admin_url.substr(0, slash + 1) + name;
  env_["DATABASE_URL"] = url;
  return url;
}

ServiceHarness::CreatedDatabase::~CreatedDatabase() {
  // FORCE (PostgreSQL 13+) ends sessions a killed service may have left behind.
  run_command("psql " + shell_quote(admin_url) + " -qAtc " +
              shell_quote("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)") + " >/dev/null");
}

void ServiceHarness::use_counting_analysis(const std::string& hang_key, int hang_seconds) {
  const std::filesystem::path script = dir_.path() / "counting-analysis.sh";
  std::ofstream out(script);
  out << "#!/bin/sh\n"
      << "name=$(basename \"$1\")\n"
      << "echo \"$name\" >> " << shell_quote(analysis_runs_file().string()) << "\n";
  if (hang_key == "*") {
    out << "sleep " << hang_seconds << "\n";
  } else if (!hang_key.empty()) {
    // local_file_name() embeds the first 16 hex digits of the key's SHA-256.
    CommandResult sha = run_command("printf %s " + shell_quote(hang_key) + " | sha256sum");
    // The sleep runs as a child of the script with its pid recorded, so a test can check
    // that a timeout kills the analysis's whole process group, not just the shell.
    out << "case \"$name\" in *-" << sha.output.substr(0, 16) << "*) sleep " << hang_seconds
        << " & echo $! > " << shell_quote(hang_pid_file().string()) << "; wait ;; esac\n";
  }
  out << "echo '{\"analyzer\": \"counting-test-script\"}'\n";
  out.close();
  std::filesystem::permissions(script, std::filesystem::perms::owner_all);
  env_["ANALYSIS_COMMAND"] = script.string();
}

std::map<std::int64_t, int> ServiceHarness::analysis_runs() const {
  std::map<std::int64_t, int> runs;
  std::ifstream in(analysis_runs_file());
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("job-", 0) != 0) continue;
    ++runs[std::stoll(line.substr(4))];
  }
  return runs;
}

std::vector<store::Job> ServiceHarness::jobs() {
  return store::open_job_store(env_.at("DATABASE_URL"))->list_jobs(1000000);
}

std::map<std::string, store::Job> ServiceHarness::jobs_by_key() {
  std::map<std::string, store::Job> by_key;
  for (auto& job : jobs()) by_key[job.object.key] = job;
  return by_key;
}

bool ServiceHarness::wait_until(const std::function<bool()>& condition, int timeout_seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

bool ServiceHarness::all_terminal_and_queue_empty(const std::vector<std::string>& keys) {
  try {
    auto by_key = jobs_by_key();
    for (const auto& key : keys) {
      auto it = by_key.find(key);
      if (it == by_key.end() || it->second.status == store::JobStatus::kProcessing) return false;
    }
    return messages_left() == 0;
  } catch (const std::exception&) {
    return false;  // the database may be restarting or locked: ask again later
  }
}

int ServiceHarness::count_occurrences(const std::filesystem::path& file,
                                      const std::string& needle) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  const std::string s = text.str();
  int count = 0;
  for (auto pos = s.find(needle); pos != std::string::npos; pos = s.find(needle, pos + 1)) {
    ++count;
  }
  return count;
}

}  // namespace dancer::testing

// Runs the real dancer-analysis binary against the local S3+SQS emulator, with a
// bucket and queue of its own, for end-to-end tests.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "aws/s3_client.h"
#include "aws/sqs_client.h"
#include "store/job_store.h"
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
  // Starts argv (argv[0] a path) with stdout and stderr appended to log_file.
  static pid_t spawn_process(std::vector<std::string> argv, const std::filesystem::path& log_file);
  static int wait_for(pid_t pid, int timeout_seconds);  // exit code, or -signal

  // Visible + in-flight + delayed messages left in the queue.
  long messages_left();

  static std::filesystem::path binary();

  // --- Fault and load tests -------------------------------------------------------
  // Sends the service's S3 and SQS traffic to `url` (a FaultProxy in front of the
  // emulator). The harness's own clients keep talking to the emulator directly.
  void use_proxy(const std::string& url);
  // Creates a database of its own on the PostgreSQL server of `admin_url` (with psql),
  // points DATABASE_URL at it and returns its URL. Dropped when the harness goes.
  std::string use_new_postgres_database(const std::string& admin_url);
  // Sets ANALYSIS_COMMAND to a script that appends the video's local file name
  // (job-<id>-...) to analysis_runs_file() and prints "{}". When hang_key is given, the
  // run for that key sleeps hang_seconds first (the local name carries a hash of the key);
  // hang_key "*" makes every run sleep.
  void use_counting_analysis(const std::string& hang_key = "", int hang_seconds = 0);
  // The pid of the hanging run's sleep (child of the script), once it started.
  std::filesystem::path hang_pid_file() const { return dir_.path() / "hang-sleep.pid"; }
  std::filesystem::path analysis_runs_file() const { return dir_.path() / "analysis-runs.txt"; }
  // Analysis runs per job id, from analysis_runs_file().
  std::map<std::int64_t, int> analysis_runs() const;
  // Every job row of DATABASE_URL.
  std::vector<store::Job> jobs();
  // Jobs by S3 key (the last row wins if a key has several versions).
  std::map<std::string, store::Job> jobs_by_key();
  // Polls `condition` every 200 ms until it holds (true) or timeout_seconds pass (false).
  static bool wait_until(const std::function<bool()>& condition, int timeout_seconds);
  // True once every key has a job in a terminal state and the queue is empty.
  bool all_terminal_and_queue_empty(const std::vector<std::string>& keys);
  // How often `needle` occurs in the file (0 if it does not exist).
  static int count_occurrences(const std::filesystem::path& file, const std::string& needle);

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
  struct CreatedDatabase {
    std::string admin_url;
    std::string name;
    ~CreatedDatabase();
  };
  std::unique_ptr<CreatedDatabase> created_database_;
};

}  // namespace dancer::testing

// Fault tolerance, end to end: the real dancer-analysis binary against the local S3+SQS
// emulator (through a fault-injecting proxy) and real SQLite/PostgreSQL databases.
// Every test checks the same contract: nothing lost (each uploaded object ends with
// exactly one job row in the right terminal state and the queue ends empty) and nothing
// done twice (each job's analysis ran once and it completed once).
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "service/events.h"
#include "service/processor.h"
#include "store/job_store.h"
#include "support/fault_proxy.h"
#include "support/service_harness.h"
#include "support/test_support.h"
#include "synthetic_walker/synthetic_walker.h"

extern char** environ;

namespace dancer::testing {
namespace {

using nlohmann::json;

// Upper bounds for waits: generous for a loaded 2-core machine, yet no test can hang.
constexpr int kSettleSeconds = 120;

class ServiceFaults : public ::testing::Test {
 protected:
  void SetUp() override {
    auto endpoint = integration_env("DANCER_TEST_AWS_ENDPOINT");
    if (!endpoint) GTEST_SKIP();
    endpoint_ = *endpoint;
    harness_ = std::make_unique<ServiceHarness>(endpoint_);
    auto& env = harness_->env();
    // Short clocks so a lost message or an expired lease comes back within seconds.
    env["SQS_VISIBILITY_TIMEOUT"] = "5";
    env["RETRY_BASE_DELAY"] = "1";
    env["RETRY_MAX_DELAY"] = "4";
    env["SHUTDOWN_TIMEOUT"] = "5";
    env["LOG_FILE"] = "";  // each process logs to its own console file instead
    harness_->use_counting_analysis();
  }

  void TearDown() override {
    for (pid_t pid : running_) {
      ::kill(pid, SIGKILL);
      int status = 0;
      ::waitpid(pid, &status, 0);
    }
  }

  pid_t start_service(const std::string& name) {
    auto log = harness_->dir() / (name + ".log");
    logs_.push_back(log);
    pid_t pid = harness_->spawn({"run"}, log);
    running_.push_back(pid);
    return pid;
  }

  // SIGTERM and wait; returns the exit code (or -signal, -1000 on timeout).
  int stop(pid_t pid) {
    ::kill(pid, SIGTERM);
    int rc = ServiceHarness::wait_for(pid, 40);
    forget(pid);
    return rc;
  }

  void kill_hard(pid_t pid) {
    ::kill(pid, SIGKILL);
    ServiceHarness::wait_for(pid, 20);
    forget(pid);
  }

  void forget(pid_t pid) {
    running_.erase(std::remove(running_.begin(), running_.end(), pid), running_.end());
  }

  static bool alive(pid_t pid) {
    int status = 0;
    return ::waitpid(pid, &status, WNOHANG) == 0;
  }

  // A helper process (not the service), killed in TearDown if still running.
  pid_t spawn_helper(const std::vector<std::string>& argv, const std::filesystem::path& log) {
    const pid_t pid = ServiceHarness::spawn_process(argv, log);
    running_.push_back(pid);
    return pid;
  }

  int count_in_logs(const std::string& needle) const {
    int n = 0;
    for (const auto& log : logs_) n += ServiceHarness::count_occurrences(log, needle);
    return n;
  }

  // The tail of every service log, for failure messages.
  std::string logs_tail() const {
    std::string all;
    for (const auto& log : logs_) {
      std::string text = std::filesystem::exists(log) ? read_file(log) : "";
      if (text.size() > 6000) text = "..." + text.substr(text.size() - 6000);
      all += "\n===== " + log.filename().string() + "\n" + text;
    }
    return all;
  }

  bool settle(const std::vector<std::string>& keys, int timeout = kSettleSeconds) {
    return ServiceHarness::wait_until([&] { return harness_->all_terminal_and_queue_empty(keys); },
                                      timeout);
  }

  // A small H.264 MP4 (160x120, 10 fps).
  std::filesystem::path small_video(const std::string& name, double seconds = 0.5) {
    auto path = media_ / name;
    auto r = run_command("ffmpeg -v error -y -f lavfi -i testsrc2=size=160x120:rate=10 -t " +
                         std::to_string(seconds) + " -c:v libx264 -pix_fmt yuv420p " +
                         shell_quote(path.string()));
    if (r.exit_code != 0) throw std::runtime_error("ffmpeg failed");
    return path;
  }

  // A lossless noise video: about 3 MiB per second of 320x240, so sizes are easy to aim.
  std::filesystem::path noisy_video(const std::string& name, double seconds) {
    auto path = media_ / name;
    auto r = run_command(
        "ffmpeg -v error -y -f lavfi -i \"nullsrc=s=320x240:r=25,geq=lum='random(1)*255':cb=128:"
        "cr=128\" -t " +
        std::to_string(seconds) + " -c:v libx264 -preset ultrafast -qp 0 -pix_fmt yuv420p " +
        shell_quote(path.string()));
    if (r.exit_code != 0) throw std::runtime_error("ffmpeg failed");
    return path;
  }

  // Regular files left under DOWNLOAD_DIR (directories may remain).
  std::vector<std::filesystem::path> files_under_download_dir() {
    std::vector<std::filesystem::path> files;
    std::error_code ec;
    for (const auto& e :
         std::filesystem::recursive_directory_iterator(harness_->download_dir(), ec)) {
      if (e.is_regular_file()) files.push_back(e.path());
    }
    return files;
  }

  // Nothing lost, nothing twice: every key has exactly one job in the expected status,
  // every completed job completed once and ran its analysis once, no other jobs exist,
  // and the queue is empty.
  void expect_exactly_once(const std::map<std::string, std::string>& expected_status) {
    auto all = harness_->jobs();
    EXPECT_EQ(all.size(), expected_status.size()) << logs_tail();
    auto runs = harness_->analysis_runs();
    for (const auto& [key, status] : expected_status) {
      const auto matching = std::count_if(all.begin(), all.end(),
                                          [&](const store::Job& j) { return j.object.key == key; });
      ASSERT_EQ(matching, 1) << key;
      const store::Job& job = *std::find_if(
          all.begin(), all.end(), [&](const store::Job& j) { return j.object.key == key; });
      EXPECT_EQ(store::to_string(job.status), status) << key << ": " << job.error_message;
      if (status == "completed") {
        EXPECT_EQ(runs[job.id], 1) << key << ": analysis runs of job " << job.id;
        EXPECT_EQ(count_in_logs("job " + std::to_string(job.id) + ": completed in"), 1) << key;
      }
    }
    EXPECT_EQ(harness_->messages_left(), 0);
  }

  std::string bucket_path(const std::string& key) const {
    return "/" + harness_->bucket() + "/" + key;
  }

  std::string endpoint_;
  std::unique_ptr<ServiceHarness> harness_;
  std::vector<pid_t> running_;
  std::vector<std::filesystem::path> logs_;
  TempDir media_;
};

// 1. The process dies (SIGKILL) while a throttled download is half done. The message
// and the job's lease expire (SQS_VISIBILITY_TIMEOUT), the next process sweeps the
// partial file and completes the job once.
TEST_F(ServiceFaults, SigkillMidDownloadThenRestartCompletesOnceAndSweepsThePartialFile) {
  FaultProxy proxy(endpoint_);
  harness_->use_proxy(proxy.url());
  harness_->env()["SQS_VISIBILITY_TIMEOUT"] = "4";
  const std::string key = "uploads/big.mp4";
  auto video = noisy_video("big.mp4", 2.7);
  const auto size = std::filesystem::file_size(video);
  ASSERT_GT(size, 6u << 20);
  proxy.set_rules(json::array({{{"method", "GET"},
                                {"path_prefix", bucket_path(key)},
                                {"action", "throttle"},
                                {"bytes_per_second", 1 << 20},
                                {"times", 1}}}));
  harness_->upload_and_notify(video, key);

  pid_t first = start_service("first");
  std::filesystem::path partial;
  ASSERT_TRUE(ServiceHarness::wait_until(
      [&] {
        for (const auto& f : files_under_download_dir()) {
          std::error_code ec;
          if (std::filesystem::is_regular_file(f, ec) &&
              std::filesystem::file_size(f, ec) > (1u << 20) && !ec) {
            partial = f;
            return true;
          }
        }
        return false;
      },
      60))
      << logs_tail();
  kill_hard(first);
  const auto partial_size = std::filesystem::file_size(partial);
  EXPECT_LT(partial_size, size) << "the kill must land mid-transfer";
  auto job = harness_->jobs_by_key().at(key);
  EXPECT_EQ(store::to_string(job.status), "processing");
  EXPECT_TRUE(harness_->analysis_runs().empty());

  proxy.set_rules(json::array());
  pid_t second = start_service("second");
  ASSERT_TRUE(settle({key})) << logs_tail();
  EXPECT_TRUE(alive(second));
  EXPECT_EQ(stop(second), 0) << logs_tail();

  expect_exactly_once({{key, "completed"}});
  job = harness_->jobs_by_key().at(key);
  EXPECT_EQ(json::parse(job.results_json)["object"]["size_bytes"], size);
  EXPECT_EQ(count_in_logs("left by a previous run"), 1) << logs_tail();
  EXPECT_FALSE(std::filesystem::exists(partial));
  EXPECT_TRUE(files_under_download_dir().empty());
  EXPECT_GE(proxy.count({{"method", "GET"}, {"path", bucket_path(key)}}), 2);
}

// 2. S3 drops the connection twice in the middle of the body. The download resumes and
// the file is whole: its metadata equals what ffprobe says about the original.
TEST_F(ServiceFaults, ConnectionCutMidDownloadStillDeliversTheWholeFile) {
  FaultProxy proxy(endpoint_);
  harness_->use_proxy(proxy.url());
  const std::string key = "uploads/cut.mp4";
  auto video = noisy_video("cut.mp4", 0.8);
  const auto size = std::filesystem::file_size(video);
  proxy.set_rules(json::array({{{"method", "GET"},
                                {"path_prefix", bucket_path(key)},
                                {"action", "cut"},
                                {"cut_after", 300000},
                                {"times", 2}}}));
  harness_->upload_and_notify(video, key);
  pid_t pid = start_service("service");
  ASSERT_TRUE(settle({key})) << logs_tail();
  EXPECT_EQ(stop(pid), 0) << logs_tail();

  expect_exactly_once({{key, "completed"}});
  EXPECT_EQ(proxy.count({{"action", "cut"}}), 2);
  // Each cut is resumed where it stopped (Range from the bytes already written), not
  // restarted from zero.
  const std::string tail_end = "-" + std::to_string(size - 1);
  EXPECT_EQ(proxy.count({{"method", "GET"}, {"range", "bytes=300000" + tail_end}}), 1)
      << proxy.request_log().dump();
  EXPECT_EQ(proxy.count({{"method", "GET"}, {"range", "bytes=600000" + tail_end}}), 1)
      << proxy.request_log().dump();
  EXPECT_GE(proxy.count({{"method", "GET"}, {"path", bucket_path(key)}}), 3);
  auto job = harness_->jobs_by_key().at(key);
  json metadata = json::parse(job.metadata_json);
  json reference =
      json::parse(run_command("ffprobe -v quiet -print_format json -show_format -show_streams " +
                              shell_quote(video.string()))
                      .output);
  EXPECT_EQ(metadata["format"]["size"], std::to_string(size));
  EXPECT_EQ(metadata["format"]["size"], reference["format"]["size"]);
  EXPECT_EQ(metadata["streams"][0]["nb_frames"], reference["streams"][0]["nb_frames"]);
  EXPECT_EQ(metadata["format"]["duration"], reference["format"]["duration"]);
  EXPECT_TRUE(files_under_download_dir().empty());
}

// 3. S3 answers 503 SlowDown and 500 InternalError, SQS answers 400 ThrottlingException
// to every ReceiveMessage for a while and fails some DeleteMessage and
// ChangeMessageVisibility calls: everything still completes once.
TEST_F(ServiceFaults, ThrottlingAndServerErrorsFromSqsAndS3LoseNothing) {
  FaultProxy proxy(endpoint_);
  harness_->use_proxy(proxy.url());
  std::map<std::string, std::string> expected;
  for (int i = 0; i < 4; ++i) {
    const std::string key = "uploads/busy-" + std::to_string(i) + ".mp4";
    harness_->upload_and_notify(small_video("busy-" + std::to_string(i) + ".mp4"), key);
    expected[key] = "completed";
  }
  json throttled_receives =
      FaultProxy::sqs_error("AmazonSQS.ReceiveMessage", 400, "ThrottlingException", -1);
  throttled_receives["for_seconds"] = 3;
  proxy.set_rules(json::array(
      {throttled_receives,
       FaultProxy::sqs_error("AmazonSQS.DeleteMessage", 500, "InternalFailure", 2),
       FaultProxy::sqs_error("AmazonSQS.ChangeMessageVisibility", 503, "ServiceUnavailable", 2),
       FaultProxy::s3_error("HEAD", "/" + harness_->bucket() + "/uploads/", 503, "SlowDown", 3),
       FaultProxy::s3_error("GET", "/" + harness_->bucket() + "/uploads/", 500, "InternalError",
                            3)}));
  pid_t pid = start_service("service");
  std::vector<std::string> keys;
  for (const auto& [key, status] : expected) keys.push_back(key);
  ASSERT_TRUE(settle(keys)) << logs_tail();
  EXPECT_TRUE(alive(pid));
  EXPECT_EQ(stop(pid), 0) << logs_tail();

  expect_exactly_once(expected);
  EXPECT_GE(proxy.count({{"target", "AmazonSQS.ReceiveMessage"}, {"action", "status"}}), 1);
  EXPECT_EQ(proxy.count({{"target", "AmazonSQS.DeleteMessage"}, {"action", "status"}}), 2);
  EXPECT_EQ(proxy.count({{"method", "HEAD"}, {"action", "status"}}), 3);
  EXPECT_EQ(proxy.count({{"method", "GET"}, {"action", "status"}}), 3);
}

// 4. Another process holds the SQLite database locked (BEGIN EXCLUSIVE) for longer than
// the busy timeout while messages arrive: claims fail as transient, the messages come
// back, and every job completes once the lock is gone.
TEST_F(ServiceFaults, SqliteLockedByAnotherProcessDelaysButLosesNothing) {
  // A busy timeout shorter than the lock, so at least one claim gives up.
  harness_->env()["DATABASE_BUSY_TIMEOUT"] = "2";
  pid_t pid = start_service("service");
  ASSERT_TRUE(
      ServiceHarness::wait_until([&] { return count_in_logs("dancer-analysis started") == 1; }, 60))
      << logs_tail();
  const auto db = harness_->dir() / "jobs.db";
  const auto locked = harness_->dir() / "locked";
  const std::string locker =
      "import sqlite3, sys, time\n"
      "con = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)\n"
      "con.execute('BEGIN EXCLUSIVE')\n"
      "open(sys.argv[2], 'w').close()\n"
      "time.sleep(9)\n"
      "con.execute('ROLLBACK')\n";
  pid_t lock_holder = spawn_helper({"/usr/bin/python3", "-c", locker, db.string(), locked.string()},
                                   harness_->dir() / "locker.log");
  ASSERT_TRUE(ServiceHarness::wait_until([&] { return std::filesystem::exists(locked); }, 30));

  std::map<std::string, std::string> expected;
  std::vector<std::string> keys;
  for (int i = 0; i < 2; ++i) {
    const std::string key = "uploads/locked-" + std::to_string(i) + ".mp4";
    harness_->upload_and_notify(small_video("locked-" + std::to_string(i) + ".mp4"), key);
    expected[key] = "completed";
    keys.push_back(key);
  }
  ASSERT_TRUE(
      ServiceHarness::wait_until([&] { return count_in_logs("cannot claim the job") >= 1; }, 40))
      << logs_tail();
  EXPECT_EQ(ServiceHarness::wait_for(lock_holder, 30), 0)
      << read_file(harness_->dir() / "locker.log");
  forget(lock_holder);
  ASSERT_TRUE(settle(keys)) << logs_tail();
  EXPECT_EQ(stop(pid), 0) << logs_tail();

  expect_exactly_once(expected);
  // A message whose claim failed was processed on a later delivery.
  EXPECT_LT(count_in_logs(", delivery 1)"), 2) << logs_tail();
}

// 5. PostgreSQL restarts (fast shutdown: every connection is cut) while jobs run.
TEST_F(ServiceFaults, PostgresRestartWhileJobsRunCompletesEachJobOnce) {
  auto admin_url = integration_env("DANCER_TEST_POSTGRES_URL");
  auto restart = integration_env("DANCER_TEST_POSTGRES_RESTART");
  if (!admin_url || !restart) return;
  harness_->use_new_postgres_database(*admin_url);
  harness_->use_counting_analysis("*", 1);  // each analysis takes a second
  std::map<std::string, std::string> expected;
  std::vector<std::string> keys;
  auto video = small_video("pg.mp4");
  for (int i = 0; i < 8; ++i) {
    const std::string key = "uploads/pg-" + std::to_string(i) + ".mp4";
    harness_->upload_and_notify(video, key);
    expected[key] = "completed";
    keys.push_back(key);
  }
  pid_t pid = start_service("service");
  ASSERT_TRUE(ServiceHarness::wait_until([&] { return count_in_logs(": completed in") >= 1; }, 60))
      << logs_tail();
  CommandResult restarted = run_command(*restart);
  ASSERT_EQ(restarted.exit_code, 0) << "restart command failed";
  ASSERT_TRUE(settle(keys)) << logs_tail();
  EXPECT_TRUE(alive(pid));
  EXPECT_EQ(stop(pid), 0) << logs_tail();

  auto all = harness_->jobs();
  ASSERT_EQ(all.size(), keys.size());
  auto runs = harness_->analysis_runs();
  for (const auto& job : all) {
    EXPECT_EQ(store::to_string(job.status), "completed")
        << job.object.key << ": " << job.error_message;
    EXPECT_EQ(count_in_logs("job " + std::to_string(job.id) + ": completed in"), 1);
    EXPECT_GE(runs[job.id], 1);
    // An analysis runs again only when its outcome could not be recorded while the
    // database was down: the log must say so for that job.
    if (runs[job.id] > 1) {
      const std::string id = "job " + std::to_string(job.id) + ": ";
      EXPECT_GE(count_in_logs(id + "could not record the outcome") +
                    count_in_logs(id + "transient failure"),
                runs[job.id] - 1)
          << logs_tail();
    }
  }
  EXPECT_EQ(harness_->messages_left(), 0);
}

// 6. DOWNLOAD_DIR has no room (DOWNLOAD_DIR_MAX_BYTES below the object's size): the job
// is retried, not failed; once the cap is raised it completes.
TEST_F(ServiceFaults, FullDownloadDirIsRetriedAndCompletesOnceThereIsRoom) {
  const std::string key = "uploads/roomy.mp4";
  harness_->env()["DOWNLOAD_DIR_MAX_BYTES"] = "1000";
  harness_->env()["MAX_RECEIVE_COUNT"] = "2";
  harness_->env()["RETRY_BASE_DELAY"] = "1";
  auto video = small_video("roomy.mp4");
  ASSERT_GT(std::filesystem::file_size(video), 1000u);
  harness_->upload_and_notify(video, key);
  pid_t pid = start_service("capped");
  // More deliveries than MAX_RECEIVE_COUNT: none of them spends an attempt.
  ASSERT_TRUE(
      ServiceHarness::wait_until([&] { return count_in_logs("no room on this machine") >= 3; }, 60))
      << logs_tail();
  EXPECT_EQ(stop(pid), 0) << logs_tail();
  auto job = harness_->jobs_by_key().at(key);
  EXPECT_EQ(store::to_string(job.status), "processing");
  EXPECT_NE(job.error_message.find("DOWNLOAD_DIR is full"), std::string::npos) << job.error_message;
  EXPECT_EQ(harness_->messages_left(), 1);  // returned, not deleted
  EXPECT_TRUE(harness_->analysis_runs().empty());

  harness_->env()["DOWNLOAD_DIR_MAX_BYTES"] = "64M";
  pid = start_service("roomy");
  ASSERT_TRUE(settle({key})) << logs_tail();
  EXPECT_EQ(stop(pid), 0) << logs_tail();
  expect_exactly_once({{key, "completed"}});
  EXPECT_EQ(harness_->jobs_by_key().at(key).retry_count, 0);
}

// 6b. The same with a real small file system (tmpfs), where this machine lets us mount
// one (root with CAP_SYS_ADMIN). Elsewhere it says so and proves nothing more than 6.
TEST_F(ServiceFaults, SmallTmpfsDownloadDirIsRetriedAndCompletesAfterGrowing) {
  const auto mount_point = harness_->download_dir();
  std::filesystem::create_directories(mount_point);
  if (::mount("tmpfs", mount_point.c_str(), "tmpfs", 0, "size=2m") != 0) {
    const std::string why = std::strerror(errno);
    std::cout << "TMPFS: cannot mount a small tmpfs here (" << why
              << "); the DOWNLOAD_DIR_MAX_BYTES test covers a full download directory\n";
    RecordProperty("tmpfs", "unavailable: " + why);
    return;
  }
  RecordProperty("tmpfs", "mounted");
  struct Unmount {
    std::filesystem::path path;
    ~Unmount() { ::umount2(path.c_str(), MNT_DETACH); }
  } unmount{mount_point};

  const std::string key = "uploads/tmpfs.mp4";
  harness_->env()["MAX_RECEIVE_COUNT"] = "2";
  harness_->upload_and_notify(small_video("tmpfs.mp4"), key);
  pid_t pid = start_service("small-fs");
  // 2 MB free is under DOWNLOAD_DIR_MIN_FREE (64 MiB): the service takes no work, so the
  // message spends no delivery and no attempt, however long the disk stays full.
  ASSERT_TRUE(ServiceHarness::wait_until([&] { return count_in_logs("not receiving") >= 1; }, 60))
      << logs_tail();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_TRUE(harness_->jobs_by_key().empty());
  // Grow the file system under the running service: the next delivery has room.
  ASSERT_EQ(::mount("tmpfs", mount_point.c_str(), "tmpfs", MS_REMOUNT, "size=256m"), 0)
      << std::strerror(errno);
  ASSERT_TRUE(settle({key})) << logs_tail();
  EXPECT_EQ(stop(pid), 0) << logs_tail();
  expect_exactly_once({{key, "completed"}});
  EXPECT_EQ(harness_->jobs_by_key().at(key).retry_count, 0);
}

// 7. Poison messages and poison objects are deleted or failed with a reason; the
// service keeps going and processes a good video sent after them.
TEST_F(ServiceFaults, PoisonMessagesAndObjectsDoNotStopTheService) {
  harness_->send_raw("this is not JSON {{{");
  harness_->send_raw(R"({"Records": "not a list"})");
  harness_->send_raw(R"({"Records": [{"eventName": "ObjectCreated:Put", "s3": 42}]})");
  std::string garbage(256 * 1024, ' ');
  std::mt19937 rng(7);
  for (char& c : garbage) c = static_cast<char>('!' + rng() % 90);
  harness_->send_raw(garbage);

  auto random_bytes = media_ / "random.mp4";
  run_command("head -c 200000 /dev/urandom > " + shell_quote(random_bytes.string()));
  harness_->upload_and_notify(random_bytes, "uploads/random.mp4");
  harness_->upload_and_notify(make_test_media(media_.path(), "text_as_mp4"), "uploads/text.mp4");
  harness_->upload_and_notify(make_test_media(media_.path(), "truncated_mp4"),
                              "uploads/truncated.mp4");
  harness_->upload_and_notify(small_video("good.mp4"), "uploads/good.mp4");

  pid_t pid = start_service("service");
  const std::vector<std::string> keys = {"uploads/random.mp4", "uploads/text.mp4",
                                         "uploads/truncated.mp4", "uploads/good.mp4"};
  ASSERT_TRUE(settle(keys)) << logs_tail();
  EXPECT_TRUE(alive(pid)) << logs_tail();
  EXPECT_EQ(stop(pid), 0) << logs_tail();

  expect_exactly_once({{"uploads/random.mp4", "failed"},
                       {"uploads/text.mp4", "failed"},
                       {"uploads/truncated.mp4", "failed"},
                       {"uploads/good.mp4", "completed"}});
  auto jobs = harness_->jobs_by_key();
  EXPECT_NE(jobs.at("uploads/random.mp4").error_message.find("not a readable video"),
            std::string::npos);
  EXPECT_NE(jobs.at("uploads/text.mp4").error_message.find("not a readable video"),
            std::string::npos);
  EXPECT_FALSE(jobs.at("uploads/truncated.mp4").error_message.empty());
  auto runs = harness_->analysis_runs();
  EXPECT_EQ(runs.size(), 1u);  // only the good video reached the analysis
  EXPECT_GE(count_in_logs("malformed, deleting"), 2) << logs_tail();
  EXPECT_TRUE(files_under_download_dir().empty());
}

// 8. One video makes the analysis hang: ANALYSIS_TIMEOUT kills it and fails that job;
// the other jobs complete and the service stays up.
TEST_F(ServiceFaults, HangingAnalysisTimesOutAndOthersComplete) {
  const std::string hang_key = "uploads/hang.mp4";
  harness_->use_counting_analysis(hang_key, 60);
  harness_->env()["ANALYSIS_TIMEOUT"] = "2";
  std::map<std::string, std::string> expected = {{hang_key, "failed"}};
  harness_->upload_and_notify(small_video("hang.mp4"), hang_key);
  for (int i = 0; i < 3; ++i) {
    const std::string key = "uploads/fine-" + std::to_string(i) + ".mp4";
    harness_->upload_and_notify(small_video("fine-" + std::to_string(i) + ".mp4"), key);
    expected[key] = "completed";
  }
  pid_t pid = start_service("service");
  std::vector<std::string> keys;
  for (const auto& [key, status] : expected) keys.push_back(key);
  ASSERT_TRUE(settle(keys, 90)) << logs_tail();
  EXPECT_TRUE(alive(pid));
  EXPECT_EQ(stop(pid), 0) << logs_tail();

  expect_exactly_once(expected);
  auto hung = harness_->jobs_by_key().at(hang_key);
  EXPECT_NE(hung.error_message.find("timed out"), std::string::npos) << hung.error_message;
  EXPECT_EQ(harness_->analysis_runs()[hung.id], 1);  // a timeout is not retried
  // The timeout killed the analysis's process group: the script's child is gone too
  // (gone, or a zombie waiting for a reaper, is as dead as it gets).
  ASSERT_TRUE(std::filesystem::exists(harness_->hang_pid_file()));
  const pid_t sleeper = std::stoi(read_file(harness_->hang_pid_file()));
  const auto stat_file = "/proc/" + std::to_string(sleeper) + "/stat";
  const bool gone =
      ::kill(sleeper, 0) != 0 || read_file(stat_file).find(") Z ") != std::string::npos;
  EXPECT_TRUE(gone) << "the hanging analysis's child " << sleeper << " survived the timeout";
}

// S3 answers 503 to every artifact upload for a while. The first delivery's upload attempts
// (the S3 client's and the job's own) all fail; its finished analysis stays staged in
// DOWNLOAD_DIR, and the next delivery publishes it without downloading or analysing again.
TEST_F(ServiceFaults, ArtifactUploadsFailingWith503AreRetriedWithoutRedoingTheAnalysis) {
  FaultProxy proxy(endpoint_);
  harness_->use_proxy(proxy.url());
  harness_->env().erase("ANALYSIS_COMMAND");
  harness_->env()["ANALYZER"] = "gait";  // writes report.html
  harness_->env()["RESULTS_PREFIX"] = "results/";
  const std::string key = "uploads/walk.mp4";
  analysis::SyntheticWalkSpec spec;
  spec.width = 320;
  spec.height = 180;
  auto video = media_ / "walk.mp4";
  analysis::render_synthetic_walk(spec, video);
  // 5 tries of the S3 client times 5 attempts of the job: the whole first delivery, and
  // the first tries of the second.
  const int refused = 5 * service::kUploadAttempts + 3;
  proxy.set_rules(json::array(
      {FaultProxy::s3_error("PUT", bucket_path("results/"), 503, "ServiceUnavailable", refused)}));
  harness_->upload_and_notify(video, key);

  pid_t pid = start_service("service");
  ASSERT_TRUE(settle({key}, 240)) << logs_tail();
  EXPECT_EQ(stop(pid), 0) << logs_tail();

  const auto jobs = harness_->jobs_by_key();
  ASSERT_EQ(jobs.count(key), 1u);
  const store::Job& job = jobs.at(key);
  ASSERT_EQ(store::to_string(job.status), "completed") << job.error_message << logs_tail();
  EXPECT_EQ(job.retry_count, 1);  // one delivery gave its uploads up
  EXPECT_EQ(proxy.count({{"method", "PUT"}, {"action", "status"}}), refused);
  // Downloaded and analysed once, published by the second delivery.
  EXPECT_EQ(proxy.count({{"method", "GET"}, {"path", bucket_path(key)}}), 1);
  EXPECT_EQ(count_in_logs("job " + std::to_string(job.id) + ": analysed in"), 1) << logs_tail();
  EXPECT_EQ(count_in_logs("job " + std::to_string(job.id) + ": reusing the analysis"), 1);
  EXPECT_EQ(harness_->messages_left(), 0);
  // Every artifact is where the row says, under the job's uuid, and matches its listing.
  const json results = json::parse(job.results_json);
  ASSERT_TRUE(results.contains("artifacts")) << job.results_json;
  const std::string prefix = "s3://" + harness_->bucket() + "/results/job-" + job.job_uuid + "/";
  for (const auto& artifact : results["artifacts"]) {
    const std::string location = artifact["location"];
    ASSERT_EQ(location.rfind(prefix, 0), 0u) << location;
    const auto head = harness_->s3().head_object(
        harness_->bucket(),
        location.substr(std::string("s3://").size() + harness_->bucket().size() + 1));
    EXPECT_EQ(head.size, artifact["size_bytes"].get<std::uint64_t>()) << location;
  }
  // Nothing left staged.
  EXPECT_TRUE(files_under_download_dir().empty());
}

// 9. An object S3 never serves (503 SlowDown forever) is retried until
// ApproximateReceiveCount reaches MAX_RECEIVE_COUNT, then failed and its message moved to
// DEAD_LETTER_QUEUE_URL; other work is unaffected.
TEST_F(ServiceFaults, PersistentTransientFailureGivesUpAfterMaxReceiveCountIntoTheDeadLetterQueue) {
  FaultProxy proxy(endpoint_);
  harness_->use_proxy(proxy.url());
  const std::string dlq_url = harness_->sqs().create_queue(harness_->queue_name() + "-dlq", {});
  harness_->env()["MAX_RECEIVE_COUNT"] = "3";
  harness_->env()["DEAD_LETTER_QUEUE_URL"] = dlq_url;
  const std::string doomed = "uploads/doomed.mp4";
  proxy.set_rules(
      json::array({FaultProxy::s3_error("", bucket_path(doomed), 503, "SlowDown", -1)}));

  auto video = small_video("doomed.mp4");
  harness_->s3().put_object(harness_->bucket(), doomed, video, "video/mp4");
  auto head = harness_->s3().head_object(harness_->bucket(), doomed);
  const std::string body = service::make_object_created_body(
      harness_->bucket(), doomed, static_cast<std::int64_t>(head.size), head.etag, "us-east-1");
  harness_->send_raw(body);
  harness_->upload_and_notify(small_video("fine.mp4"), "uploads/fine.mp4");

  pid_t pid = start_service("service");
  ASSERT_TRUE(settle({doomed, "uploads/fine.mp4"})) << logs_tail();
  EXPECT_EQ(stop(pid), 0) << logs_tail();

  expect_exactly_once({{doomed, "failed"}, {"uploads/fine.mp4", "completed"}});
  auto job = harness_->jobs_by_key().at(doomed);
  EXPECT_NE(job.error_message.find("gave up after 3 deliveries"), std::string::npos)
      << job.error_message;
  // Deliveries 1 and 2 were recorded as retries; delivery 3 gave up.
  EXPECT_EQ(job.retry_count, 2);
  EXPECT_EQ(count_in_logs("job " + std::to_string(job.id) + ": gave up after 3 deliveries"), 1);
  EXPECT_EQ(harness_->analysis_runs().count(job.id), 0u);

  auto dead = harness_->sqs().receive_messages(dlq_url, 10, 1, 30);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].body, body);
}

}  // namespace
}  // namespace dancer::testing

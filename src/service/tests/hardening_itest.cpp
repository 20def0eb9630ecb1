// Hardening, end to end: the real binary against the local S3+SQS emulator and a real
// SQLite file held by a second connection (a Python sqlite3 process playing the web
// backend). Each test reproduces a failure seen when the service was tried as an
// attacker or an operator would.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "service/events.h"
#include "store/job_store.h"
#include "support/service_harness.h"
#include "support/test_support.h"

namespace dancer::testing {
namespace {

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// GET http://127.0.0.1:port/path with curl: "<status> <body>".
std::string http_get(int port, const std::string& path) {
  return run_command("curl -s -m 5 -w ' %{http_code}' http://127.0.0.1:" + std::to_string(port) +
                     path)
      .output;
}

class Hardening : public ::testing::Test {
 protected:
  void SetUp() override {
    auto endpoint = integration_env("DANCER_TEST_AWS_ENDPOINT");
    if (!endpoint) GTEST_SKIP();
    harness_ = std::make_unique<ServiceHarness>(*endpoint);
  }
  void TearDown() override {
    for (pid_t pid : running_) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }

  std::filesystem::path small_video(const std::string& name) {
    auto made = make_test_media(media_.path(), "h264_mp4", 1.0);
    auto path = media_ / name;
    std::filesystem::rename(made, path);
    return path;
  }
  pid_t spawn(const std::vector<std::string>& args, const std::string& log) {
    pid_t pid = harness_->spawn(args, harness_->dir() / log);
    running_.push_back(pid);
    return pid;
  }
  int wait(pid_t pid, int seconds) {
    int code = ServiceHarness::wait_for(pid, seconds);
    running_.erase(std::remove(running_.begin(), running_.end(), pid), running_.end());
    return code;
  }
  std::string log(const std::string& name) { return read_file(harness_->dir() / name); }
  // A second connection to the job database holding the write lock for `seconds` once
  // `start_file` exists (or at once); creates `locked_file` when it holds the lock.
  pid_t hold_database_lock(double seconds, const std::filesystem::path& start_file,
                           const std::filesystem::path& locked_file) {
    const std::string script =
        "import os, sqlite3, sys, time\n"
        "start, locked, hold, db = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]\n"
        "while start and not os.path.exists(start): time.sleep(0.05)\n"
        "con = sqlite3.connect(db, isolation_level=None, timeout=60)\n"
        "con.execute('BEGIN EXCLUSIVE')\n"
        "open(locked, 'w').close()\n"
        "time.sleep(hold)\n"
        "con.execute('ROLLBACK')\n";
    pid_t pid = ServiceHarness::spawn_process(
        {"/usr/bin/python3", "-c", script, start_file.string(), locked_file.string(),
         std::to_string(seconds), (harness_->dir() / "jobs.db").string()},
        harness_->dir() / "locker.log");
    running_.push_back(pid);
    return pid;
  }

  std::unique_ptr<ServiceHarness> harness_;
  TempDir media_;
  std::vector<pid_t> running_;
};

TEST_F(Hardening, ABusyDatabaseAtTheFinalWriteDoesNotThrowTheWorkAway) {
  // The analysis takes 2 s; meanwhile the backend takes the write lock for 5 s, longer than
  // DATABASE_BUSY_TIMEOUT (1 s): the final write must be retried, not the analysis redone.
  harness_->use_counting_analysis("*", 2);
  harness_->env()["DATABASE_BUSY_TIMEOUT"] = "1";
  harness_->env()["MAX_RECEIVE_COUNT"] = "2";
  const std::string key = "uploads/busy.mp4";
  harness_->upload_and_notify(small_video("busy.mp4"), key);
  const auto locked = harness_->dir() / "locked";
  pid_t locker = hold_database_lock(5, harness_->analysis_runs_file(), locked);
  pid_t service = spawn({"run", "--until-empty"}, "service.log");
  EXPECT_EQ(wait(service, 120), 0) << log("service.log");
  EXPECT_EQ(wait(locker, 30), 0) << log("locker.log");
  ASSERT_TRUE(std::filesystem::exists(locked));
  auto job = harness_->jobs_by_key().at(key);
  EXPECT_EQ(store::to_string(job.status), "completed") << job.error_message;
  ASSERT_EQ(harness_->analysis_runs().size(), 1u);
  EXPECT_EQ(harness_->analysis_runs().begin()->second, 1);  // analysed once
  EXPECT_GE(ServiceHarness::count_occurrences(harness_->dir() / "service.log",
                                              "recording the result failed"),
            1)
      << log("service.log");
  EXPECT_EQ(harness_->messages_left(), 0);
}

TEST_F(Hardening, StartUpWaitsForALockedDatabaseAndIsNotReadyMeanwhile) {
  // The backend holds the write lock of a database whose schema the service must still
  // create (its migrations need that lock) while the service starts.
  const auto locked = harness_->dir() / "locked";
  pid_t locker = hold_database_lock(4, "", locked);
  ASSERT_TRUE(ServiceHarness::wait_until([&] { return std::filesystem::exists(locked); }, 30));
  const int port = free_port();
  harness_->env()["HEALTH_PORT"] = std::to_string(port);
  harness_->env()["DATABASE_BUSY_TIMEOUT"] = "1";
  const std::string key = "uploads/startup.mp4";
  harness_->upload_and_notify(small_video("startup.mp4"), key);
  pid_t service = spawn({"run", "--until-empty"}, "service.log");
  bool saw_not_ready = false;
  ServiceHarness::wait_until(
      [&] {
        const std::string ready = http_get(port, "/readyz");
        if (ready.size() >= 3 && ready.substr(ready.size() - 3) == "503") saw_not_ready = true;
        return saw_not_ready || !std::filesystem::exists(locked);
      },
      10);
  EXPECT_EQ(wait(locker, 30), 0) << log("locker.log");
  EXPECT_EQ(wait(service, 120), 0) << log("service.log");
  EXPECT_EQ(store::to_string(harness_->jobs_by_key().at(key).status), "completed");
  EXPECT_TRUE(saw_not_ready) << log("service.log");
  EXPECT_GE(ServiceHarness::count_occurrences(harness_->dir() / "service.log", "not available yet"),
            1)
      << log("service.log");
}

TEST_F(Hardening, ATakenDefaultHealthPortIsAWarningAnExplicitOneIsFatal) {
  // Hold the default port, as another process on the host would.
  int holder = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(holder, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  addr.sin_port = htons(8080);
  const bool we_hold_it = ::bind(holder, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                          ::listen(holder, 1) == 0;
  // If the bind failed another program holds 8080: taken either way.
  harness_->env().erase("HEALTH_PORT");
  harness_->upload_and_notify(small_video("port.mp4"), "uploads/port.mp4");
  harness_->use_counting_analysis();
  ServiceResult r = harness_->run({"run", "--until-empty"}, 120);
  EXPECT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_GE(ServiceHarness::count_occurrences(harness_->dir() / "service.log",
                                              "health server not started"),
            1)
      << "held by us: " << we_hold_it << "\n"
      << r.stderr_text;
  EXPECT_EQ(store::to_string(harness_->jobs_by_key().at("uploads/port.mp4").status), "completed");

  harness_->env()["HEALTH_PORT"] = "8080";
  ServiceResult explicit_port = harness_->run({"run", "--until-empty"}, 60);
  EXPECT_EQ(explicit_port.exit_code, 1);
  EXPECT_NE((explicit_port.stderr_text + log("service.log")).find("8080"), std::string::npos);
  ::close(holder);
}

TEST_F(Hardening, AFullDownloadDirIsNotReadyTakesNoWorkAndCompletesOnceRoomExists) {
  const int port = free_port();
  harness_->env()["HEALTH_PORT"] = std::to_string(port);
  harness_->env()["DOWNLOAD_DIR_MAX_BYTES"] = "1M";
  harness_->use_counting_analysis();
  std::filesystem::create_directories(harness_->download_dir());
  const auto junk = harness_->download_dir() / "someone-elses-2MB-file";
  std::ofstream(junk) << std::string(2 << 20, 'x');
  const std::string key = "uploads/room.mp4";
  harness_->upload_and_notify(small_video("room.mp4"), key);
  pid_t service = spawn({"run"}, "service.log");
  std::string ready;
  ASSERT_TRUE(ServiceHarness::wait_until(
      [&] {
        ready = http_get(port, "/readyz");
        return ready.find("download_dir") != std::string::npos;
      },
      30))
      << log("service.log");
  EXPECT_EQ(ready.substr(ready.size() - 3), "503") << ready;
  EXPECT_NE(ready.find("\"download_dir\":false"), std::string::npos) << ready;
  std::this_thread::sleep_for(std::chrono::seconds(3));
  // Nothing was received: no row, the message never spent a delivery.
  EXPECT_TRUE(harness_->jobs_by_key().empty());
  std::filesystem::remove(junk);
  ASSERT_TRUE(ServiceHarness::wait_until(
      [&] {
        auto jobs = harness_->jobs_by_key();
        return jobs.count(key) && store::to_string(jobs.at(key).status) == "completed";
      },
      60))
      << log("service.log");
  EXPECT_EQ(harness_->jobs_by_key().at(key).retry_count, 0);
  ready = http_get(port, "/readyz");
  EXPECT_EQ(ready.substr(ready.size() - 3), "200") << ready;
  ::kill(service, SIGTERM);
  EXPECT_EQ(wait(service, 60), 0);
}

TEST_F(Hardening, UntilEmptyAfterSigkillWaitsForTheKilledProcesssMessage) {
  harness_->env()["SQS_VISIBILITY_TIMEOUT"] = "4";
  const std::string key = "uploads/killed.mp4";
  harness_->use_counting_analysis(key, 60);
  harness_->upload_and_notify(small_video("killed.mp4"), key);
  pid_t first = spawn({"run"}, "first.log");
  ASSERT_TRUE(ServiceHarness::wait_until(
      [&] { return std::filesystem::exists(harness_->hang_pid_file()); }, 60))
      << log("first.log");
  ::kill(first, SIGKILL);
  wait(first, 10);
  // The analysis command runs in its own process group: end it too, as a pod's death would.
  ::kill(std::stoi(read_file(harness_->hang_pid_file())), SIGKILL);
  harness_->use_counting_analysis();
  // The killed process's message is still invisible: the restart must wait for it.
  ServiceResult r = harness_->run({"run", "--until-empty"}, 120);
  EXPECT_EQ(r.exit_code, 0) << r.stderr_text;
  auto job = harness_->jobs_by_key().at(key);
  EXPECT_EQ(store::to_string(job.status), "completed") << job.error_message;
  EXPECT_EQ(harness_->messages_left(), 0);
}

TEST_F(Hardening, BrokenRecordsAreRejectedAloneJsonLogsStayJsonAndRowsStayBounded) {
  harness_->env()["LOG_FORMAT"] = "json";
  harness_->env()["ANALYZER"] = "placeholder";
  // An MKV with 2 MB of tags.
  const auto meta = media_ / "meta.txt";
  {
    std::ofstream out(meta);
    out << ";FFMETADATA1\n";
    for (int i = 0; i < 20; ++i) out << "tag" << i << "=" << std::string(100000, 'a' + i) << "\n";
  }
  const auto tagged = media_ / "tagged.mkv";
  auto r = run_command(
      "timeout 60 ffmpeg -nostdin -v error -y -f lavfi -i "
      "testsrc2=size=320x240:rate=10 -i " +
      shell_quote(meta.string()) + " -map_metadata 1 -t 1 -c:v mpeg4 " +
      shell_quote(tagged.string()) + " 2>&1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  harness_->s3().put_object(harness_->bucket(), "uploads/tagged.mkv", tagged, "video/x-matroska");
  // One message: a valid record, a key that is not UTF-8, an unknown event version.
  const std::string valid = service::make_object_created_body(
      harness_->bucket(), "uploads/tagged.mkv",
      static_cast<std::int64_t>(std::filesystem::file_size(tagged)), "", "us-east-1");
  nlohmann::json body = nlohmann::json::parse(valid);
  nlohmann::json bad_key = body["Records"][0];
  bad_key["s3"]["object"]["key"] = "uploads/%FF.mp4";
  nlohmann::json bad_version = body["Records"][0];
  bad_version["eventVersion"] = "3.0";
  body["Records"].push_back(bad_key);
  body["Records"].push_back(bad_version);
  harness_->send_raw(body.dump());
  ServiceResult result = harness_->run({"run", "--until-empty"}, 120);
  EXPECT_EQ(result.exit_code, 0) << result.stderr_text;

  auto jobs = harness_->jobs_by_key();
  ASSERT_EQ(jobs.size(), 1u);
  const store::Job& job = jobs.at("uploads/tagged.mkv");
  EXPECT_EQ(store::to_string(job.status), "completed") << job.error_message;
  EXPECT_LE(job.metadata_json.size(), 256u << 10);
  const auto metadata = nlohmann::json::parse(job.metadata_json);
  EXPECT_TRUE(metadata.contains("truncated")) << job.metadata_json.substr(0, 300);
  EXPECT_EQ(metadata["streams"][0]["codec_type"], "video");
  EXPECT_EQ(harness_->messages_left(), 0);
  // Every line the process wrote to stderr is a JSON object.
  int lines = 0;
  std::istringstream err(result.stderr_text);
  for (std::string line; std::getline(err, line);) {
    if (line.empty()) continue;
    ++lines;
    EXPECT_FALSE(nlohmann::json::parse(line, nullptr, false).is_discarded()) << line;
  }
  EXPECT_GT(lines, 0);
  EXPECT_NE(result.stderr_text.find("rejected"), std::string::npos);
}

TEST_F(Hardening, FailureReasonsCarryNoLocalPathsOrHostNames) {
  const auto text = media_ / "notes.mp4";
  std::ofstream(text) << "this is not a video, only words";
  harness_->upload_and_notify(text, "uploads/notes.mp4");
  ServiceResult r = harness_->run({"run", "--until-empty"}, 120);
  EXPECT_EQ(r.exit_code, 0) << r.stderr_text;
  const store::Job job = harness_->jobs_by_key().at("uploads/notes.mp4");
  EXPECT_EQ(store::to_string(job.status), "failed");
  EXPECT_NE(job.error_message.find("not a readable video"), std::string::npos) << job.error_message;
  EXPECT_EQ(job.error_message.find(harness_->dir().string()), std::string::npos)
      << job.error_message;
  EXPECT_EQ(job.error_message.find("work-"), std::string::npos) << job.error_message;
  EXPECT_EQ(job.error_message.find("/proc/self/fd"), std::string::npos) << job.error_message;
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  EXPECT_EQ(job.error_message.find(host), std::string::npos) << job.error_message;
}

// The red team read the database, the log and other jobs' videos from a compromised child;
// besides the sandbox (child_sandbox_test.cpp), what the service creates is its own.
TEST_F(Hardening, WhatTheServiceCreatesOnlyItsOwnUserCanRead) {
  // An analysis command that reports the modes of the downloaded video and its directory
  // while the job runs (they are removed after it).
  const auto script = harness_->dir() / "modes.sh";
  std::ofstream(script) << "#!/bin/sh\n"
                        << "printf '{\"analyzer\": \"modes\", \"video\": \"%s\", \"dir\": "
                           "\"%s\"}\\n' \"$(stat -c %a \"$1\")\" \"$(stat -c %a \"$(dirname "
                           "\"$1\")\")\"\n";
  std::filesystem::permissions(script, std::filesystem::perms::owner_all);
  harness_->env()["ANALYSIS_COMMAND"] = script.string();
  harness_->upload_and_notify(small_video("walk.mp4"), "uploads/walk.mp4");
  ServiceResult r = harness_->run({"run", "--until-empty"}, 180);
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  const store::Job job = harness_->jobs_by_key().at("uploads/walk.mp4");
  ASSERT_EQ(store::to_string(job.status), "completed") << job.error_message;
  const auto analysis = nlohmann::json::parse(job.results_json).at("analysis");
  EXPECT_EQ(analysis.at("video"), "600");
  EXPECT_EQ(analysis.at("dir"), "700");
  const auto mode = [](const std::filesystem::path& path) {
    return std::filesystem::status(path).permissions() & std::filesystem::perms::all;
  };
  const auto group_or_others =
      std::filesystem::perms::group_all | std::filesystem::perms::others_all;
  for (const auto& path :
       {harness_->dir() / "jobs.db", harness_->dir() / "service.log", harness_->download_dir()}) {
    ASSERT_TRUE(std::filesystem::exists(path)) << path;
    EXPECT_EQ(mode(path) & group_or_others, std::filesystem::perms::none) << path;
  }
}

}  // namespace
}  // namespace dancer::testing

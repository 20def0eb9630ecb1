// Load, end to end: 500 notifications consumed by 3 service processes x 2 workers from
// one queue into one database (PostgreSQL, then SQLite shared by the 3 processes).
// Asserts that every object completed exactly once; prints throughput for the README
// (no timing assertions: the machine's speed is not the service's behaviour).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <sstream>
#include <thread>
#include <utility>
#include <vector>

#include "service/events.h"
#include "store/job_store.h"
#include "support/service_harness.h"
#include "support/test_support.h"

namespace dancer::testing {
namespace {

constexpr int kMessages = 500;
constexpr int kProcesses = 3;
constexpr int kWorkersPerProcess = 2;

class ServiceLoad : public ::testing::TestWithParam<std::string> {
 protected:
  void TearDown() override {
    for (pid_t pid : running_) {
      ::kill(pid, SIGKILL);
      int status = 0;
      ::waitpid(pid, &status, 0);
    }
  }

  std::vector<pid_t> running_;
};

TEST_P(ServiceLoad, FiveHundredMessagesThreeProcessesEachJobCompletedExactlyOnce) {
  auto endpoint = integration_env("DANCER_TEST_AWS_ENDPOINT");
  if (!endpoint) GTEST_SKIP();
  // "<database>" or "<database>_builtin_analysis".
  const std::string variant = GetParam();
  const bool builtin_analysis = variant.find("_builtin_analysis") != std::string::npos;
  ServiceHarness harness(*endpoint);
  if (variant.rfind("postgres", 0) == 0) {
    auto admin_url = integration_env("DANCER_TEST_POSTGRES_URL");
    if (!admin_url) return;
    harness.use_new_postgres_database(*admin_url);
  }
  auto& env = harness.env();
  env["MAX_WORKERS"] = std::to_string(kWorkersPerProcess);
  env["LOG_FILE"] = "";
  env["LOG_LEVEL"] = "INFO";
  env["SQS_VISIBILITY_TIMEOUT"] = "30";
  env["RETRY_BASE_DELAY"] = "1";
  env["RETRY_MAX_DELAY"] = "4";
  env["SHUTDOWN_TIMEOUT"] = "10";
  // Counts analysis runs per job: the proof that no job's analysis ran twice. The
  // built-in variant measures the real analysis (a child process per job) instead.
  if (!builtin_analysis) harness.use_counting_analysis();
  // The real child, with the silhouette analyzer: the cheapest built-in one, so 500 jobs stay
  // within a test's time on 2 cores (the pose analyzer loads its models in every child).
  if (builtin_analysis) env["ANALYZER"] = "gait";

  TempDir media;
  const auto video = media / "tiny.mp4";
  ASSERT_EQ(run_command("ffmpeg -v error -y -f lavfi -i testsrc2=size=160x120:rate=10 -t 0.5 "
                        "-c:v libx264 -pix_fmt yuv420p " +
                        shell_quote(video.string()))
                .exit_code,
            0);
  // One upload, then cheap copies' notifications: 500 distinct keys of the same bytes.
  std::vector<std::string> keys;
  for (int i = 0; i < kMessages; ++i) {
    char name[64];
    std::snprintf(name, sizeof(name), "uploads/load/walk-%04d.mp4", i);
    keys.emplace_back(name);
    harness.upload_and_notify(video, keys.back());
  }

  const auto started = std::chrono::steady_clock::now();
  std::vector<std::filesystem::path> logs;
  for (int p = 0; p < kProcesses; ++p) {
    logs.push_back(harness.dir() / ("process-" + std::to_string(p) + ".log"));
    running_.push_back(harness.spawn({"run"}, logs.back()));
  }
  auto tail_of_logs = [&] {
    std::string all;
    for (const auto& log : logs) {
      std::string text = read_file(log);
      if (text.size() > 4000) text = text.substr(text.size() - 4000);
      all += "\n===== " + log.filename().string() + "\n" + text;
    }
    return all;
  };
  // Polled once a second so the test's own queries stay out of the way.
  bool settled = false;
  const auto deadline = started + std::chrono::seconds(300);
  while (!settled && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    settled = harness.all_terminal_and_queue_empty(keys);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ASSERT_TRUE(settled) << tail_of_logs();
  for (pid_t pid : running_) {
    ::kill(pid, SIGTERM);
    EXPECT_EQ(ServiceHarness::wait_for(pid, 40), 0) << tail_of_logs();
  }
  running_.clear();

  auto jobs = harness.jobs();
  auto runs = harness.analysis_runs();
  std::map<std::string, int> rows_per_key;
  for (const auto& job : jobs) ++rows_per_key[job.object.key];
  int lost = 0, duplicated = 0;
  for (const auto& key : keys) {
    if (rows_per_key[key] != 1) ++lost;
  }
  // Per job, across all processes, its attempts in time (every line starts with its UTC
  // timestamp, fixed width, so the text orders them): each "processing" opens an attempt, and
  // the attempt must end before the next opens, either completed or with a logged failure to
  // be retried ("transient failure", "no room": a transient error of the emulator or the
  // database under this load is the retry the lifecycle promises). The job must complete once.
  // Two attempts open at once, an attempt that ends otherwise (a lost lease shows as "could
  // not record the outcome") or a second completion are duplicates.
  enum Mark { kRetried = 0, kCompleted = 1, kStarted = 2 };  // at one instant, ends come first
  std::map<std::int64_t, std::vector<std::pair<std::string, int>>> marks;
  std::map<std::int64_t, int> starts, completions, retried;
  std::vector<int> completed_per_process;
  for (const auto& log : logs) {
    int completed_here = 0;
    std::istringstream lines(read_file(log));
    std::string line;
    while (std::getline(lines, line)) {
      const auto at = line.find("] job ");
      if (at == std::string::npos) continue;
      const std::string rest = line.substr(at + 6);
      const auto colon = rest.find(": ");
      if (rest.empty() || !std::isdigit(static_cast<unsigned char>(rest[0])) ||
          colon == std::string::npos) {
        continue;
      }
      const std::int64_t id = std::stoll(rest);
      const std::string what = rest.substr(colon + 2);
      const std::string when = line.substr(0, line.find(' '));
      if (what.rfind("processing ", 0) == 0) {
        ++starts[id];
        marks[id].emplace_back(when, kStarted);
      }
      if (what.rfind("transient failure", 0) == 0 || what.rfind("no room", 0) == 0) {
        ++retried[id];
        marks[id].emplace_back(when, kRetried);
      }
      if (what.rfind("completed in", 0) == 0) {
        ++completions[id];
        ++completed_here;
        marks[id].emplace_back(when, kCompleted);
      }
    }
    completed_per_process.push_back(completed_here);
  }
  const auto attempts_in_turn = [&](std::int64_t id) {
    auto& m = marks[id];
    std::sort(m.begin(), m.end());
    bool open = false;
    int completed = 0;
    for (const auto& [when, mark] : m) {
      if (mark == kStarted) {
        if (open) return false;  // two attempts at once
        open = true;
      } else {
        if (!open) return false;  // an end without its start
        open = false;
        completed += mark == kCompleted ? 1 : 0;
      }
    }
    return !open && completed == 1;  // so every start but the last ended in a retry
  };
  std::string duplicates;  // every log line of each duplicated job, for the failure message
  int retries = 0;
  for (const auto& job : jobs) {
    if (job.status != store::JobStatus::kCompleted) ++lost;
    const bool analysis_repeated = !builtin_analysis && runs[job.id] != 1;
    retries += retried[job.id];
    if (analysis_repeated || !attempts_in_turn(job.id)) {
      ++duplicated;
      duplicates += "job " + std::to_string(job.id) + " (" + job.object.key + "): started " +
                    std::to_string(starts[job.id]) + ", completed " +
                    std::to_string(completions[job.id]) + ", analysed " +
                    std::to_string(runs[job.id]) + "\n";
      for (const auto& log : logs) {
        std::istringstream lines(read_file(log));
        std::string line;
        while (std::getline(lines, line)) {
          if (line.find("job " + std::to_string(job.id) + ":") != std::string::npos ||
              line.find(job.object.key) != std::string::npos) {
            duplicates += log.filename().string() + ": " + line + "\n";
          }
        }
      }
    }
  }
  char line[320];
  std::snprintf(line, sizeof(line),
                "LOAD: %d messages, %d processes x %d workers, %s, %.1f s, %.1f msg/s, lost %d, "
                "duplicated %d, retried after a logged failure %d",
                kMessages, kProcesses, kWorkersPerProcess, variant.c_str(), seconds,
                kMessages / seconds, lost, duplicated, retries);
  std::cout << line << "\n";
  std::cout << "LOAD: jobs completed per process:";
  for (int n : completed_per_process) std::cout << " " << n;
  std::cout << "\n";
  RecordProperty("load", line);

  EXPECT_EQ(jobs.size(), static_cast<std::size_t>(kMessages));
  EXPECT_EQ(lost, 0);
  EXPECT_EQ(duplicated, 0) << duplicates;
  if (!builtin_analysis) {
    EXPECT_EQ(runs.size(), static_cast<std::size_t>(kMessages));
  }
  EXPECT_EQ(harness.messages_left(), 0);
}

INSTANTIATE_TEST_SUITE_P(Databases, ServiceLoad,
                         ::testing::Values("postgres", "sqlite", "postgres_builtin_analysis"),
                         [](const ::testing::TestParamInfo<std::string>& param_info) {
                           return param_info.param;
                         });

}  // namespace
}  // namespace dancer::testing

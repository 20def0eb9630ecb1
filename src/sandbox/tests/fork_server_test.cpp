// The fork server's lifecycle, with sandbox_probe as the server (`sandbox_probe fork-server 3`,
// started with the service's sandbox defaults): one fresh child per job, the job's
// descriptors and limits only, kills at the time limit and on cancellation, and no job
// outliving the server. What a forked child may do is in sandbox_test.cpp.
#include "sandbox/fork_server.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "common/fd.h"
#include "sandbox/sandbox.h"
#include "support/test_support.h"

namespace dancer::analysis {
namespace {

using dancer::testing::TempDir;

std::unique_ptr<ForkServer> start_probe_server() {
  return ForkServer::start(sandboxed_child_options({DANCER_SANDBOX_PROBE, "fork-server", "3"}), 3,
                           std::chrono::seconds(60));
}

SubprocessOptions job_of(std::vector<std::string> args) {
  SubprocessOptions job;
  job.argv = std::move(args);
  job.timeout = std::chrono::seconds(30);
  return job;
}

bool process_exists(pid_t pid) { return ::kill(pid, 0) == 0 || errno == EPERM; }

TEST(ForkServer, EveryJobRunsInAFreshChildThatServesOnlyIt) {
  const auto server = start_probe_server();
  ASSERT_GT(server->pid(), 0);
  std::set<pid_t> pids;
  for (int i = 0; i < 3; ++i) {
    const SubprocessResult r = server->run(job_of({"whoami"}));
    ASSERT_TRUE(r.succeeded()) << r.describe() << "\n" << r.stderr_text;
    std::istringstream words(r.stdout_text);
    std::string pid_word, served_word;
    int pid = 0, served = 0;
    words >> pid_word >> pid >> served_word >> served;
    // The child counted one job, the one it ran; the server has run none itself.
    EXPECT_EQ(served, 1) << r.stdout_text;
    EXPECT_EQ(pid, r.pid);
    EXPECT_NE(pid, server->pid());
    pids.insert(r.pid);
    // The job's child is gone once its result is in: it cannot serve another.
    EXPECT_FALSE(process_exists(r.pid));
  }
  EXPECT_EQ(pids.size(), 3u);
  EXPECT_TRUE(process_exists(server->pid()));
}

TEST(ForkServer, AJobsChildHasItsDescriptorsAndNoOther) {
  const auto server = start_probe_server();
  TempDir dir;
  const common::UniqueFd a(::open((dir / "a").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
  const common::UniqueFd b(::open((dir / "b").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
  SubprocessOptions job = job_of({"fds"});
  job.inherit_fds = {{3, a.get()}, {9, b.get()}};
  const SubprocessResult r = server->run(job);
  ASSERT_TRUE(r.succeeded()) << r.describe() << "\n" << r.stderr_text;
  // stdin (the server's /dev/null), the job's stdout and stderr pipes, and the two files: not
  // the server's control socket, its signal descriptor, nor another job's files.
  EXPECT_EQ(r.stdout_text, "fd 0\nfd 1\nfd 2\nfd 3\nfd 9\n");
}

TEST(ForkServer, AJobsChildHasTheJobsLimits) {
  const auto server = start_probe_server();
  SubprocessOptions job = job_of({"limits"});
#if !defined(__SANITIZE_ADDRESS__)
  // AddressSanitizer reserves terabytes of address space, which RLIMIT_AS would refuse.
  job.memory_limit_bytes = 3u << 30;
#endif
  job.cpu_limit_seconds = 40;
  job.file_size_limit_bytes = 12345;
  const SubprocessResult r = server->run(job);
  ASSERT_TRUE(r.succeeded()) << r.describe() << "\n" << r.stderr_text;
#if !defined(__SANITIZE_ADDRESS__)
  EXPECT_NE(r.stdout_text.find("limit as 3221225472 3221225472\n"), std::string::npos)
      << r.stdout_text;
#endif
  // SIGXCPU at the limit, SIGKILL 5 s later, as an executed child has them.
  EXPECT_NE(r.stdout_text.find("limit cpu 40 45\n"), std::string::npos) << r.stdout_text;
  EXPECT_NE(r.stdout_text.find("limit fsize 12345 12345\n"), std::string::npos) << r.stdout_text;

  // The next job, without limits, does not inherit them: they were the child's, not the
  // server's.
  const SubprocessResult next = server->run(job_of({"limits"}));
  EXPECT_EQ(next.stdout_text.find("limit fsize 12345"), std::string::npos) << next.stdout_text;
}

TEST(ForkServer, TheTimeLimitAndCancellationKillTheJobsChild) {
  const auto server = start_probe_server();
  SubprocessOptions job = job_of({"sleep"});
  job.timeout = std::chrono::milliseconds(300);
  const SubprocessResult timed = server->run(job);
  EXPECT_TRUE(timed.timed_out);
  EXPECT_EQ(timed.term_signal, SIGKILL);
  EXPECT_EQ(timed.stdout_text, "sleeping\n");
  EXPECT_FALSE(process_exists(timed.pid));

  std::atomic<bool> cancel{false};
  SubprocessOptions cancelled = job_of({"sleep"});
  cancelled.cancel = &cancel;
  std::thread canceller([&cancel] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    cancel = true;
  });
  const SubprocessResult r = server->run(cancelled);
  canceller.join();
  EXPECT_TRUE(r.cancelled);
  EXPECT_EQ(r.term_signal, SIGKILL);
  EXPECT_FALSE(process_exists(r.pid));
  // The server goes on.
  EXPECT_TRUE(server->run(job_of({"whoami"})).succeeded());
}

TEST(ForkServer, AJobsChildDiesWithTheServerAndTheServerIsThenGone) {
  const auto server = start_probe_server();
  // The child says on descriptor 3 that it runs; then the server is killed from outside.
  int pipe_fds[2];
  ASSERT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
  common::UniqueFd started(pipe_fds[0]), started_write(pipe_fds[1]);
  SubprocessOptions job = job_of({"sleep"});
  job.inherit_fds = {{3, started_write.get()}};
  SubprocessResult r;
  std::thread runner([&] { r = server->run(job); });
  char byte = 0;
  ASSERT_EQ(::read(started.get(), &byte, 1), 1);
  ASSERT_EQ(::kill(server->pid(), SIGKILL), 0);
  runner.join();
  EXPECT_EQ(r.term_signal, SIGKILL) << r.describe();
  EXPECT_FALSE(r.succeeded());
  ASSERT_GT(r.pid, 0);
  // PR_SET_PDEATHSIG: the job's child did not outlive its server.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (process_exists(r.pid) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_FALSE(process_exists(r.pid));
  EXPECT_FALSE(server->alive());
  EXPECT_THROW(server->run(job_of({"whoami"})), ForkServerGone);
}

TEST(ForkServer, AServerThatEndsBeforeItIsReadyIsReported) {
  // Descriptor 9 is not a socket: the probe's serve_fork_requests cannot say "ready".
  SubprocessOptions options = sandboxed_child_options({DANCER_SANDBOX_PROBE, "fork-server", "9"});
  try {
    ForkServer::start(options, 3, std::chrono::seconds(60));
    FAIL() << "started";
  } catch (const ForkServerGone& e) {
    EXPECT_NE(std::string(e.what()).find("ended before it was ready"), std::string::npos)
        << e.what();
  }
}

TEST(ForkServer, AJobMayNotChooseItsOwnEnvironmentOrUser) {
  const auto server = start_probe_server();
  SubprocessOptions job = job_of({"whoami"});
  job.environment = std::vector<std::string>{"AWS_SECRET_ACCESS_KEY=x"};
  EXPECT_THROW(server->run(job), std::invalid_argument);
  job = job_of({"whoami"});
  job.inherit_fds = {{2, 0}};
  EXPECT_THROW(server->run(job), std::invalid_argument);
}

}  // namespace
}  // namespace dancer::analysis

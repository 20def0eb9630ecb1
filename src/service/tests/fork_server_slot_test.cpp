// The runner's fork server slot: a server that dies is started again on a later job, a server
// that cannot start leaves the jobs to executed children, and starts are tried at most once
// per restart pause. The servers are real (`child fork-server` of the test child, through
// start_fork_server) and the jobs are real sandboxed children.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "analysis/child_protocol.h"
#include "common/fd.h"
#include "service/analysis_runner.h"
#include "service/fork_server_slot.h"
#include "support/test_support.h"

namespace dancer::service {
namespace {

using dancer::testing::TempDir;
using nlohmann::json;

std::unique_ptr<analysis::ForkServer> start_test_server() {
  return start_fork_server(DANCER_CHILD_OPEN_PROBE, analysis::child_protocol::ChildRequest{});
}

// One job as the runner runs it: executed when `server` is null or gone. It tries to open
// /etc/passwd inside the sandbox; the child's answer (refused) shows it ran, and confined.
int sandboxed_job_errno(analysis::ForkServer* server) {
  TempDir dir;
  std::ofstream(dir / "paths.json") << json::array({"/etc/passwd"}).dump();
  const common::UniqueFd list(::open((dir / "paths.json").c_str(), O_RDONLY | O_CLOEXEC));
  analysis::child_protocol::ChildRequest request;
  request.mode = "open-probe";
  request.metadata_fd = 3;
  analysis::SubprocessOptions options;
  options.inherit_fds = {{3, list.get()}};
  const json result =
      run_sandboxed_child(DANCER_CHILD_OPEN_PROBE, request, options,
                          {"open-probe", "ANALYSIS_TIMEOUT", 60, "ANALYSIS_MEMORY_LIMIT_MB", 0},
                          std::chrono::seconds(60), 60, 1, server);
  return result.at("attempts").at("/etc/passwd").at("open").at("errno").get<int>();
}

void kill_and_wait(analysis::ForkServer& server) {
  ASSERT_EQ(::kill(server.pid(), SIGKILL), 0);
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (server.alive() && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_FALSE(server.alive());
}

TEST(ForkServerSlot, ADeadServerIsStartedAgainOnTheNextJobAfterThePause) {
  ForkServerSlot slot(start_test_server, std::chrono::seconds(0));
  const auto first = slot.get();
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(slot.get(), first);  // alive: kept, not started again
  EXPECT_EQ(slot.starts(), 1);
  kill_and_wait(*first);

  const auto second = slot.get();
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(slot.starts(), 2);
  EXPECT_TRUE(second->alive());
  EXPECT_NE(second->pid(), first->pid());
  EXPECT_EQ(sandboxed_job_errno(second.get()), EACCES);
}

TEST(ForkServerSlot, WithinThePauseJobsAreExecutedAndSandboxedAsWithoutAServer) {
  ForkServerSlot slot(start_test_server);  // the service's 30 s pause
  const auto first = slot.get();
  ASSERT_NE(first, nullptr);
  kill_and_wait(*first);

  EXPECT_EQ(slot.get(), nullptr);
  EXPECT_EQ(slot.starts(), 1);
  // What the runner does then: no server, the child is executed.
  EXPECT_EQ(sandboxed_job_errno(nullptr), EACCES);
  // A job handed the dead server before the slot noticed is executed instead (ForkServerGone).
  EXPECT_EQ(sandboxed_job_errno(first.get()), EACCES);
}

TEST(ForkServerSlot, AServerThatCannotStartIsTriedOncePerPause) {
  int calls = 0;
  const auto failing = [&calls]() -> std::unique_ptr<analysis::ForkServer> {
    ++calls;
    return start_fork_server("/nonexistent/dancer-analysis",
                             analysis::child_protocol::ChildRequest{});
  };
  ForkServerSlot slow(failing);
  EXPECT_EQ(slow.get(), nullptr);
  EXPECT_EQ(slow.get(), nullptr);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(slow.starts(), 1);

  ForkServerSlot eager(failing, std::chrono::seconds(0));
  EXPECT_EQ(eager.get(), nullptr);
  EXPECT_EQ(eager.get(), nullptr);
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(sandboxed_job_errno(nullptr), EACCES);
}

}  // namespace
}  // namespace dancer::service

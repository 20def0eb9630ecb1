// A pre-initialised parent that forks one fresh child per job, as Chrome's and Android's
// zygotes do: the program is executed, its libraries linked and its models parsed once, when
// the service starts, instead of once per probe and per analysis.
//
// The server is started like any analysis child (run_subprocess with the sandbox defaults:
// the minimal environment, the unprivileged user, no_new_privs, descriptors only, death with
// the parent), loads what it preloads, then confines itself (enter_sandbox(kForkServer))
// before the first request, so it never reads an untrusted byte unconfined. For each job it
// forks a child that:
//  - gets exactly the job's descriptors (stdout and stderr pipes, the job's files) and
//    closes every other, the server's control socket and other jobs' included;
//  - gets the job's RLIMIT_AS, RLIMIT_CPU (counted from the fork) and RLIMIT_FSIZE;
//  - dies with the server (PR_SET_PDEATHSIG), which dies with the service;
//  - runs in a process group of its own, which the server kills at the client's word (time
//    limit, cancellation, output overflow) or when the client goes;
//  - runs the handler, which enters the child's sandbox (the whole filter, stacked on the
//    server's) before it reads input, serves that one job, and exits: no child serves twice.
//
// Protocol (AF_UNIX SOCK_SEQPACKET, so each message arrives whole):
//  client -> server, control socket: one request, {"args", "fds", "memory", "cpu", "fsize"}
//    as JSON, with SCM_RIGHTS [job socket, stdout, stderr, the job's descriptors];
//  server -> client, control socket: "ready" once, after the preloading;
//  server -> client, job socket: "pid <n>" after the fork, "status <wait status>" once
//    reaped ("error <errno>" when fork failed); client -> server: "kill".
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/fd.h"
#include "sandbox/subprocess.h"

namespace dancer::analysis {

// The server is not running (it never started, ended, or its socket closed): the job did
// not start. The caller may start a new server or execute the child directly.
class ForkServerGone : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The server's side, in the server process after its preloading and its sandbox. Says
// "ready" on `control_fd`, then serves requests until the client closes it; then kills the
// jobs still running, reaps them and returns. `job` runs in each forked child, with the
// request's args, after the descriptors, limits and parent-death signal are in place; its
// return value is the child's exit code.
using ForkedJob = std::function<int(const std::vector<std::string>& args)>;
void serve_fork_requests(int control_fd, const ForkedJob& job);

// The client's side, in the service. Thread-safe: workers run jobs concurrently.
class ForkServer {
 public:
  // Starts `server` (a program that calls serve_fork_requests on descriptor
  // `control_child_fd`; its stdout and stderr are kept, bounded, for the reason of a failure)
  // and waits up to `ready_timeout` for its "ready". Throws ForkServerGone with the server's
  // stderr when it ends first or stays silent.
  static std::unique_ptr<ForkServer> start(SubprocessOptions server, int control_child_fd,
                                           std::chrono::milliseconds ready_timeout);
  // Closes the control socket: the server kills its running jobs and exits. Waits for it.
  ~ForkServer();
  ForkServer(const ForkServer&) = delete;
  ForkServer& operator=(const ForkServer&) = delete;

  // Runs one job in a fresh child of the server: `job.argv` are the handler's args; timeout,
  // memory, CPU and file-size limits, output limits, cancel and inherit_fds mean what they
  // mean for run_subprocess. The environment, user and privileges are the server's: setting
  // them here is an error (std::invalid_argument). Throws ForkServerGone when the server was
  // gone before the job started; a server that dies during the job ends the job's child
  // with it (a SIGKILL in the result, as the kernel's OOM killer would give).
  SubprocessResult run(const SubprocessOptions& job);

  bool alive() const { return alive_.load(); }
  pid_t pid() const { return pid_.load(); }

 private:
  ForkServer() = default;

  common::UniqueFd control_;
  std::mutex send_mutex_;
  std::thread waiter_;  // runs the server (run_subprocess) until it ends
  std::atomic<bool> alive_{false};
  std::atomic<pid_t> pid_{0};
  std::atomic<bool> stop_{false};
  std::shared_ptr<SubprocessResult> server_result_;
};

}  // namespace dancer::analysis

#include "sandbox/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <system_error>
#include <thread>

#include "common/fd.h"
#include "sandbox/child_output.h"

namespace dancer::analysis {
namespace {

using common::UniqueFd;

struct Pipe {
  UniqueFd read_end;
  UniqueFd write_end;
};

Pipe make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    throw std::system_error(errno, std::generic_category(), "pipe2");
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// What the child reports on the setup pipe when a step before exec fails.
enum class SetupStep : int {
  kPlaceFds = 1,
  kCloseFds,
  kNoNewPrivs,
  kSetGroups,
  kSetGid,
  kSetUid,
  kRegainedRoot,
  kLimits,
  kParentDeath,
};

struct SetupFailure {
  int step = 0;
  int error = 0;
};

const char* step_name(int step) {
  switch (static_cast<SetupStep>(step)) {
    case SetupStep::kPlaceFds:
      return "placing file descriptors";
    case SetupStep::kCloseFds:
      return "closing inherited file descriptors";
    case SetupStep::kNoNewPrivs:
      return "prctl(PR_SET_NO_NEW_PRIVS)";
    case SetupStep::kSetGroups:
      return "setgroups";
    case SetupStep::kSetGid:
      return "setresgid";
    case SetupStep::kSetUid:
      return "setresuid";
    case SetupStep::kRegainedRoot:
      return "verifying the dropped privileges (uid or gid 0 could be regained)";
    case SetupStep::kLimits:
      return "setrlimit";
    case SetupStep::kParentDeath:
      return "prctl(PR_SET_PDEATHSIG)";
  }
  return "setup";
}

// Child side, between fork and exec: only async-signal-safe calls, no allocation.
[[noreturn]] void fail_setup(int report_fd, SetupStep step, int error) {
  SetupFailure failure{static_cast<int>(step), error};
  ssize_t ignored = ::write(report_fd, &failure, sizeof failure);
  (void)ignored;
  _exit(127);
}

// Marks every descriptor from `first` up as close-on-exec. close_range (Linux 5.11 for
// CLOSE_RANGE_CLOEXEC) does it in one call; older kernels get the loop.
bool cloexec_from(int first) {
#ifdef SYS_close_range
  constexpr long kCloseRangeCloexec = 1L << 2;  // CLOSE_RANGE_CLOEXEC, linux/close_range.h
  constexpr long kLast = 0xffffffffL;           // the highest unsigned int: all descriptors
  if (::syscall(SYS_close_range, static_cast<long>(first), kLast, kCloseRangeCloexec) == 0) {
    return true;
  }
#endif
  rlimit files{};
  if (::getrlimit(RLIMIT_NOFILE, &files) != 0) return false;
  const rlim_t last = std::min<rlim_t>(files.rlim_cur, rlim_t{1} << 20);
  for (rlim_t fd = static_cast<rlim_t>(first); fd < last; ++fd) {
    ::fcntl(static_cast<int>(fd), F_SETFD, FD_CLOEXEC);  // EBADF for unused numbers
  }
  return true;
}

}  // namespace

std::string SubprocessResult::describe() const {
  if (timed_out) return "timed out (killed)";
  if (cancelled) return "cancelled (killed)";
  if (term_signal != 0) {
    const char* name = sigabbrev_np(term_signal);
    return "killed by signal " + std::to_string(term_signal) +
           (name != nullptr ? std::string(" (SIG") + name + ")" : std::string());
  }
  return "exit code " + std::to_string(exit_code);
}

namespace {

void check_options(const SubprocessOptions& options) {
  if (options.argv.empty()) throw std::invalid_argument("run_subprocess: empty argv");
  if (options.run_as && (options.run_as->uid == 0 || options.run_as->gid == 0)) {
    throw std::invalid_argument("run_subprocess: run_as must name an unprivileged user");
  }
  detail::check_inherit_fds(options.inherit_fds, "run_subprocess");
}

// Everything the child needs between fork and exec, prepared before fork: the child side may
// not allocate (only async-signal-safe calls are allowed there in a threaded parent).
struct ChildPlan {
  std::vector<char*> argv;
  std::vector<char*> envp;  // empty: the parent's environment
  rlimit memory{};
  rlimit file_size{};
  rlimit cpu{};
  // {child fd, parent fd} for stdin/stdout/stderr and the caller's descriptors.
  std::vector<std::pair<int, int>> placements;
  std::vector<int> staged;  // the placements' copies above every target, made in the child
  int highest_target = STDERR_FILENO;
  RunAs run_as;
  pid_t parent = 0;
};

ChildPlan plan_child(const SubprocessOptions& options, int stdin_fd, int stdout_fd, int stderr_fd) {
  ChildPlan plan;
  plan.argv.reserve(options.argv.size() + 1);
  for (const auto& arg : options.argv) plan.argv.push_back(const_cast<char*>(arg.c_str()));
  plan.argv.push_back(nullptr);
  if (options.environment) {
    plan.envp.reserve(options.environment->size() + 1);
    for (const auto& entry : *options.environment) {
      plan.envp.push_back(const_cast<char*>(entry.c_str()));
    }
    plan.envp.push_back(nullptr);
  }
  if (options.memory_limit_bytes) {
    plan.memory.rlim_cur = plan.memory.rlim_max = static_cast<rlim_t>(*options.memory_limit_bytes);
  }
  if (options.file_size_limit_bytes) {
    plan.file_size.rlim_cur = plan.file_size.rlim_max =
        static_cast<rlim_t>(*options.file_size_limit_bytes);
  }
  if (options.cpu_limit_seconds) {
    plan.cpu.rlim_cur = static_cast<rlim_t>(*options.cpu_limit_seconds);
    plan.cpu.rlim_max = plan.cpu.rlim_cur + 5;  // SIGXCPU first, SIGKILL 5 s later
  }
  plan.placements = {
      {STDIN_FILENO, stdin_fd}, {STDOUT_FILENO, stdout_fd}, {STDERR_FILENO, stderr_fd}};
  plan.placements.insert(plan.placements.end(), options.inherit_fds.begin(),
                         options.inherit_fds.end());
  for (const auto& placement : plan.placements) {
    plan.highest_target = std::max(plan.highest_target, placement.first);
  }
  plan.staged.assign(plan.placements.size(), -1);
  plan.run_as = options.run_as.value_or(RunAs{});
  plan.parent = ::getpid();
  return plan;
}

// Child side, after fork: places the descriptors, applies the limits, drops privileges and
// execs; any failing step is reported on the setup pipe (`setup_fd`) and ends the child.
[[noreturn]] void exec_child(const SubprocessOptions& options, ChildPlan& plan, int setup_fd) {
  ::setpgid(0, 0);
  // The parent may have blocked SIGTERM/SIGINT for its signal thread; the child must not inherit
  // that.
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);

  // Descriptors: a source may sit on another placement's target number (dup2 would
  // clobber it), so every source and the setup pipe are first copied above all targets
  // (F_DUPFD_CLOEXEC picks the lowest free number >= its argument). Then everything from
  // 3 up is marked close-on-exec, parent descriptors opened without O_CLOEXEC included
  // (a database socket must not reach the child), and dup2 puts each copy on its target
  // with close-on-exec cleared (dup2 never copies FD_CLOEXEC).
  const int above = plan.highest_target + 1;
  const int report_fd = ::fcntl(setup_fd, F_DUPFD_CLOEXEC, above);
  if (report_fd < 0) fail_setup(setup_fd, SetupStep::kPlaceFds, errno);
  for (std::size_t i = 0; i < plan.placements.size(); ++i) {
    plan.staged[i] = ::fcntl(plan.placements[i].second, F_DUPFD_CLOEXEC, above);
    if (plan.staged[i] < 0) fail_setup(report_fd, SetupStep::kPlaceFds, errno);
  }
  int program_fd = -1;
  if (options.program_fd) {
    program_fd = ::fcntl(*options.program_fd, F_DUPFD_CLOEXEC, above);
    if (program_fd < 0) fail_setup(report_fd, SetupStep::kPlaceFds, errno);
  }
  if (!cloexec_from(3)) fail_setup(report_fd, SetupStep::kCloseFds, errno);
  if (options.memory_limit_bytes && ::setrlimit(RLIMIT_AS, &plan.memory) != 0) {
    fail_setup(report_fd, SetupStep::kLimits, errno);
  }
  if (options.cpu_limit_seconds && ::setrlimit(RLIMIT_CPU, &plan.cpu) != 0) {
    fail_setup(report_fd, SetupStep::kLimits, errno);
  }
  if (options.file_size_limit_bytes && ::setrlimit(RLIMIT_FSIZE, &plan.file_size) != 0) {
    fail_setup(report_fd, SetupStep::kLimits, errno);
  }
  for (std::size_t i = 0; i < plan.placements.size(); ++i) {
    if (::dup2(plan.staged[i], plan.placements[i].first) < 0) {
      fail_setup(report_fd, SetupStep::kPlaceFds, errno);
    }
  }

  if (options.no_new_privs && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    fail_setup(report_fd, SetupStep::kNoNewPrivs, errno);
  }
  if (options.run_as) {
    // Raw system calls: glibc's set*id wrappers signal every thread of the process to
    // change them all (nptl "setxid"); after fork this process has a single thread, and
    // the kernel calls act on exactly that one. Groups first: once uid 0 is gone,
    // setgroups and setresgid are no longer permitted.
    // Arguments go through syscall()'s varargs as long, the width it reads them with.
    if (::syscall(SYS_setgroups, 0L, nullptr) != 0) {
      fail_setup(report_fd, SetupStep::kSetGroups, errno);
    }
    const long gid = static_cast<long>(plan.run_as.gid), uid = static_cast<long>(plan.run_as.uid);
    if (::syscall(SYS_setresgid, gid, gid, gid) != 0) {
      fail_setup(report_fd, SetupStep::kSetGid, errno);
    }
    if (::syscall(SYS_setresuid, uid, uid, uid) != 0) {
      fail_setup(report_fd, SetupStep::kSetUid, errno);
    }
    // With real, effective and saved ids all unprivileged the kernel must refuse both.
    if (::syscall(SYS_setresuid, 0L, 0L, 0L) == 0 || ::syscall(SYS_setresgid, 0L, 0L, 0L) == 0 ||
        ::geteuid() != plan.run_as.uid || ::getegid() != plan.run_as.gid ||
        ::getgroups(0, nullptr) != 0) {
      fail_setup(report_fd, SetupStep::kRegainedRoot, EPERM);
    }
  }
  // After the identity change, which clears the parent-death signal (prctl(2)).
  if (options.die_with_parent) {
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) {
      fail_setup(report_fd, SetupStep::kParentDeath, errno);
    }
    // The parent died between fork and prctl: nobody would deliver the signal.
    if (::getppid() != plan.parent) _exit(127);
  }
  char** const child_environment = options.environment ? plan.envp.data() : environ;
  if (program_fd >= 0) {
    // The copy above all targets is close-on-exec: fine for an ELF program, which the
    // kernel has opened by the time descriptors are closed.
    ::syscall(SYS_execveat, static_cast<long>(program_fd), "", plan.argv.data(), child_environment,
              static_cast<long>(AT_EMPTY_PATH));
  } else {
    ::execve(plan.argv[0], plan.argv.data(), child_environment);
  }
  _exit(127);
}

// The setup pipe closes at the child's exec (close-on-exec) or carries why it failed; a
// failure is thrown once the child is reaped.
void await_exec(pid_t pid, int setup_read) {
  SetupFailure failure;
  ssize_t got = 0;
  while ((got = ::read(setup_read, &failure, sizeof failure)) < 0 && errno == EINTR) {
  }
  if (got == static_cast<ssize_t>(sizeof failure)) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    throw std::system_error(failure.error, std::generic_category(),
                            std::string("child setup failed: ") + step_name(failure.step));
  }
}

void kill_group(pid_t pid) {
  ::kill(-pid, SIGKILL);
  ::kill(pid, SIGKILL);  // in case it already left the group
}

}  // namespace

namespace detail {

void collect_output(const SubprocessOptions& options, int out_fd, int err_fd,
                    std::chrono::steady_clock::time_point deadline, SubprocessResult& result,
                    const std::function<void()>& kill) {
  bool out_open = true, err_open = true;
  std::array<char, 65536> buffer{};
  while (out_open || err_open) {
    if (options.cancel != nullptr && options.cancel->load()) {
      result.cancelled = true;
      kill();
      return;
    }
    auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (remaining.count() <= 0) {
      result.timed_out = true;
      kill();
      return;
    }
    std::array<pollfd, 2> fds{pollfd{out_open ? out_fd : -1, POLLIN, 0},
                              pollfd{err_open ? err_fd : -1, POLLIN, 0}};
    // Wake at least every 200 ms to notice cancellation.
    int wait_ms = static_cast<int>(std::min<long long>(remaining.count(), 200));
    int ready = ::poll(fds.data(), fds.size(), wait_ms);
    if (ready < 0) {
      if (errno == EINTR) continue;
      kill();
      return;
    }
    for (int i = 0; i < 2; ++i) {
      if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      ssize_t n = ::read(fds[i].fd, buffer.data(), buffer.size());
      if (n <= 0) {
        (i == 0 ? out_open : err_open) = false;
        continue;
      }
      if (i == 0) {
        if (result.stdout_text.size() + static_cast<std::size_t>(n) > options.max_output_bytes) {
          result.output_overflow = true;
          kill();
          return;
        }
        result.stdout_text.append(buffer.data(), static_cast<std::size_t>(n));
      } else if (result.stderr_text.size() < options.max_stderr_bytes) {
        result.stderr_text.append(buffer.data(), static_cast<std::size_t>(n));
      }
    }
  }
}

std::chrono::steady_clock::time_point deadline_after(std::chrono::milliseconds timeout) {
  const auto now = std::chrono::steady_clock::now();
  if (timeout >= std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::time_point::max() - now)) {
    return std::chrono::steady_clock::time_point::max();
  }
  return now + timeout;
}

void check_inherit_fds(const std::vector<std::pair<int, int>>& inherit_fds, const char* who) {
  for (std::size_t i = 0; i < inherit_fds.size(); ++i) {
    const auto [child_fd, parent_fd] = inherit_fds[i];
    if (child_fd < 3) {
      throw std::invalid_argument(std::string(who) + ": inherited descriptors start at 3, not " +
                                  std::to_string(child_fd));
    }
    if (::fcntl(parent_fd, F_GETFD) < 0) {
      throw std::system_error(
          errno, std::generic_category(),
          std::string(who) + ": parent descriptor " + std::to_string(parent_fd));
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (inherit_fds[j].first == child_fd) {
        throw std::invalid_argument(std::string(who) + ": child descriptor " +
                                    std::to_string(child_fd) + " given twice");
      }
    }
  }
}

}  // namespace detail

namespace {

// Waits for the child to end. A child may close its stdout and stderr and live on: the
// deadline and the cancel flag still hold, so no worker waits on it for ever.
void reap(const SubprocessOptions& options, pid_t pid,
          std::chrono::steady_clock::time_point deadline, SubprocessResult& result) {
  int status = 0;
  bool killed = result.timed_out || result.cancelled || result.output_overflow;
  while (true) {
    const pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid || (done < 0 && errno != EINTR)) break;
    if (done == 0 && !killed) {
      if (options.cancel != nullptr && options.cancel->load()) {
        result.cancelled = true;
        kill_group(pid);
        killed = true;
      } else if (std::chrono::steady_clock::now() >= deadline) {
        result.timed_out = true;
        kill_group(pid);
        killed = true;
      }
    }
    if (done == 0) std::this_thread::sleep_for(std::chrono::milliseconds(killed ? 1 : 20));
  }
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.term_signal = WTERMSIG(status);
}

}  // namespace

SubprocessResult run_subprocess(const SubprocessOptions& options) {
  check_options(options);
  Pipe out = make_pipe();
  Pipe err = make_pipe();
  Pipe setup = make_pipe();
  UniqueFd devnull(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!devnull.valid()) throw std::system_error(errno, std::generic_category(), "/dev/null");
  ChildPlan plan = plan_child(options, devnull.get(), out.write_end.get(), err.write_end.get());

  const pid_t pid = ::fork();
  if (pid < 0) throw std::system_error(errno, std::generic_category(), "fork");
  if (pid == 0) exec_child(options, plan, setup.write_end.get());
  // Both sides set the process group (the classic shell idiom), so it exists before the
  // parent may need to kill it, whichever runs first after fork.
  ::setpgid(pid, pid);
  out.write_end.reset();
  err.write_end.reset();
  setup.write_end.reset();
  devnull.reset();

  await_exec(pid, setup.read_end.get());
  SubprocessResult result;
  result.pid = pid;
  const auto deadline = detail::deadline_after(options.timeout);
  detail::collect_output(options, out.read_end.get(), err.read_end.get(), deadline, result,
                         [pid] { kill_group(pid); });
  reap(options, pid, deadline, result);
  return result;
}

}  // namespace dancer::analysis

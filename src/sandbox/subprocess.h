// Runs a child program with a time limit and resource limits, capturing its output.
// Used to isolate work on untrusted videos: a decoder crash or hang ends that child,
// never the service. The options below also confine the child (exact environment, no
// new privileges, an unprivileged user, only the file descriptors it is given); see
// sandbox/sandbox.h for the defaults the service applies and for the seccomp filter the
// child installs on itself.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace dancer::analysis {

// The identity a child switches to before exec (setgroups(0), setresgid, setresuid).
struct RunAs {
  uid_t uid = 0;
  gid_t gid = 0;
};

struct SubprocessOptions {
  std::vector<std::string> argv;                    // argv[0] is the program path (no PATH lookup)
  std::chrono::milliseconds timeout{60000};         // milliseconds::max(): none
  std::optional<std::uint64_t> memory_limit_bytes;  // RLIMIT_AS
  std::optional<std::uint64_t> cpu_limit_seconds;   // RLIMIT_CPU (SIGXCPU, then SIGKILL)
  // RLIMIT_FSIZE: no file the child writes, through any descriptor, grows past this (SIGXFSZ).
  std::optional<std::uint64_t> file_size_limit_bytes;
  // PR_SET_PDEATHSIG: the child is killed when the thread that started it ends, so a
  // service killed with SIGKILL leaves no analysis running under init. Checked after the
  // fork: a parent that died before the setting took effect ends the child at once.
  bool die_with_parent = false;
  std::size_t max_output_bytes = 16u << 20;   // stdout beyond this is an error
  std::size_t max_stderr_bytes = 64u << 10;   // stderr beyond this is dropped
  const std::atomic<bool>* cancel = nullptr;  // kill the child when *cancel turns true

  // The child's whole environment ("NAME=value" entries). nullopt inherits the parent's,
  // secrets included: anything that runs untrusted input sets this.
  std::optional<std::vector<std::string>> environment;
  // prctl(PR_SET_NO_NEW_PRIVS): exec of set-user-ID/file-capability programs grants nothing.
  bool no_new_privs = false;
  // Switch to this user before exec. Needs the parent to be root; the child verifies it
  // can no longer regain uid/gid 0 and the start fails (std::system_error) otherwise.
  std::optional<RunAs> run_as;
  // {child fd, parent fd}: the parent's open file appears as that number in the child
  // (e.g. {3, output_fd}). Child numbers must be >= 3 and distinct. Every other
  // descriptor of the parent (stdin/stdout/stderr aside) is closed in the child, with or
  // without O_CLOEXEC. The parent keeps its own descriptors; close them after the call.
  std::vector<std::pair<int, int>> inherit_fds;
  // Executes this open file (execveat with AT_EMPTY_PATH) instead of the path argv[0]: an
  // unprivileged child needs no search permission on the directories above the program
  // (a build tree under a 0700 home directory), only execute permission on the file.
  std::optional<int> program_fd;
};

struct SubprocessResult {
  pid_t pid = 0;        // the child's process id, once started
  int exit_code = -1;   // when the child exited normally
  int term_signal = 0;  // when a signal ended it (SIGKILL after a timeout too)
  bool timed_out = false;
  bool cancelled = false;
  bool output_overflow = false;
  std::string stdout_text;
  std::string stderr_text;

  bool succeeded() const {
    return exit_code == 0 && term_signal == 0 && !timed_out && !cancelled && !output_overflow;
  }
  std::string describe() const;  // "exit code 3", "killed by signal 11 (SIGSEGV)", ...
};

// fork + execve; the child runs in its own process group so a timeout kills everything
// it started. Between fork and exec only async-signal-safe calls are made (POSIX
// requirement for fork in a multi-threaded process). Throws std::invalid_argument for
// bad options and std::system_error when the child cannot be started, including when a
// confinement step (dropping privileges, no_new_privs, placing descriptors) fails in the
// child: it never runs with less confinement than asked for. A program that cannot be
// executed still ends as exit code 127.
SubprocessResult run_subprocess(const SubprocessOptions& options);

}  // namespace dancer::analysis

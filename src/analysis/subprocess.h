// Runs a child program with a time limit and resource limits, capturing its output.
// Used to isolate work on untrusted videos: a decoder crash or hang ends that child,
// never the service.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dancer::analysis {

struct SubprocessOptions {
  std::vector<std::string> argv;  // argv[0] is the program path (no PATH lookup)
  std::chrono::milliseconds timeout{60000};
  std::optional<std::uint64_t> memory_limit_bytes;  // RLIMIT_AS
  std::optional<std::uint64_t> cpu_limit_seconds;   // RLIMIT_CPU (SIGXCPU, then SIGKILL)
  std::size_t max_output_bytes = 16u << 20;         // stdout beyond this is an error
  std::size_t max_stderr_bytes = 64u << 10;         // stderr beyond this is dropped
  const std::atomic<bool>* cancel = nullptr;        // kill the child when *cancel turns true
};

struct SubprocessResult {
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

// fork + execv; the child runs in its own process group so a timeout kills everything
// it started. Between fork and exec only async-signal-safe calls are made (POSIX
// requirement for fork in a multi-threaded process). Throws std::system_error when the
// child cannot be started.
SubprocessResult run_subprocess(const SubprocessOptions& options);

}  // namespace dancer::analysis

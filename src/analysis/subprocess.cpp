#include "analysis/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <system_error>

namespace dancer::analysis {
namespace {

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& other) noexcept : fd_(other.release()) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = other.release();
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

void make_pipe(Fd& read_end, Fd& write_end) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    throw std::system_error(errno, std::generic_category(), "pipe2");
  read_end = Fd(fds[0]);
  write_end = Fd(fds[1]);
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

SubprocessResult run_subprocess(const SubprocessOptions& options) {
  if (options.argv.empty()) throw std::invalid_argument("run_subprocess: empty argv");
  Fd out_read, out_write, err_read, err_write;
  make_pipe(out_read, out_write);
  make_pipe(err_read, err_write);

  // Everything the child needs is prepared before fork: no allocation afterwards.
  std::vector<char*> argv;
  argv.reserve(options.argv.size() + 1);
  for (const auto& arg : options.argv) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  rlimit memory{};
  if (options.memory_limit_bytes) {
    memory.rlim_cur = memory.rlim_max = static_cast<rlim_t>(*options.memory_limit_bytes);
  }
  rlimit cpu{};
  if (options.cpu_limit_seconds) {
    cpu.rlim_cur = static_cast<rlim_t>(*options.cpu_limit_seconds);
    cpu.rlim_max = cpu.rlim_cur + 5;  // SIGXCPU first, SIGKILL 5 s later
  }

  const pid_t pid = ::fork();
  if (pid < 0) throw std::system_error(errno, std::generic_category(), "fork");
  if (pid == 0) {
    ::setpgid(0, 0);
    // The parent may have blocked SIGTERM/SIGINT for its signal thread; the child must not inherit
    // that.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (options.memory_limit_bytes) ::setrlimit(RLIMIT_AS, &memory);
    if (options.cpu_limit_seconds) ::setrlimit(RLIMIT_CPU, &cpu);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
    ::dup2(out_write.get(), STDOUT_FILENO);
    ::dup2(err_write.get(), STDERR_FILENO);
    ::execv(argv[0], argv.data());
    _exit(127);
  }
  // Both sides set the process group (the classic shell idiom), so it exists before the
  // parent may need to kill it, whichever runs first after fork.
  ::setpgid(pid, pid);
  out_write.reset();
  err_write.reset();

  SubprocessResult result;
  const auto deadline = std::chrono::steady_clock::now() + options.timeout;
  bool out_open = true, err_open = true;
  std::array<char, 65536> buffer{};
  auto kill_child = [&] {
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);  // in case it already left the group
  };
  while (out_open || err_open) {
    if (options.cancel != nullptr && options.cancel->load()) {
      result.cancelled = true;
      kill_child();
      break;
    }
    auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (remaining.count() <= 0) {
      result.timed_out = true;
      kill_child();
      break;
    }
    std::array<pollfd, 2> fds{pollfd{out_open ? out_read.get() : -1, POLLIN, 0},
                              pollfd{err_open ? err_read.get() : -1, POLLIN, 0}};
    // Wake at least every 200 ms to notice cancellation.
    int wait_ms = static_cast<int>(std::min<long long>(remaining.count(), 200));
    int ready = ::poll(fds.data(), fds.size(), wait_ms);
    if (ready < 0) {
      if (errno == EINTR) continue;
      kill_child();
      break;
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
          kill_child();
          out_open = err_open = false;
          break;
        }
        result.stdout_text.append(buffer.data(), static_cast<std::size_t>(n));
      } else if (result.stderr_text.size() < options.max_stderr_bytes) {
        result.stderr_text.append(buffer.data(), static_cast<std::size_t>(n));
      }
    }
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.term_signal = WTERMSIG(status);
  return result;
}

}  // namespace dancer::analysis

#include "sandbox/fork_server.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string_view>
#include <system_error>

#include <nlohmann/json.hpp>

#include "sandbox/child_output.h"

namespace dancer::analysis {
namespace {

using common::UniqueFd;
using nlohmann::json;

// SCM_MAX_FD (include/net/scm.h): the kernel passes at most 253 descriptors per message.
constexpr std::size_t kMaxFds = 253;
constexpr std::size_t kMaxMessage = 1 << 20;  // a request's JSON

// Sends `text` with `fds` attached. MSG_NOSIGNAL: a peer that is gone gives EPIPE, not a
// SIGPIPE that would end the service.
int send_message(int socket, std::string_view text, const std::vector<int>& fds = {}) {
  iovec io{const_cast<char*>(text.data()), text.size()};
  msghdr message{};
  message.msg_iov = &io;
  message.msg_iovlen = 1;
  std::vector<char> control;
  if (!fds.empty()) {
    control.assign(CMSG_SPACE(fds.size() * sizeof(int)), 0);
    message.msg_control = control.data();
    message.msg_controllen = control.size();
    cmsghdr* header = CMSG_FIRSTHDR(&message);
    if (header == nullptr) return EINVAL;  // cannot happen: msg_controllen fits one header
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(fds.size() * sizeof(int));
    std::memcpy(CMSG_DATA(header), fds.data(), fds.size() * sizeof(int));
  }
  while (::sendmsg(socket, &message, MSG_NOSIGNAL) < 0) {
    if (errno != EINTR) return errno;
  }
  return 0;
}

struct Received {
  ssize_t size = 0;  // 0: the peer closed; < 0: an error (errno in `error`)
  int error = 0;
  std::string text;
  std::vector<UniqueFd> fds;
  bool truncated = false;
};

// One message, with the descriptors it carries (close-on-exec, owned by the result). Its
// length is peeked first (MSG_PEEK | MSG_TRUNC gives a datagram's whole length), so a
// request costs a buffer of its own size, not of the largest one allowed: fresh pages are
// dear (a page fault each).
Received receive_message(int socket, std::size_t max_bytes, std::size_t max_fds) {
  Received r;
  char probe = 0;
  ssize_t length = 0;
  while ((length = ::recv(socket, &probe, 1, MSG_PEEK | MSG_TRUNC)) < 0 && errno == EINTR) {
  }
  r.text.resize(
      std::clamp<std::size_t>(length > 0 ? static_cast<std::size_t>(length) : 1, 1, max_bytes));
  iovec io{r.text.data(), r.text.size()};
  msghdr message{};
  message.msg_iov = &io;
  message.msg_iovlen = 1;
  std::vector<char> control(max_fds > 0 ? CMSG_SPACE(max_fds * sizeof(int)) : 0);
  message.msg_control = control.empty() ? nullptr : control.data();
  message.msg_controllen = control.size();
  while ((r.size = ::recvmsg(socket, &message, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {
  }
  if (r.size < 0) {
    r.error = errno;
    r.text.clear();
    return r;
  }
  r.text.resize(static_cast<std::size_t>(r.size));
  for (cmsghdr* header = CMSG_FIRSTHDR(&message); header != nullptr;
       header = CMSG_NXTHDR(&message, header)) {
    if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
    const std::size_t count = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int fd = -1;
      std::memcpy(&fd, CMSG_DATA(header) + i * sizeof(int), sizeof fd);
      r.fds.emplace_back(fd);
    }
  }
  r.truncated = (message.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0;
  return r;
}

void kill_group(pid_t pid) {
  ::kill(-pid, SIGKILL);
  ::kill(pid, SIGKILL);  // in case it is not yet in its group
}

// --- the server's side -----------------------------------------------------------------

struct JobRequest {
  std::vector<std::string> args;
  std::vector<int> child_fds;  // where each of the job's descriptors goes
  std::optional<rlim_t> memory, cpu, file_size;
};

std::optional<JobRequest> parse_request(const std::string& text, std::size_t fds_received) {
  const json j = json::parse(text, nullptr, false);
  if (!j.is_object() || !j.contains("args") || !j["args"].is_array() || !j.contains("fds") ||
      !j["fds"].is_array()) {
    return std::nullopt;
  }
  JobRequest request;
  for (const auto& arg : j["args"]) {
    if (!arg.is_string()) return std::nullopt;
    request.args.push_back(arg.get<std::string>());
  }
  for (const auto& fd : j["fds"]) {
    if (!fd.is_number_integer() || fd.get<long long>() < 3 || fd.get<long long>() > 1 << 20) {
      return std::nullopt;
    }
    request.child_fds.push_back(fd.get<int>());
  }
  // The job socket, stdout and stderr come first.
  if (request.args.empty() || fds_received != request.child_fds.size() + 3) return std::nullopt;
  const auto limit = [&j](const char* key) -> std::optional<rlim_t> {
    if (!j.contains(key) || !j[key].is_number_unsigned()) return std::nullopt;
    return static_cast<rlim_t>(j[key].get<std::uint64_t>());
  };
  request.memory = limit("memory");
  request.cpu = limit("cpu");
  request.file_size = limit("fsize");
  return request;
}

// Closes every descriptor from `first` up (close_range, Linux 5.9; else one by one).
void close_from(int first) {
#ifdef SYS_close_range
  if (::syscall(SYS_close_range, static_cast<long>(first), 0xffffffffL, 0L) == 0) return;
#endif
  rlimit files{};
  if (::getrlimit(RLIMIT_NOFILE, &files) != 0) return;
  const rlim_t last = std::min<rlim_t>(files.rlim_cur, rlim_t{1} << 20);
  for (rlim_t fd = static_cast<rlim_t>(first); fd < last; ++fd) ::close(static_cast<int>(fd));
}

// The forked child: the job's descriptors in place and nothing else, its limits, its own
// process group, death with the server; then the job. Never returns.
[[noreturn]] void become_job(const JobRequest& request, std::vector<UniqueFd>& fds, pid_t server,
                             const ForkedJob& job) {
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::setpgid(0, 0);
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 || ::getppid() != server) _exit(127);

  // {target, source}: stdout and stderr, then the job's descriptors; fds[0] is the job
  // socket, which stays the server's. Every source is first copied above every target, then
  // everything else is closed (the control socket, other jobs' sockets and files), then
  // each copy goes to its target.
  std::vector<std::pair<int, int>> placements = {{STDOUT_FILENO, fds[1].get()},
                                                 {STDERR_FILENO, fds[2].get()}};
  for (std::size_t i = 0; i < request.child_fds.size(); ++i) {
    placements.emplace_back(request.child_fds[i], fds[i + 3].get());
  }
  int above = STDERR_FILENO + 1;
  for (const auto& [target, source] : placements) above = std::max(above, target + 1);
  std::vector<int> staged;
  for (const auto& [target, source] : placements) {
    const int copy = ::fcntl(source, F_DUPFD_CLOEXEC, above);
    if (copy < 0) _exit(127);
    staged.push_back(copy);
  }
  for (int fd = 3; fd < above; ++fd) ::close(fd);
  for (std::size_t i = 0; i < placements.size(); ++i) {
    if (::dup2(staged[i], placements[i].first) < 0) _exit(127);
  }
  close_from(above);
  for (UniqueFd& fd : fds) fd.release();  // numbers now closed or reused: not ours to close

  const auto set_limit = [](int resource, rlim_t soft, rlim_t hard) {
    const rlimit value{soft, hard};
    if (::setrlimit(resource, &value) != 0) _exit(127);
  };
  if (request.memory) set_limit(RLIMIT_AS, *request.memory, *request.memory);
  // SIGXCPU first, SIGKILL 5 s later, as run_subprocess sets it. A child's CPU time starts
  // at zero after fork.
  if (request.cpu) set_limit(RLIMIT_CPU, *request.cpu, *request.cpu + 5);
  if (request.file_size) set_limit(RLIMIT_FSIZE, *request.file_size, *request.file_size);

  int code = 125;
  try {
    code = job(request.args);
  } catch (...) {
    code = 125;
  }
  std::fflush(nullptr);
  // _exit: the server's static state (models, libraries) is not this child's to tear down.
  _exit(code);
}

struct RunningJob {
  pid_t pid = 0;
  UniqueFd socket;
  bool listening = true;  // the client's side of the socket is still open
};

void start_job(Received& message, const ForkedJob& job, std::vector<RunningJob>& running) {
  if (message.fds.empty()) return;  // nowhere to answer
  const int socket = message.fds[0].get();
  const std::optional<JobRequest> request =
      message.truncated ? std::nullopt : parse_request(message.text, message.fds.size());
  if (!request) {
    send_message(socket, "error " + std::to_string(EINVAL));
    return;
  }
  const pid_t server = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    send_message(socket, "error " + std::to_string(errno));
    return;
  }
  if (pid == 0) become_job(*request, message.fds, server, job);
  // Both sides set the group (the shell's idiom), so it exists before a kill may need it.
  ::setpgid(pid, pid);
  RunningJob entry;
  entry.pid = pid;
  entry.socket = std::move(message.fds[0]);
  if (send_message(entry.socket.get(), "pid " + std::to_string(pid)) != 0) {
    kill_group(pid);  // the client is gone already
    entry.listening = false;
  }
  running.push_back(std::move(entry));
  // The job's descriptors leave with this scope (message.fds): only the child holds them.
}

void reap(std::vector<RunningJob>& running) {
  int status = 0;
  pid_t pid = 0;
  while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
    const auto it = std::find_if(running.begin(), running.end(),
                                 [pid](const RunningJob& r) { return r.pid == pid; });
    if (it == running.end()) continue;
    send_message(it->socket.get(), "status " + std::to_string(status));
    running.erase(it);
  }
}

// --- the client's side -----------------------------------------------------------------

// "word <number>" -> number.
std::optional<long long> number_after(const std::string& text, std::string_view word) {
  if (text.rfind(word, 0) != 0 || text.size() <= word.size() + 1) return std::nullopt;
  try {
    return std::stoll(text.substr(word.size() + 1));
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

void check_job(const SubprocessOptions& job) {
  if (job.argv.empty()) throw std::invalid_argument("fork server: empty args");
  if (job.environment || job.run_as || job.no_new_privs || job.program_fd) {
    throw std::invalid_argument(
        "fork server: the environment, user and privileges of a job are the server's");
  }
  if (job.inherit_fds.size() + 3 > kMaxFds) {
    throw std::invalid_argument("fork server: too many descriptors");
  }
  detail::check_inherit_fds(job.inherit_fds, "fork server");
}

}  // namespace

void serve_fork_requests(int control_fd, const ForkedJob& job) {
  // SIGCHLD through a descriptor, so one poll waits for requests, kills and exits alike.
  sigset_t child_signal;
  sigemptyset(&child_signal);
  sigaddset(&child_signal, SIGCHLD);
  if (::sigprocmask(SIG_BLOCK, &child_signal, nullptr) != 0) {
    throw std::system_error(errno, std::generic_category(), "sigprocmask");
  }
  const UniqueFd children(::signalfd(-1, &child_signal, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!children.valid()) throw std::system_error(errno, std::generic_category(), "signalfd");
  if (send_message(control_fd, "ready " + std::to_string(::getpid())) != 0) return;

  std::vector<RunningJob> running;
  bool serving = true;
  while (serving || !running.empty()) {
    std::vector<pollfd> fds;
    fds.push_back({serving ? control_fd : -1, POLLIN, 0});
    fds.push_back({children.get(), POLLIN, 0});
    for (const RunningJob& r : running)
      fds.push_back({r.listening ? r.socket.get() : -1, POLLIN, 0});
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "poll");
    }
    // Kill requests and departed clients, before the list changes.
    for (std::size_t i = 0; i < running.size(); ++i) {
      if (fds[i + 2].revents == 0) continue;
      char word[16];
      const ssize_t n = ::recv(running[i].socket.get(), word, sizeof word, MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      // "kill", or the client closed its side: nobody waits for this job any more.
      kill_group(running[i].pid);
      if (n <= 0) running[i].listening = false;
    }
    if (fds[1].revents != 0) {
      signalfd_siginfo info{};
      while (::read(children.get(), &info, sizeof info) > 0) {
      }
      reap(running);
    }
    if (serving && fds[0].revents != 0) {
      Received message = receive_message(control_fd, kMaxMessage, kMaxFds);
      if (message.size <= 0 && !(message.size < 0 && message.error == EINTR)) {
        // The client closed the control socket (the service stops or died): no job outlives
        // it.
        serving = false;
        for (const RunningJob& r : running) kill_group(r.pid);
        continue;
      }
      if (message.size > 0) start_job(message, job, running);
    }
  }
}

std::unique_ptr<ForkServer> ForkServer::start(SubprocessOptions server, int control_child_fd,
                                              std::chrono::milliseconds ready_timeout) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
    throw std::system_error(errno, std::generic_category(), "socketpair");
  }
  std::unique_ptr<ForkServer> self(new ForkServer());
  self->control_.reset(pair[0]);
  auto server_end = std::make_shared<UniqueFd>(pair[1]);
  server.inherit_fds.push_back({control_child_fd, server_end->get()});
  server.timeout = std::chrono::milliseconds::max();
  server.die_with_parent = true;
  server.cancel = &self->stop_;
  self->server_result_ = std::make_shared<SubprocessResult>();
  self->alive_ = true;
  // run_subprocess blocks until the server ends, on this thread, which is therefore the
  // "parent" PR_SET_PDEATHSIG watches: it lives exactly as long as the server.
  self->waiter_ = std::thread([raw = self.get(), server = std::move(server), server_end,
                               result = self->server_result_]() mutable {
    try {
      *result = run_subprocess(server);
    } catch (const std::exception& e) {
      result->stderr_text = e.what();
    }
    server_end->reset();
    raw->alive_ = false;
  });
  // The server's end stays open in the waiter until run_subprocess has passed it; ours
  // sees the server's "ready", or the end of the server (its end closed in both processes).
  const auto fail = [&self](const std::string& why) -> std::unique_ptr<ForkServer> {
    self->stop_ = true;
    self->control_.reset();
    if (self->waiter_.joinable()) self->waiter_.join();
    const std::string& err = self->server_result_->stderr_text;
    throw ForkServerGone("the fork server " + why +
                         (err.empty() ? std::string() : ": " + err.substr(0, 2000)));
  };
  const auto deadline = detail::deadline_after(ready_timeout);
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return fail("did not start in time");
    pollfd fd{self->control_.get(), POLLIN, 0};
    const int ready = ::poll(&fd, 1, static_cast<int>(std::min<long long>(left.count(), 200)));
    if (ready < 0 && errno != EINTR) return fail("cannot be watched");
    if (ready > 0) {
      Received message = receive_message(self->control_.get(), 64, 0);
      const auto pid = number_after(message.text, "ready");
      if (message.size <= 0 || !pid) {
        // Ended before it was ready: wait for its exit to report its stderr.
        self->control_.reset();
        if (self->waiter_.joinable()) self->waiter_.join();
        return fail("ended before it was ready (" + self->server_result_->describe() + ")");
      }
      self->pid_ = static_cast<pid_t>(*pid);
      return self;
    }
    if (!self->alive_) return fail("ended before it was ready");
  }
}

ForkServer::~ForkServer() {
  // The server sees the end of its control socket, kills its jobs and exits; one that does
  // not within 5 s is killed (run_subprocess's cancel).
  control_.reset();
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (alive_ && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  stop_ = true;
  if (waiter_.joinable()) waiter_.join();
}

SubprocessResult ForkServer::run(const SubprocessOptions& job) {
  check_job(job);
  if (!alive_) throw ForkServerGone("the fork server has ended");
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
    throw std::system_error(errno, std::generic_category(), "socketpair");
  }
  UniqueFd ours(pair[0]);
  UniqueFd theirs(pair[1]);
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0)
    throw std::system_error(errno, std::generic_category(), "pipe2");
  UniqueFd out_read(out[0]), out_write(out[1]);
  if (::pipe2(err, O_CLOEXEC) != 0)
    throw std::system_error(errno, std::generic_category(), "pipe2");
  UniqueFd err_read(err[0]), err_write(err[1]);

  json request = {{"args", job.argv}, {"fds", json::array()}};
  std::vector<int> fds = {theirs.get(), out_write.get(), err_write.get()};
  for (const auto& [child_fd, parent_fd] : job.inherit_fds) {
    request["fds"].push_back(child_fd);
    fds.push_back(parent_fd);
  }
  if (job.memory_limit_bytes) request["memory"] = *job.memory_limit_bytes;
  if (job.cpu_limit_seconds) request["cpu"] = *job.cpu_limit_seconds;
  if (job.file_size_limit_bytes) request["fsize"] = *job.file_size_limit_bytes;
  const std::string text = request.dump();
  if (text.size() > kMaxMessage) throw std::invalid_argument("fork server: request too large");
  int sent = 0;
  {
    std::lock_guard<std::mutex> lock(send_mutex_);
    sent = control_.valid() ? send_message(control_.get(), text, fds) : EPIPE;
  }
  if (sent != 0) {
    alive_ = false;
    throw ForkServerGone(std::string("the fork server is gone: ") + std::strerror(sent));
  }
  // Only the child holds the other ends now: their closing is its end.
  theirs.reset();
  out_write.reset();
  err_write.reset();

  SubprocessResult result;
  bool kill_sent = false;
  const auto kill = [&] {
    if (!kill_sent) send_message(ours.get(), "kill");
    kill_sent = true;
  };
  const auto deadline = detail::deadline_after(job.timeout);
  std::optional<int> status;
  bool server_lost = false;
  // The server's answers: "pid", then "status" once the child is reaped.
  const auto read_answer = [&] {
    Received answer = receive_message(ours.get(), 64, 0);
    if (answer.size <= 0) {
      server_lost = true;
      return;
    }
    if (const auto pid = number_after(answer.text, "pid")) result.pid = static_cast<pid_t>(*pid);
    if (const auto s = number_after(answer.text, "status")) status = static_cast<int>(*s);
    if (const auto e = number_after(answer.text, "error")) {
      throw std::system_error(static_cast<int>(*e), std::generic_category(),
                              "fork server: the job could not start");
    }
  };
  detail::collect_output(job, out_read.get(), err_read.get(), deadline, result, kill);
  // Then the exit status. A child may close its output and live on: the deadline and the
  // cancel flag still hold.
  while (!status && !server_lost) {
    if (!kill_sent) {
      if (job.cancel != nullptr && job.cancel->load()) {
        result.cancelled = true;
        kill();
      } else if (std::chrono::steady_clock::now() >= deadline) {
        result.timed_out = true;
        kill();
      }
    }
    pollfd fd{ours.get(), POLLIN, 0};
    const int ready = ::poll(&fd, 1, 200);
    if (ready < 0 && errno != EINTR) server_lost = true;
    if (ready > 0) read_answer();
  }
  if (server_lost) {
    // The server died (its jobs die with it): killed, as far as this job can tell.
    alive_ = false;
    result.term_signal = SIGKILL;
    result.stderr_text += "\n(the fork server ended during the job)";
    return result;
  }
  if (WIFEXITED(*status)) result.exit_code = WEXITSTATUS(*status);
  if (WIFSIGNALED(*status)) result.term_signal = WTERMSIG(*status);
  return result;
}

}  // namespace dancer::analysis

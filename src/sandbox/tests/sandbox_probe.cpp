// Runs inside the analysis sandbox and reports what it could do, for sandbox_test.cpp.
//   sandbox_probe syscalls <dir>     enter_sandbox(), then try each forbidden and allowed
//                                    operation; one line "attempt <name> <errno>" each
//                                    (0 = it worked) and "status <field> <value>" lines
//                                    from /proc/self/status, and the Landlock ABI enforced
//   sandbox_probe control <dir>      the same attempts without the filter (proves that
//                                    the errors of `syscalls` come from the filter)
//   sandbox_probe decode <video>     enter_sandbox(), decode with media::VideoDecoder:
//                                    "frames <n>"
//   sandbox_probe analyze <video>    enter_sandbox(), run the gait analyzer: its JSON
//   (decode, analyze and overlay read the video from fd 4, which the caller opened)
//   sandbox_probe encode <frames>    enter_sandbox(), encode <frames> frames as an MP4 on fd 3
//                                    (media::VideoEncoder): "reopen <errno>" for an open of
//                                    /proc/self/fd/3 for reading, then "bytes <n>"
//   sandbox_probe fork-server <fd>   a fork server on control socket <fd> (fork_server.h),
//                                    confined as kForkServer; each job's child runs one of
//                                    `syscalls <dir>` (enter_sandbox() stacked, the attempts,
//                                    status from prctl), `whoami` ("pid <n> served <jobs this
//                                    process ran>"), `fds` ("fd <n>" per open descriptor),
//                                    `limits` ("limit <name> <soft> <hard>"), `sleep`
//   sandbox_probe overlay <video>    enter_sandbox(), render_overlay of <video> (no skeleton,
//                                    one event, a key frame) to fd 3: "frames <n> keyframes <k>"
// <dir> holds `existing`, `readable`, `victim_unlink`, `victim_rename`; the caller opens fd 3 for
// writing.
#include <fcntl.h>
#include <linux/openat2.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "analysis/gait_analyzer.h"
#include "common/fd.h"
#include "media/video_decoder.h"
#include "media/video_encoder.h"
#include "render/overlay.h"
#include "sandbox/fork_server.h"
#include "sandbox/sandbox.h"

namespace {

using dancer::analysis::enter_sandbox;

// 0 when `rc` says success, errno otherwise.
int outcome(long rc) { return rc >= 0 ? 0 : errno; }

// Runs `action` in a forked child (for calls that would change this process for good:
// execve, PTRACE_TRACEME); the child exits with 0 or the errno it got.
int in_child(const std::function<int()>& action) {
  const pid_t pid = ::fork();
  if (pid < 0) return errno;
  if (pid == 0) _exit(action());
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return errno;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 255;
}

int open_and_close(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC, 0644);
  if (fd < 0) return errno;
  ::close(fd);
  return 0;
}

int socket_of(int domain, int type, int protocol) {
  const int fd = ::socket(domain, type | SOCK_CLOEXEC, protocol);
  if (fd < 0) return errno;
  ::close(fd);
  return 0;
}

std::vector<std::pair<std::string, std::function<int()>>> attempts(const std::string& dir) {
  const std::string existing = dir + "/existing";
  return {
      // Forbidden.
      {"socket_inet", [] { return socket_of(AF_INET, SOCK_STREAM, 0); }},
      {"socket_inet6", [] { return socket_of(AF_INET6, SOCK_DGRAM, 0); }},
      {"socket_netlink", [] { return socket_of(AF_NETLINK, SOCK_RAW, 0); }},
      {"socket_unix", [] { return socket_of(AF_UNIX, SOCK_STREAM, 0); }},
      {"socketpair_unix",
       [] {
         int fds[2];
         if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return errno;
         ::close(fds[0]);
         ::close(fds[1]);
         return 0;
       }},
      {"connect",
       [] {
         // On an existing descriptor (stdout): the filter answers before the kernel would
         // say ENOTSOCK.
         sockaddr_storage address{};
         address.ss_family = AF_INET;
         return outcome(::connect(STDOUT_FILENO, reinterpret_cast<sockaddr*>(&address),
                                  sizeof(sockaddr_storage)));
       }},
      {"execve_true",
       [] {
         return in_child([] {
           char arg0[] = "/bin/true";
           char* argv[] = {arg0, nullptr};
           char* envp[] = {nullptr};
           ::execve(arg0, argv, envp);
           return errno;
         });
       }},
      {"open_create", [dir] { return open_and_close(dir + "/created", O_WRONLY | O_CREAT); }},
      {"open_rdonly_creat",
       [dir] { return open_and_close(dir + "/created_rdonly", O_RDONLY | O_CREAT); }},
      {"open_rdwr", [existing] { return open_and_close(existing, O_RDWR); }},
      {"open_wronly", [existing] { return open_and_close(existing, O_WRONLY); }},
      {"open_trunc", [existing] { return open_and_close(existing, O_RDONLY | O_TRUNC); }},
      {"open_append", [existing] { return open_and_close(existing, O_WRONLY | O_APPEND); }},
      {"creat",
       [dir] {
         const int fd = ::creat((dir + "/created_by_creat").c_str(), 0644);
         if (fd < 0) return errno;
         ::close(fd);
         return 0;
       }},
      {"openat2",
       [existing] {
         open_how how{};
         how.flags = O_RDONLY | O_CLOEXEC;
         const long fd = ::syscall(SYS_openat2, static_cast<long>(AT_FDCWD), existing.c_str(), &how,
                                   sizeof how);
         if (fd < 0) return errno;
         ::close(static_cast<int>(fd));
         return 0;
       }},
      {"unlink", [dir] { return outcome(::unlink((dir + "/victim_unlink").c_str())); }},
      {"rename",
       [dir] {
         return outcome(::rename((dir + "/victim_rename").c_str(), (dir + "/renamed").c_str()));
       }},
      {"mkdir", [dir] { return outcome(::mkdir((dir + "/made").c_str(), 0755)); }},
      {"chmod", [existing] { return outcome(::chmod(existing.c_str(), 0600)); }},
      {"ptrace_traceme",
       [] {
         return in_child([] { return outcome(::ptrace(PTRACE_TRACEME, 0, nullptr, nullptr)); });
       }},
      {"process_vm_readv",
       [] {
         char source[16] = "probe", target[16] = {};
         iovec local{target, sizeof target}, remote{source, sizeof source};
         return outcome(::process_vm_readv(::getpid(), &local, 1, &remote, 1, 0));
       }},
      {"kill_other",
       [] {
         // A child of the probe, waiting until the probe closes its pipe (the filter also
         // refuses SIGKILL to it, so it must end by itself).
         int fds[2];
         if (::pipe2(fds, O_CLOEXEC) != 0) return errno;
         const pid_t pid = ::fork();
         if (pid < 0) return errno;
         if (pid == 0) {
           ::close(fds[1]);
           char byte;
           while (::read(fds[0], &byte, 1) < 0 && errno == EINTR) {
           }
           _exit(0);
         }
         ::close(fds[0]);
         const int result = outcome(::kill(pid, 0));
         ::close(fds[1]);
         ::waitpid(pid, nullptr, 0);
         return result;
       }},
      {"personality", [] { return outcome(::personality(0xffffffff)); }},
      // In a child: without the filter these change the process for good.
      {"setuid_root", [] { return in_child([] { return outcome(::syscall(SYS_setuid, 0L)); }); }},
      {"unshare_user", [] { return in_child([] { return outcome(::unshare(CLONE_NEWUSER)); }); }},
      {"bpf", [] { return outcome(::syscall(SYS_bpf, 0L, nullptr, 0L)); }},
      {"io_uring_setup",
       [] {
         char params[120] = {};  // struct io_uring_params
         const long fd = ::syscall(SYS_io_uring_setup, 1L, params);
         if (fd < 0) return errno;
         ::close(static_cast<int>(fd));
         return 0;
       }},
      // Reading by name: the child opens nothing, not even for reading.
      {"read_file",
       [dir] {
         const int fd = ::open((dir + "/readable").c_str(), O_RDONLY | O_CLOEXEC);
         if (fd < 0) return errno;
         char buffer[64];
         const ssize_t n = ::read(fd, buffer, sizeof buffer);
         const int error = n < 0 ? errno : 0;
         ::close(fd);
         return n > 0 ? 0 : (error != 0 ? error : EIO);
       }},
      {"openat_rdonly",
       [dir] {
         const int fd = ::openat(AT_FDCWD, (dir + "/readable").c_str(), O_RDONLY | O_CLOEXEC);
         if (fd < 0) return errno;
         ::close(fd);
         return 0;
       }},
      {"reopen_inherited", [] { return open_and_close("/proc/self/fd/3", O_RDONLY); }},
      {"stat_path",
       [existing] {
         struct stat st {};
         return outcome(::stat(existing.c_str(), &st));
       }},
      {"access_path", [existing] { return outcome(::access(existing.c_str(), R_OK)); }},
      {"readlink_path",
       [] {
         char target[256];
         return outcome(::readlink("/proc/self/exe", target, sizeof target));
       }},
      // Allowed.
      {"fstat_inherited",
       [] {
         struct stat st {};
         return outcome(::fstat(3, &st));
       }},
      {"write_stdout",
       [] {
         const char text[] = "probe says hello\n";
         return outcome(::write(STDOUT_FILENO, text, sizeof text - 1));
       }},
      {"write_inherited",
       [] {
         const char text[] = "written through fd 3\n";
         return outcome(::write(3, text, sizeof text - 1));
       }},
      {"thread",
       [] {
         std::atomic<int> counter{0};
         std::vector<std::thread> threads;
         for (int i = 0; i < 4; ++i) threads.emplace_back([&] { counter += 1; });
         for (auto& t : threads) t.join();
         return counter == 4 ? 0 : EIO;
       }},
      {"malloc_big",
       [] {
         constexpr std::size_t kSize = 256u << 20;
         auto* p = static_cast<char*>(std::malloc(kSize));
         if (p == nullptr) return ENOMEM;
         std::memset(p, 1, kSize);
         const int sum = p[0] + p[kSize - 1];
         std::free(p);
         return sum == 2 ? 0 : EIO;
       }},
      {"mmap_big",
       [] {
         constexpr std::size_t kSize = 256u << 20;
         void* p =
             ::mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
         if (p == MAP_FAILED) return errno;
         static_cast<char*>(p)[kSize - 1] = 1;
         ::munmap(p, kSize);
         return 0;
       }},
      {"kill_self", [] { return outcome(::kill(::getpid(), 0)); }},
      {"fork_exit", [] { return in_child([] { return 0; }); }},
  };
}

// /proc/self/status, opened before the sandbox and read after it (a /proc file read from
// offset 0 is generated afresh).
int status_fd = -1;

void print_status() {
  std::string text;
  char buffer[4096];
  for (std::uint64_t offset = 0;;) {
    const ssize_t n = ::pread(status_fd, buffer, sizeof buffer, static_cast<off_t>(offset));
    if (n <= 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
    offset += static_cast<std::uint64_t>(n);
  }
  std::istringstream status(text);
  std::string line;
  while (std::getline(status, line)) {
    for (const char* field : {"Seccomp:", "Seccomp_filters:", "NoNewPrivs:", "Uid:"}) {
      if (line.rfind(field, 0) == 0) {
        std::string value = line.substr(std::strlen(field));
        value.erase(0, value.find_first_not_of(" \t"));
        std::printf("status %.*s %s\n", static_cast<int>(std::strlen(field) - 1), field,
                    value.c_str());
      }
    }
  }
}

int run_attempts(const std::string& dir) {
  for (const auto& [name, action] : attempts(dir)) {
    const int error = action();
    std::printf("attempt %s %d\n", name.c_str(), error);
    std::fflush(stdout);
  }
  print_status();
  return 0;
}

}  // namespace

// A forked job's own status: /proc/self/status cannot be opened in the sandbox, and a
// descriptor opened before it would name the server.
void print_forked_status() {
  std::printf("status Seccomp %d\n", ::prctl(PR_GET_SECCOMP, 0, 0, 0, 0));
  std::printf("status NoNewPrivs %d\n", ::prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
  std::printf("status Uid %u\n", static_cast<unsigned>(::getuid()));
}

int forked_job(const std::vector<std::string>& args, int served) {
  const std::string& mode = args.at(0);
  if (mode == "syscalls") {
    const int landlock = enter_sandbox();
    std::printf("status Landlock %d\n", landlock);
    for (const auto& [name, action] : attempts(args.at(1))) {
      std::printf("attempt %s %d\n", name.c_str(), action());
      std::fflush(stdout);
    }
    print_forked_status();
    return 0;
  }
  if (mode == "whoami") {
    std::printf("pid %d served %d\n", static_cast<int>(::getpid()), served);
    return 0;
  }
  if (mode == "fds") {
    for (int fd = 0; fd < 1024; ++fd) {
      if (::fcntl(fd, F_GETFD) >= 0) std::printf("fd %d\n", fd);
    }
    return 0;
  }
  if (mode == "limits") {
    for (const auto& [name, resource] : {std::pair{"as", RLIMIT_AS}, std::pair{"cpu", RLIMIT_CPU},
                                         std::pair{"fsize", RLIMIT_FSIZE}}) {
      rlimit value{};
      ::getrlimit(resource, &value);
      std::printf("limit %s %llu %llu\n", name, static_cast<unsigned long long>(value.rlim_cur),
                  static_cast<unsigned long long>(value.rlim_max));
    }
    return 0;
  }
  if (mode == "sleep") {
    std::printf("sleeping\n");
    std::fflush(stdout);
    if (::fcntl(3, F_GETFD) >= 0) {
      const char started = 'x';
      if (::write(3, &started, 1) != 1) return 1;
    }
    while (true) ::pause();
  }
  return 2;
}

int serve(int control) {
  try {
    enter_sandbox(dancer::analysis::SandboxRole::kForkServer);
  } catch (const dancer::analysis::SandboxError& e) {
    std::fprintf(stderr, "sandbox: %s\n", e.what());
    return 3;
  }
  // Counted in the process that runs the job: a server that ran jobs itself would count up.
  int served = 0;
  dancer::analysis::serve_fork_requests(control, [&served](const std::vector<std::string>& args) {
    return forked_job(args, ++served);
  });
  return 0;
}

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr,
                 "usage: sandbox_probe syscalls|control|decode|analyze|encode|overlay <arg>\n");
    return 2;
  }
  const std::string mode = argv[1];
  const std::string path = argv[2];
  if (mode == "fork-server") return serve(std::stoi(path));
  status_fd = ::open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  if (mode == "control") return run_attempts(path);
  // The video, opened by the caller and inherited as fd 4, as the service passes it.
  const auto input = dancer::common::FileSource::descriptor(4, "the video");
  int landlock = 0;
  try {
    landlock = enter_sandbox();
  } catch (const dancer::analysis::SandboxError& e) {
    std::fprintf(stderr, "sandbox: %s\n", e.what());
    return 3;
  }
  if (mode == "syscalls") {
    std::printf("status Landlock %d\n", landlock);
    return run_attempts(path);
  }
  try {
    if (mode == "decode") {
      dancer::media::VideoDecoder decoder(input);
      dancer::media::VideoFrame frame;
      long frames = 0;
      while (decoder.next(frame)) ++frames;
      std::printf("frames %ld\n", frames);
      return 0;
    }
    if (mode == "encode") {
      // What the mov muxer's default faststart pass would do: re-open the output by name.
      std::printf("reopen %d\n", open_and_close("/proc/self/fd/3", O_RDONLY));
      dancer::media::VideoEncoderOptions options;
      options.width = 64;
      options.height = 48;
      options.fps = 25;
      dancer::media::VideoEncoder encoder(3, options);
      std::vector<std::uint8_t> bgr(64 * 48 * 3);
      const int frames = std::stoi(path);
      for (int i = 0; i < frames; ++i) {
        std::fill(bgr.begin(), bgr.end(), static_cast<std::uint8_t>(i * 8));
        encoder.write_bgr(bgr.data(), 64 * 3, i / 25.0);
      }
      encoder.finish();
      std::printf("bytes %lld\n", static_cast<long long>(encoder.bytes_written()));
      return 0;
    }
    if (mode == "overlay") {
      dancer::analysis::FootEvent event;
      event.frame = 2;
      event.time_s = 0.2;
      dancer::analysis::OverlayOptions options;
      options.key_frames = {2};
      const auto result = dancer::analysis::render_overlay(input, dancer::analysis::SkeletonTrack{},
                                                           {event}, options, 3);
      std::printf("frames %lld keyframes %zu\n", static_cast<long long>(result.frames),
                  result.key_frames.size());
      return 0;
    }
    if (mode == "analyze") {
      dancer::analysis::AnalysisRequest request;
      request.video = input;
      request.subject_height_m = 1.75;
      std::cout << dancer::analysis::make_gait_analyzer()->analyze(request).analysis.dump()
                << std::endl;
      return 0;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s failed: %s\n", mode.c_str(), e.what());
    return 1;
  }
  std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
  return 2;
}

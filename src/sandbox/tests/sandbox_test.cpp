// The seccomp filter of enter_sandbox(), observed from inside: sandbox_probe (built from
// sandbox_probe.cpp) runs through run_subprocess with the options the service uses for
// its analysis children, enters the sandbox and reports every attempt with its errno.
#include "sandbox/sandbox.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "common/fd.h"
#include "nlohmann/json.hpp"
#include "sandbox/fork_server.h"
#include "support/test_support.h"
#include "synthetic_walker/synthetic_walker.h"

namespace dancer::analysis {
namespace {

using dancer::testing::TempDir;

struct ProbeReport {
  std::map<std::string, int> attempts;        // name -> errno (0 = it worked)
  std::map<std::string, std::string> status;  // /proc/self/status fields
  std::string fd3;                            // what the probe wrote through fd 3
};

// A work directory the sandbox user could change if nothing else stopped it: owned by
// that user (when we are root), so the filter, not file permissions, is what refuses.
class ProbeDir {
 public:
  ProbeDir() : dir_(top_.path() / "work") {
    std::filesystem::permissions(top_.path(), std::filesystem::perms(0711));
    std::filesystem::create_directory(dir_);
    for (const char* name : {"existing", "readable", "victim_unlink", "victim_rename"}) {
      std::ofstream(dir_ / name) << "content of " << name << "\n";
    }
    if (sandbox_user()) {
      for (const auto& path : {dir_, dir_ / "existing", dir_ / "readable", dir_ / "victim_unlink",
                               dir_ / "victim_rename"}) {
        if (::chown(path.c_str(), sandbox_user()->uid, sandbox_user()->gid) != 0) {
          throw std::system_error(errno, std::generic_category(), "chown " + path.string());
        }
      }
    }
  }
  const std::filesystem::path& path() const { return dir_; }
  const std::filesystem::path& top() const { return top_.path(); }

 private:
  TempDir top_;
  std::filesystem::path dir_;
};

// Runs the probe as the service runs its children; a video argument is opened here and
// inherited as fd 4 (the child opens nothing by name).
SubprocessResult run_probe(const std::string& mode, const std::filesystem::path& argument,
                           int fd3 = -1) {
  SubprocessOptions options = sandboxed_child_options({DANCER_SANDBOX_PROBE, mode, argument});
  options.timeout = std::chrono::seconds(60);
  if (fd3 >= 0) options.inherit_fds = {{3, fd3}};
  common::UniqueFd video;
  if (mode == "decode" || mode == "analyze" || mode == "overlay") {
    video.reset(::open(argument.c_str(), O_RDONLY | O_CLOEXEC));
    if (!video.valid()) throw std::system_error(errno, std::generic_category(), argument.string());
    options.inherit_fds.push_back({4, video.get()});
  }
  return run_subprocess(options);
}

// The probe's "attempt <name> <errno>" and "status <field> <value>" lines.
ProbeReport parse_probe_output(const std::string& text) {
  ProbeReport report;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::string kind, name, value;
    words >> kind >> name;
    std::getline(words >> std::ws, value);
    if (kind == "attempt") report.attempts[name] = std::stoi(value);
    if (kind == "status") report.status[name] = value;
  }
  return report;
}

ProbeReport run_attempts(const std::string& mode, const ProbeDir& dir) {
  const auto fd3_path = dir.top() / (mode + ".fd3");
  const int fd3 = ::open(fd3_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd3 < 0) throw std::system_error(errno, std::generic_category(), fd3_path.string());
  SubprocessResult r = run_probe(mode, dir.path(), fd3);
  ::close(fd3);
  EXPECT_TRUE(r.succeeded()) << r.describe() << "\n" << r.stderr_text;
  ProbeReport report = parse_probe_output(r.stdout_text);
  report.fd3 = dancer::testing::read_file(fd3_path);
  return report;
}

// What the filter must answer, per attempt of sandbox_probe.
const std::map<std::string, int>& forbidden() {
  static const std::map<std::string, int> expected = {
      {"socket_inet", EACCES},
      {"socket_inet6", EACCES},
      {"socket_netlink", EACCES},
      {"socket_unix", EACCES},
      {"socketpair_unix", EACCES},
      {"connect", EACCES},
      {"execve_true", EPERM},
      {"open_create", EACCES},
      {"open_rdonly_creat", EACCES},
      {"open_rdwr", EACCES},
      {"open_wronly", EACCES},
      {"open_trunc", EACCES},
      {"open_append", EACCES},
      {"creat", EACCES},
      {"openat2", ENOSYS},
      {"unlink", EPERM},
      {"rename", EPERM},
      {"mkdir", EPERM},
      {"chmod", EPERM},
      {"ptrace_traceme", EPERM},
      {"process_vm_readv", EPERM},
      {"kill_other", EPERM},
      {"personality", EPERM},
      {"setuid_root", EPERM},
      {"unshare_user", EPERM},
      {"bpf", EPERM},
      {"io_uring_setup", EPERM},
      // Nothing by name, not even for reading: the service's secrets, its database and
      // other jobs' videos stay out of reach whatever the file permissions.
      {"read_file", EACCES},
      {"openat_rdonly", EACCES},
      {"reopen_inherited", EACCES},
      {"stat_path", EACCES},
      {"access_path", EACCES},
      {"readlink_path", EACCES},
  };
  return expected;
}

const char* const kAllowed[] = {"fstat_inherited", "write_stdout", "write_inherited", "thread",
                                "malloc_big",      "mmap_big",     "kill_self",       "fork_exit"};

void expect_forbidden_refused_and_allowed_working(const ProbeReport& report) {
  for (const auto& [name, error] : forbidden()) {
    ASSERT_TRUE(report.attempts.count(name)) << name << " was not attempted";
    EXPECT_EQ(report.attempts.at(name), error) << name;
  }
  for (const char* name : kAllowed) {
    ASSERT_TRUE(report.attempts.count(name)) << name << " was not attempted";
    EXPECT_EQ(report.attempts.at(name), 0) << name;
  }
}

TEST(Sandbox, ForbiddenCallsFailWithTheirErrnoAndAllowedOnesWork) {
  ProbeDir dir;
  const ProbeReport report = run_attempts("syscalls", dir);
  expect_forbidden_refused_and_allowed_working(report);
  EXPECT_EQ(report.fd3, "written through fd 3\n");
  // Nothing in the work directory changed.
  for (const char* name : {"created", "created_rdonly", "created_by_creat", "made", "renamed"}) {
    EXPECT_FALSE(std::filesystem::exists(dir.path() / name)) << name;
  }
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "victim_unlink"));
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "victim_rename"));
  EXPECT_EQ(dancer::testing::read_file(dir.path() / "existing"), "content of existing\n");
  // Mode 2 = filter; one filter; no_new_privs (set by the parent and by the filter load).
  EXPECT_EQ(report.status.at("Seccomp"), "2");
  EXPECT_EQ(report.status.at("Seccomp_filters"), "1");
  EXPECT_EQ(report.status.at("NoNewPrivs"), "1");
  if (sandbox_user()) {
    EXPECT_EQ(report.status.at("Uid").substr(0, report.status.at("Uid").find('\t')),
              std::to_string(sandbox_user()->uid));
  }
  // Landlock beneath the filter wherever the kernel offers it.
  EXPECT_EQ(report.status.at("Landlock"), std::to_string(landlock_abi()));
}

// The same attempts in a child forked from a fork server (fork_server.h) instead of
// executed: the server's own confinement (kForkServer) and the child's stacked filter give
// the child exactly what an executed child gets.
TEST(Sandbox, AChildForkedFromTheForkServerIsConfinedLikeAnExecutedOne) {
  ProbeDir dir;
  const auto fd3_path = dir.top() / "forked.fd3";
  const common::UniqueFd fd3(
      ::open(fd3_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  ASSERT_TRUE(fd3.valid());
  SubprocessOptions server_options =
      sandboxed_child_options({DANCER_SANDBOX_PROBE, "fork-server", "3"});
  const auto server = ForkServer::start(server_options, 3, std::chrono::seconds(60));
  SubprocessOptions job;
  job.argv = {"syscalls", dir.path().string()};
  job.inherit_fds = {{3, fd3.get()}};
  const SubprocessResult r = server->run(job);
  ASSERT_TRUE(r.succeeded()) << r.describe() << "\n" << r.stderr_text;
  EXPECT_NE(r.pid, server->pid());
  const ProbeReport report = parse_probe_output(r.stdout_text);
  expect_forbidden_refused_and_allowed_working(report);
  EXPECT_EQ(dancer::testing::read_file(fd3_path), "written through fd 3\n");
  for (const char* name : {"created", "created_rdonly", "created_by_creat", "made", "renamed"}) {
    EXPECT_FALSE(std::filesystem::exists(dir.path() / name)) << name;
  }
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "victim_unlink"));
  EXPECT_EQ(report.status.at("Seccomp"), "2");
  EXPECT_EQ(report.status.at("NoNewPrivs"), "1");
  if (sandbox_user()) {
    EXPECT_EQ(report.status.at("Uid"), std::to_string(sandbox_user()->uid));
  }
  EXPECT_EQ(report.status.at("Landlock"), std::to_string(landlock_abi()));
}

TEST(Sandbox, WithoutTheFilterTheSameUserCouldDoIt) {
  // The control: same options, same user, same directory, no enter_sandbox(). What the
  // filter refuses above works here, so the refusals come from the filter. (Calls that
  // need privileges or depend on the host's sysctls are left out.)
  ProbeDir dir;
  const ProbeReport report = run_attempts("control", dir);
  for (const char* name :
       {"socket_inet",     "socket_inet6",     "socket_netlink", "socket_unix",
        "socketpair_unix", "execve_true",      "open_create",    "open_rdonly_creat",
        "open_rdwr",       "open_wronly",      "open_trunc",     "open_append",
        "creat",           "openat2",          "unlink",         "rename",
        "read_file",       "openat_rdonly",    "stat_path",      "access_path",
        "readlink_path",   "reopen_inherited", "mkdir",          "chmod",
        "ptrace_traceme",  "process_vm_readv", "kill_other",     "personality"}) {
    ASSERT_TRUE(report.attempts.count(name)) << name << " was not attempted";
    EXPECT_EQ(report.attempts.at(name), 0) << name;
  }
  EXPECT_NE(report.attempts.at("connect"), EACCES);  // ENOTSOCK: stdout is a pipe
  EXPECT_EQ(report.status.at("Seccomp"), "0");
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "created"));
}

TEST(Sandbox, FfmpegDecodesInsideTheSandbox) {
  TempDir dir;
  std::filesystem::permissions(dir.path(), std::filesystem::perms(0711));
  const auto video = dir / "out.mp4";
  const auto made = dancer::testing::run_command(
      "ffmpeg -nostdin -loglevel error -y -f lavfi -i testsrc=size=320x240:rate=10 -t 1 "
      "-pix_fmt yuv420p " +
      dancer::testing::shell_quote(video.string()));
  ASSERT_EQ(made.exit_code, 0);
  // Private to this process's user: the child reads it through the descriptor alone.
  std::filesystem::permissions(video, std::filesystem::perms(0600));
  SubprocessResult r = run_probe("decode", video);
  ASSERT_TRUE(r.succeeded()) << r.describe() << "\n" << r.stderr_text;
  EXPECT_EQ(r.stdout_text, "frames 10\n");
}

TEST(Sandbox, GaitAnalysisRunsInsideTheSandbox) {
  // The child's real work: FFmpeg decoding with its frame threads, OpenCV, the gait
  // analyzer, on a synthetic walk with a known cadence.
  TempDir dir;
  std::filesystem::permissions(dir.path(), std::filesystem::perms(0711));
  SyntheticWalkSpec spec;
  spec.cadence_steps_per_min = 100;
  spec.width = 640;
  spec.height = 360;
  const auto video = dir / "walk.mp4";
  render_synthetic_walk(spec, video);
  std::filesystem::permissions(video, std::filesystem::perms(0600));
  SubprocessResult r = run_probe("analyze", video);
  ASSERT_TRUE(r.succeeded()) << r.describe() << "\n" << r.stderr_text;
  const auto analysis = nlohmann::json::parse(r.stdout_text);
  EXPECT_TRUE(analysis.at("person_detected").get<bool>());
  EXPECT_NEAR(analysis.at("cadence_steps_per_min").get<double>(), 100.0, 3.0);
  EXPECT_GT(analysis.at("frames_analyzed").get<int>(), 60);
}

}  // namespace
}  // namespace dancer::analysis

// The confinement options of run_subprocess and the defaults the service applies to its
// analysis children (sandbox/sandbox.h). Tests run as root in CI, where the child must
// switch to the sandbox user; as an ordinary user the child keeps our uid.
#include "sandbox/subprocess.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sys/wait.h>
#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>
#include <thread>

#include "analysis/external_analyzer.h"
#include "sandbox/sandbox.h"
#include "support/test_support.h"

namespace dancer::analysis {
namespace {

using dancer::testing::TempDir;

constexpr const char* kSecretKey = "wJalrXUtnFEMI-secret-access-key";
constexpr const char* kSessionToken = "FwoGZXIvYXdzE-session-token";
constexpr const char* kDatabaseUrl = "postgresql://u:secret@h/db";

// Puts the service's secrets into this process's environment for one test.
class SecretsInEnvironment {
 public:
  SecretsInEnvironment() {
    ::setenv("AWS_SECRET_ACCESS_KEY", kSecretKey, 1);
    ::setenv("AWS_SESSION_TOKEN", kSessionToken, 1);
    ::setenv("DATABASE_URL", kDatabaseUrl, 1);
  }
  ~SecretsInEnvironment() {
    ::unsetenv("AWS_SECRET_ACCESS_KEY");
    ::unsetenv("AWS_SESSION_TOKEN");
    ::unsetenv("DATABASE_URL");
  }
  SecretsInEnvironment(const SecretsInEnvironment&) = delete;
  SecretsInEnvironment& operator=(const SecretsInEnvironment&) = delete;
};

void expect_no_secrets(const std::string& text) {
  for (const char* secret : {"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "DATABASE_URL",
                             kSecretKey, kSessionToken, "secret@h"}) {
    EXPECT_EQ(text.find(secret), std::string::npos) << secret << " reached the child:\n" << text;
  }
}

std::vector<std::string> sorted_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::sort(lines.begin(), lines.end());
  return lines;
}

// The value of a /proc/<pid>/status field, e.g. "Uid" -> "65534\t65534\t65534\t65534".
std::string status_field(const std::string& status, const std::string& field) {
  std::istringstream in(status);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(field + ":", 0) == 0) {
      std::string value = line.substr(field.size() + 1);
      value.erase(0, value.find_first_not_of(" \t"));
      return value;
    }
  }
  return "<no " + field + ">";
}

std::string first_id(const std::string& ids) { return ids.substr(0, ids.find('\t')); }

TEST(SandboxedSubprocess, ChildSeesOnlyTheMinimalEnvironment) {
  SecretsInEnvironment secrets;
  // Without an explicit environment the child inherits everything (the old behaviour).
  SubprocessOptions inheriting;
  inheriting.argv = {"/usr/bin/env"};
  SubprocessResult leaky = run_subprocess(inheriting);
  ASSERT_TRUE(leaky.succeeded()) << leaky.describe();
  EXPECT_NE(leaky.stdout_text.find(kSecretKey), std::string::npos);

  SubprocessResult r = run_subprocess(sandboxed_child_options({"/usr/bin/env"}));
  ASSERT_TRUE(r.succeeded()) << r.describe() << r.stderr_text;
  expect_no_secrets(r.stdout_text);
  EXPECT_EQ(sorted_lines(r.stdout_text),
            (std::vector<std::string>{"LANG=C", "PATH=/usr/bin:/bin", "TZ=UTC"}));
}

TEST(SandboxedSubprocess, EnvironmentFileOfTheChildHoldsNoSecrets) {
  SecretsInEnvironment secrets;
  SubprocessResult r = run_subprocess(sandboxed_child_options({"/bin/cat", "/proc/self/environ"}));
  ASSERT_TRUE(r.succeeded()) << r.describe() << r.stderr_text;
  expect_no_secrets(r.stdout_text);
  EXPECT_EQ(r.stdout_text, std::string("LANG=C\0TZ=UTC\0PATH=/usr/bin:/bin\0", 33));
}

TEST(SandboxedSubprocess, ExternalAnalyzerGetsPathButNoSecrets) {
  SecretsInEnvironment secrets;
  auto analyzer =
      make_external_analyzer({"printf '{\"env\": \"%s\"}' \"$(env | sort | tr '\\n' ' ')\" #",
                              std::chrono::seconds(10), 1ull << 30});
  AnalysisRequest request;
  request.video = "/tmp/x.mp4";
  const std::string env = analyzer->analyze(request).analysis.at("env").get<std::string>();
  expect_no_secrets(env);
  const char* path = std::getenv("PATH");
  EXPECT_NE(env.find(std::string("PATH=") + (path != nullptr ? path : "/usr/bin:/bin")),
            std::string::npos)
      << env;
  EXPECT_NE(env.find("LANG=C "), std::string::npos) << env;
}

TEST(SandboxedSubprocess, NoNewPrivsIsSet) {
  SubprocessResult r = run_subprocess(sandboxed_child_options({"/bin/cat", "/proc/self/status"}));
  ASSERT_TRUE(r.succeeded()) << r.describe() << r.stderr_text;
  EXPECT_EQ(status_field(r.stdout_text, "NoNewPrivs"), "1");
}

TEST(SandboxedSubprocess, RunsAsTheSandboxUserWhenTheParentIsRoot) {
  SubprocessResult r = run_subprocess(sandboxed_child_options({"/bin/cat", "/proc/self/status"}));
  ASSERT_TRUE(r.succeeded()) << r.describe() << r.stderr_text;
  const std::string uids = status_field(r.stdout_text, "Uid");
  const std::string gids = status_field(r.stdout_text, "Gid");
  if (::geteuid() == 0) {
    ASSERT_TRUE(sandbox_user().has_value());
    const std::string uid = std::to_string(sandbox_user()->uid);
    const std::string gid = std::to_string(sandbox_user()->gid);
    EXPECT_NE(uid, "0");
    // Real, effective, saved and file-system ids all changed; no supplementary groups.
    EXPECT_EQ(uids, uid + "\t" + uid + "\t" + uid + "\t" + uid);
    EXPECT_EQ(gids, gid + "\t" + gid + "\t" + gid + "\t" + gid);
    EXPECT_EQ(status_field(r.stdout_text, "Groups"), "");
  } else {
    EXPECT_FALSE(sandbox_user().has_value());
    EXPECT_EQ(first_id(uids), std::to_string(::geteuid()));
  }
}

TEST(SandboxedSubprocess, PrivateFileIsReadThroughTheInheritedDescriptorAndLeftAsItWas) {
  TempDir dir;
  // A private directory and file, as DOWNLOAD_DIR and a job's video are: the child needs no
  // permission on either, since it reads the descriptor the parent opened.
  std::filesystem::permissions(dir.path(), std::filesystem::perms(0700));
  const auto file = dir / "video.mp4";
  std::ofstream(file) << "video bytes";
  std::filesystem::permissions(file, std::filesystem::perms(0600));
  struct stat before {};
  ASSERT_EQ(::stat(file.c_str(), &before), 0);
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  auto options = sandboxed_child_options({"/bin/sh", "-c", "cat <&3"});
  options.inherit_fds = {{3, fd}};
  SubprocessResult r = run_subprocess(options);
  ::close(fd);
  EXPECT_TRUE(r.succeeded()) << r.describe() << r.stderr_text;
  EXPECT_EQ(r.stdout_text, "video bytes");
  // By name the sandbox user cannot read it (when the service is root and the child is
  // `nobody`), and the file's owner, group and mode are untouched.
  if (sandbox_user()) {
    SubprocessResult by_name = run_subprocess(sandboxed_child_options({"/bin/cat", file.string()}));
    EXPECT_EQ(by_name.exit_code, 1) << by_name.stdout_text;
  }
  struct stat after {};
  ASSERT_EQ(::stat(file.c_str(), &after), 0);
  EXPECT_EQ(after.st_uid, before.st_uid);
  EXPECT_EQ(after.st_gid, before.st_gid);
  EXPECT_EQ(after.st_mode, before.st_mode);
}

TEST(SandboxedSubprocess, FileSizeLimitStopsAWriteThroughAnInheritedDescriptor) {
  TempDir dir;
  const auto out_path = dir / "overlay.mp4";
  const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(out, 0);
  auto options =
      sandboxed_child_options({"/bin/sh", "-c", "head -c 100000 /dev/zero >&3 && echo done"});
  options.inherit_fds = {{3, out}};
  options.file_size_limit_bytes = 4096;
  SubprocessResult r = run_subprocess(options);
  ::close(out);
  EXPECT_FALSE(r.succeeded());
  EXPECT_EQ(r.stdout_text.find("done"), std::string::npos);
  EXPECT_LE(std::filesystem::file_size(out_path), 4096u);
}

TEST(SandboxedSubprocess, ChildDiesWithTheProcessThatStartedIt) {
  TempDir dir;
  std::filesystem::permissions(dir.path(), std::filesystem::perms::all);  // `nobody` writes
  const auto pid_file = dir / "grandchild.pid";
  // An intermediate process plays the service: it starts a sandboxed child that would run
  // for a minute, then is killed with SIGKILL, which runs no clean-up of its own.
  const pid_t service = ::fork();
  ASSERT_GE(service, 0);
  if (service == 0) {
    auto options = sandboxed_child_options(
        {"/bin/sh", "-c", "echo $$ > " + pid_file.string() + "; exec sleep 60"});
    options.timeout = std::chrono::seconds(120);
    run_subprocess(options);
    _exit(0);
  }
  pid_t grandchild = 0;
  for (int i = 0; i < 200 && grandchild == 0; ++i) {
    std::ifstream in(pid_file);
    if (!(in >> grandchild)) grandchild = 0;
    if (grandchild == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_GT(grandchild, 0);
  ASSERT_EQ(::kill(grandchild, 0), 0);
  ::kill(service, SIGKILL);
  ::waitpid(service, nullptr, 0);
  // Gone (or a zombie waiting for init to reap it) well before its minute.
  const auto running = [grandchild] {
    std::ifstream stat("/proc/" + std::to_string(grandchild) + "/stat");
    std::string pid, name, state;
    if (!(stat >> pid >> name >> state)) return false;
    return state != "Z" && state != "X";
  };
  for (int i = 0; i < 200 && running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_FALSE(running()) << "the sandboxed child outlived its parent";
}

TEST(SandboxedSubprocess, ChildWritesItsOutputToTheDescriptorItWasGiven) {
  TempDir dir;
  // The parent opens the output file (the sandboxed child could not), the child gets it
  // as fd 3.
  const int out = ::open((dir / "report.html").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(out, 0);
  SubprocessOptions options = sandboxed_child_options({"/bin/sh", "-c", "echo report >&3"});
  options.inherit_fds = {{3, out}};
  SubprocessResult r = run_subprocess(options);
  ::close(out);
  ASSERT_TRUE(r.succeeded()) << r.describe() << r.stderr_text;
  EXPECT_EQ(dancer::testing::read_file(dir / "report.html"), "report\n");
}

TEST(SandboxedSubprocess, SwappedDescriptorsArriveWhereAsked) {
  TempDir dir;
  const int a = ::open((dir / "a").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  const int b = ::open((dir / "b").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(a, 3);
  ASSERT_GE(b, 3);
  // Child fd `a` <- file b and child fd `b` <- file a: one dup2 after the other would
  // clobber the second source with the first.
  SubprocessOptions options = sandboxed_child_options(
      {"/bin/sh", "-c",
       "echo to-fd-a >&" + std::to_string(a) + "; echo to-fd-b >&" + std::to_string(b)});
  options.inherit_fds = {{a, b}, {b, a}};
  SubprocessResult r = run_subprocess(options);
  ::close(a);
  ::close(b);
  ASSERT_TRUE(r.succeeded()) << r.describe() << r.stderr_text;
  EXPECT_EQ(dancer::testing::read_file(dir / "b"), "to-fd-a\n");
  EXPECT_EQ(dancer::testing::read_file(dir / "a"), "to-fd-b\n");
}

TEST(SandboxedSubprocess, ParentDescriptorsWithoutCloexecDoNotReachTheChild) {
  TempDir dir;
  std::ofstream(dir / "secret") << "s";
  const int leaky = ::open((dir / "secret").c_str(), O_RDONLY);  // no O_CLOEXEC
  ASSERT_GE(leaky, 0);
  const int given = ::open((dir / "out").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(given, 0);
  const std::string probe = "for fd in 3 " + std::to_string(leaky) + " " + std::to_string(given) +
                            "; do if [ -e /proc/$$/fd/$fd ]; then echo open $fd; " +
                            "else echo closed $fd; fi; done";
  SubprocessOptions options = sandboxed_child_options({"/bin/sh", "-c", probe});
  options.inherit_fds = {{3, given}};
  SubprocessResult r = run_subprocess(options);
  ::close(leaky);
  ::close(given);
  ASSERT_TRUE(r.succeeded()) << r.describe() << r.stderr_text;
  EXPECT_NE(r.stdout_text.find("open 3\n"), std::string::npos) << r.stdout_text;
  if (leaky != 3) {
    EXPECT_NE(r.stdout_text.find("closed " + std::to_string(leaky) + "\n"), std::string::npos)
        << r.stdout_text;
  }
  if (given != 3) {
    EXPECT_NE(r.stdout_text.find("closed " + std::to_string(given) + "\n"), std::string::npos)
        << r.stdout_text;
  }
}

TEST(SandboxedSubprocess, InvalidOptionsAreRejectedBeforeFork) {
  SubprocessOptions options = sandboxed_child_options({"/bin/true"});
  options.inherit_fds = {{1, STDERR_FILENO}};
  EXPECT_THROW(run_subprocess(options), std::invalid_argument);
  options.inherit_fds = {{3, STDERR_FILENO}, {3, STDERR_FILENO}};
  EXPECT_THROW(run_subprocess(options), std::invalid_argument);
  options.inherit_fds = {{3, 1 << 20}};  // not an open descriptor
  EXPECT_THROW(run_subprocess(options), std::system_error);
  options.inherit_fds.clear();
  options.run_as = RunAs{0, 0};
  EXPECT_THROW(run_subprocess(options), std::invalid_argument);
}

TEST(SandboxedSubprocess, FailingPrivilegeDropIsAnErrorNotAnUnconfinedChild) {
  SubprocessOptions options = sandboxed_child_options({"/bin/true"});
  options.run_as = RunAs{65533, 65533};
  if (::geteuid() == 0) {
    // Root may switch to any ids; the child then runs as them.
    SubprocessOptions status = sandboxed_child_options({"/bin/cat", "/proc/self/status"});
    status.run_as = options.run_as;
    SubprocessResult r = run_subprocess(status);
    ASSERT_TRUE(r.succeeded()) << r.describe() << r.stderr_text;
    EXPECT_EQ(first_id(status_field(r.stdout_text, "Uid")), "65533");
  } else {
    // Without root the switch is refused: the start fails rather than run as us.
    EXPECT_THROW(run_subprocess(options), std::system_error);
  }
}

TEST(SandboxedSubprocess, SandboxUserLookupRejectsRootAndUnknownUsers) {
  EXPECT_THROW(resolve_sandbox_user("root"), SandboxError);
  EXPECT_THROW(resolve_sandbox_user("no-such-user-dancer"), SandboxError);
  const SandboxUser nobody = resolve_sandbox_user("nobody");
  EXPECT_NE(nobody.uid, 0u);
  EXPECT_NE(nobody.gid, 0u);
}

}  // namespace
}  // namespace dancer::analysis

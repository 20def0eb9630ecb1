// The confinement options of run_subprocess and the defaults the service applies to its
// analysis children (analysis/sandbox.h). Tests run as root in CI, where the child must
// switch to the sandbox user; as an ordinary user the child keeps our uid.
#include "analysis/subprocess.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "analysis/external_analyzer.h"
#include "analysis/sandbox.h"
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

TEST(SandboxedSubprocess, RootOnlyFileIsReadableOnlyAfterGrant) {
  TempDir dir;
  // The layout of a job directory: traversable by others, the file private.
  std::filesystem::permissions(dir.path(), std::filesystem::perms(0711));
  const auto file = dir / "video.mp4";
  std::ofstream(file) << "video bytes";
  std::filesystem::permissions(file, std::filesystem::perms(0600));
  const auto options = sandboxed_child_options({"/bin/cat", file.string()});

  SubprocessResult before = run_subprocess(options);
  if (::geteuid() == 0) {
    EXPECT_EQ(before.exit_code, 1);
    EXPECT_NE(before.stderr_text.find("Permission denied"), std::string::npos)
        << before.stderr_text;
  } else {
    EXPECT_EQ(before.stdout_text, "video bytes");  // same user: nothing to grant
  }
  grant_read_to_sandbox_user(file);
  SubprocessResult after = run_subprocess(options);
  EXPECT_TRUE(after.succeeded()) << after.describe() << after.stderr_text;
  EXPECT_EQ(after.stdout_text, "video bytes");
  // Others (not the sandbox group) still cannot read it, and nobody gained write access.
  const auto perms = std::filesystem::status(file).permissions();
  EXPECT_EQ(perms & std::filesystem::perms::others_all, std::filesystem::perms::none);
  EXPECT_EQ(perms & std::filesystem::perms::group_write, std::filesystem::perms::none);
}

TEST(SandboxedSubprocess, GrantRefusesWhatIsNotARegularFile) {
  TempDir dir;
  const auto fifo = dir / "video.mp4";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const auto link = dir / "link.mp4";
  std::ofstream(dir / "target") << "x";
  std::filesystem::create_symlink(dir / "target", link);
  if (::geteuid() == 0) {
    // Neither blocks on the FIFO nor follows the link to change its target.
    EXPECT_THROW(grant_read_to_sandbox_user(fifo), std::system_error);
    EXPECT_THROW(grant_read_to_sandbox_user(link), std::system_error);
    struct stat target {};
    ASSERT_EQ(::stat((dir / "target").c_str(), &target), 0);
    EXPECT_EQ(target.st_gid, ::getegid());  // the link's target kept its group
  } else {
    EXPECT_NO_THROW(grant_read_to_sandbox_user(fifo));  // nothing to grant
  }
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

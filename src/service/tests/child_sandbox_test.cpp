// The service's sandboxed child refuses to reach any file by name: what a compromised child
// (code injected by a hostile video) would try first. child_open_probe is the real child
// (service::run_child) with one test-only mode that attempts the opens itself, after the
// same sandbox set-up and through the same launch (run_sandboxed_child) as every probe and
// analysis. The targets are world-readable, so only the sandbox stands between the child and
// them, whichever user the child runs as.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "analysis/child_protocol.h"
#include "common/fd.h"
#include "media/metadata.h"
#include "sandbox/subprocess.h"
#include "service/analysis_runner.h"
#include "service/config.h"
#include "support/test_support.h"

namespace dancer::service {
namespace {

using dancer::testing::TempDir;
using nlohmann::json;

// AddressSanitizer reserves terabytes of address space, which RLIMIT_AS would refuse.
#if defined(__SANITIZE_ADDRESS__)
constexpr std::uint64_t kChildMemoryMb = 0;
#else
constexpr std::uint64_t kChildMemoryMb = 1024;
#endif

// `server`: the child is forked from it rather than executed.
void expect_every_open_refused(analysis::ForkServer* server) {
  TempDir dir;
  std::filesystem::permissions(dir.path(), std::filesystem::perms(0755));
  // What the red team read: the service's .env and AWS credentials, the SQLite database,
  // another patient's video; and the system's and the parent's own files.
  const std::vector<std::pair<std::string, std::string>> secrets = {
      {".env", "AWS_SECRET_ACCESS_KEY=env-secret-value\n"},
      {"credentials", "[default]\naws_secret_access_key = profile-secret-value\n"},
      {"dancer_uploads.db", std::string("SQLite format 3\0", 16) + "patient-a-row"},
      {"other-patient.mp4", "patient-b-video-bytes"},
  };
  std::vector<std::string> paths;
  for (const auto& [name, content] : secrets) {
    std::ofstream(dir / name, std::ios::binary) << content;
    std::filesystem::permissions(dir / name, std::filesystem::perms(0644));
    paths.push_back((dir / name).string());
  }
  for (const std::string& path :
       {std::string("/etc/passwd"), std::string("/proc/self/environ"),
        std::string("/proc/self/fd/3"), "/proc/" + std::to_string(::getpid()) + "/environ",
        std::string("/proc/self/exe")}) {
    paths.push_back(path);
  }
  // The control: this process can read every one of the first four.
  for (std::size_t i = 0; i < secrets.size(); ++i) {
    ASSERT_EQ(dancer::testing::read_file(paths[i]), secrets[i].second);
  }

  // The list reaches the child as the probe's metadata does: an inherited descriptor.
  const auto list_path = dir / "paths.json";
  std::ofstream(list_path) << json(paths).dump();
  const common::UniqueFd list(::open(list_path.c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(list.valid());
  analysis::child_protocol::ChildRequest request;
  request.mode = "open-probe";
  request.metadata_fd = 3;
  analysis::SubprocessOptions options;
  options.inherit_fds = {{3, list.get()}};
  const json result = run_sandboxed_child(
      DANCER_CHILD_OPEN_PROBE, request, options,
      {"open-probe", "ANALYSIS_TIMEOUT", 60, "ANALYSIS_MEMORY_LIMIT_MB", kChildMemoryMb},
      std::chrono::seconds(60), 60, 1, server);

  const json& attempts = result.at("attempts");
  ASSERT_EQ(attempts.size(), paths.size());
  for (const std::string& path : paths) {
    const json& on = attempts.at(path);
    SCOPED_TRACE(path + ": " + on.dump());
    EXPECT_EQ(on.at("open").at("errno"), EACCES);
    EXPECT_EQ(on.at("openat").at("errno"), EACCES);
    EXPECT_EQ(on.at("open_path").at("errno"), EACCES);
    // openat2 cannot be inspected by seccomp: ENOSYS, and the caller falls back to openat.
    EXPECT_EQ(on.at("openat2").at("errno"), ENOSYS);
    EXPECT_EQ(on.at("stat").at("errno"), EACCES);
    EXPECT_EQ(on.at("access").at("errno"), EACCES);
  }
  const std::string text = result.dump();
  for (const char* secret : {"env-secret-value", "profile-secret-value", "patient-a-row",
                             "patient-b-video-bytes", "root:"}) {
    EXPECT_EQ(text.find(secret), std::string::npos) << secret;
  }
}

// ANALYSIS_MAX_DURATION and ANALYSIS_MAX_FRAMES are checked from the probe's metadata before
// any child starts: a 20-minute upload no longer holds a worker for ANALYSIS_TIMEOUT.
TEST(ChildSandbox, EveryOpenByNameIsRefusedInsideTheRealChild) {
  expect_every_open_refused(nullptr);
}

// The same child forked from the service's fork server (`child fork-server`, which preloads
// and confines itself before forking it).
TEST(ChildSandbox, EveryOpenByNameIsRefusedInsideAChildForkedFromTheForkServer) {
  const auto server =
      start_fork_server(DANCER_CHILD_OPEN_PROBE, analysis::child_protocol::ChildRequest{});
  ASSERT_TRUE(server->alive());
  expect_every_open_refused(server.get());
}

TEST(ChildSandbox, ContentLimitsFailAnUploadBeforeAnyDecoding) {
  TempDir dir;
  ServiceConfig config;
  config.analysis.analyzer = "gait";
  config.analysis.max_duration_seconds = 600;
  config.analysis.max_frames = 36000;
  // An executable that would fail loudly if it were started.
  auto runner = make_analysis_runner(config, "/nonexistent/dancer-analysis");
  analysis::AnalysisRequest request;
  request.video = dir / "upload.mp4";
  const auto reason = [&](const json& metadata) -> std::string {
    request.metadata = metadata;
    try {
      runner->run(request, nullptr);
    } catch (const media::MediaError& e) {
      return (e.code() == media::MediaErrorCode::kLimitExceeded ? "limit: " : "media: ") +
             std::string(e.what());
    } catch (const std::exception& e) {
      return std::string("other error: ") + e.what();
    }
    return "no error";
  };
  EXPECT_NE(reason({{"format", {{"duration", "1200.000000"}}}, {"streams", json::array()}})
                .rfind("limit: the video lasts 1200 s, longer than ANALYSIS_MAX_DURATION", 0),
            std::string::npos);
  EXPECT_NE(reason({{"format", {{"duration", "300.0"}}},
                    {"streams", {{{"codec_type", "video"}, {"nb_frames", "72000"}}}}})
                .rfind("limit: the video has 72000 frames, more than ANALYSIS_MAX_FRAMES", 0),
            std::string::npos);
  // Within the limits the runner goes on to start its child (which does not exist here).
  EXPECT_EQ(reason({{"format", {{"duration", "10.0"}}},
                    {"streams", {{{"codec_type", "video"}, {"nb_frames", "300"}}}}})
                .find("limit:"),
            std::string::npos);
}

}  // namespace
}  // namespace dancer::service

#include "analysis/external_analyzer.h"

#include <gtest/gtest.h>

#include <fstream>

#include "sandbox/subprocess.h"
#include "support/test_support.h"

namespace dancer::analysis {
namespace {

AnalysisRequest request_for(const std::string& video) {
  AnalysisRequest request;
  request.video = video;
  return request;
}

SubprocessResult run_argv(std::vector<std::string> argv) {
  SubprocessOptions options;
  options.argv = std::move(argv);
  return run_subprocess(options);
}

TEST(SubprocessTest, CapturesOutputAndExitCode) {
  SubprocessResult r = run_argv({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.stdout_text, "out\n");
  EXPECT_EQ(r.stderr_text, "err\n");
  EXPECT_FALSE(r.succeeded());
  EXPECT_EQ(r.describe(), "exit code 3");
}

TEST(SubprocessTest, TimeoutKillsTheWholeProcessGroup) {
  SubprocessOptions o;
  o.argv = {"/bin/sh", "-c", "sleep 30 & sleep 30"};
  o.timeout = std::chrono::milliseconds(300);
  SubprocessResult r = run_subprocess(o);
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.term_signal, SIGKILL);
}

TEST(SubprocessTest, MemoryLimitStopsAGreedyChild) {
  SubprocessOptions o;
  // python3 allocating 1 GiB under a 256 MiB address-space limit fails.
  o.argv = {"/usr/bin/python3", "-c", "x = bytearray(1 << 30); print('allocated')"};
  o.memory_limit_bytes = 256ull << 20;
  SubprocessResult r = run_subprocess(o);
  EXPECT_FALSE(r.succeeded());
  EXPECT_EQ(r.stdout_text.find("allocated"), std::string::npos);
}

TEST(SubprocessTest, CrashIsReportedAsSignal) {
  SubprocessResult r = run_argv({"/bin/sh", "-c", "kill -SEGV $$"});
  EXPECT_EQ(r.term_signal, SIGSEGV);
  EXPECT_NE(r.describe().find("SIGSEGV"), std::string::npos);
}

TEST(SubprocessTest, CancelFlagKillsTheChild) {
  std::atomic<bool> cancel{true};
  SubprocessOptions o;
  o.argv = {"/bin/sleep", "30"};
  o.cancel = &cancel;
  SubprocessResult r = run_subprocess(o);
  EXPECT_TRUE(r.cancelled);
  EXPECT_FALSE(r.succeeded());
}

TEST(ExternalAnalyzerTest, JsonFromStdoutBecomesTheResult) {
  testing::TempDir dir;
  auto script = dir / "analyze.sh";
  std::ofstream(script) << "#!/bin/sh\nprintf '{\"file\": \"%s\", \"steps\": 12}' \"$1\"\n";
  std::filesystem::permissions(script, std::filesystem::perms::owner_all);
  auto analyzer = make_external_analyzer({script.string(), std::chrono::seconds(10), 1ull << 30});
  // A hostile file name must arrive verbatim, never interpreted by the shell.
  const std::string video = (dir / "a b;$(touch pwned)'.mp4").string();
  AnalysisResult r = analyzer->analyze(request_for(video));
  EXPECT_EQ(r.analysis.at("file"), video);
  EXPECT_EQ(r.analysis.at("steps"), 12);
  EXPECT_EQ(r.analysis.at("analyzer").at("name"), "external-command");
  EXPECT_FALSE(std::filesystem::exists(dir / "pwned"));
}

TEST(ExternalAnalyzerTest, FailuresAreTyped) {
  auto expect_code = [](const std::string& command, AnalysisErrorCode code, int timeout_s = 10) {
    auto analyzer = make_external_analyzer({command, std::chrono::seconds(timeout_s), 1ull << 30});
    try {
      analyzer->analyze(request_for("/tmp/x.mp4"));
      ADD_FAILURE() << command << " did not throw";
    } catch (const AnalysisError& e) {
      EXPECT_EQ(e.code(), code) << command << ": " << e.what();
    }
  };
  expect_code("echo 'not json' #", AnalysisErrorCode::kFailed);
  expect_code("echo oops >&2; exit 2 #", AnalysisErrorCode::kFailed);
  expect_code("kill -KILL $$ #", AnalysisErrorCode::kCrashed);
  expect_code("sleep 5 #", AnalysisErrorCode::kTimeout, 1);
}

}  // namespace
}  // namespace dancer::analysis

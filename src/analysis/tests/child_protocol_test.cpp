// The parent/child protocol: every failure class survives the process boundary, and the
// parent decodes what a (possibly compromised) child prints without trusting it.
#include "analysis/child_protocol.h"

#include <gtest/gtest.h>
#include <signal.h>

namespace dancer::analysis {
namespace {

namespace protocol = child_protocol;

const protocol::ChildDescription kProbe{"probe", "PROBE_TIMEOUT", 30, "PROBE_MEMORY_LIMIT_MB",
                                        1024};

SubprocessResult exited(std::string stdout_text, int code = 0) {
  SubprocessResult r;
  r.exit_code = code;
  r.stdout_text = std::move(stdout_text);
  return r;
}

template <typename Thrower>
std::string encode_thrown(Thrower thrower, const nlohmann::json& details = nullptr) {
  try {
    thrower();
  } catch (...) {
    return protocol::encode_current_exception(details);
  }
  return {};
}

TEST(ChildProtocol, ASuccessLineGivesTheResult) {
  const auto line = protocol::encode_result({{"metadata", {{"streams", nlohmann::json::array()}}}});
  EXPECT_EQ(protocol::decode(exited(line + "\n"), kProbe)["metadata"]["streams"].size(), 0u);
}

TEST(ChildProtocol, EveryErrorCodeComesBackAsTheSameTypedError) {
  for (AnalysisErrorCode code :
       {AnalysisErrorCode::kInvalidInput, AnalysisErrorCode::kTimeout, AnalysisErrorCode::kCrashed,
        AnalysisErrorCode::kResourceLimit, AnalysisErrorCode::kFailed, AnalysisErrorCode::kInternal,
        AnalysisErrorCode::kCancelled}) {
    const auto line = encode_thrown([code] { throw AnalysisError(code, "why"); });
    try {
      protocol::decode(exited(line), kProbe);
      ADD_FAILURE() << "no error";
    } catch (const AnalysisError& e) {
      EXPECT_EQ(e.code(), code) << protocol::to_string(code);
      EXPECT_STREQ(e.what(), "why");
    }
  }
  for (media::MediaErrorCode code :
       {media::MediaErrorCode::kNotFound, media::MediaErrorCode::kInvalidData,
        media::MediaErrorCode::kNoVideo, media::MediaErrorCode::kUnsupported,
        media::MediaErrorCode::kIo, media::MediaErrorCode::kLimitExceeded}) {
    const auto line =
        encode_thrown([code] { throw media::MediaError(code, "media why"); }, {{"size", 3}});
    try {
      protocol::decode(exited(line), kProbe);
      ADD_FAILURE() << "no error";
    } catch (const protocol::ChildReportedMediaError& e) {
      EXPECT_EQ(e.code(), code) << media::to_string(code);
      EXPECT_EQ(e.details()["size"], 3);
    }
  }
}

TEST(ChildProtocol, OutOfMemoryInTheChildIsTheResourceLimit) {
  const auto line = encode_thrown([] { throw std::bad_alloc(); });
  try {
    protocol::decode(exited(line), kProbe);
    ADD_FAILURE();
  } catch (const AnalysisError& e) {
    EXPECT_EQ(e.code(), AnalysisErrorCode::kResourceLimit);
  }
}

AnalysisErrorCode code_of(const SubprocessResult& r) {
  try {
    protocol::decode(r, kProbe);
  } catch (const AnalysisError& e) {
    return e.code();
  }
  ADD_FAILURE() << "no AnalysisError";
  return AnalysisErrorCode::kFailed;
}

TEST(ChildProtocol, HowTheChildEndedDecidesWhenItSaidNothingUsable) {
  SubprocessResult r = exited("");
  r.timed_out = true;
  EXPECT_EQ(code_of(r), AnalysisErrorCode::kTimeout);
  r = exited("");
  r.cancelled = true;
  EXPECT_EQ(code_of(r), AnalysisErrorCode::kCancelled);
  r = exited("");
  r.term_signal = SIGXCPU;
  EXPECT_EQ(code_of(r), AnalysisErrorCode::kTimeout);
  r = exited("");
  r.term_signal = SIGSEGV;
  EXPECT_EQ(code_of(r), AnalysisErrorCode::kCrashed);
  // SIGKILL that the parent did not send: the OOM killer, a condition of the machine.
  r = exited("");
  r.term_signal = SIGKILL;
  EXPECT_EQ(code_of(r), AnalysisErrorCode::kInternal);
  EXPECT_EQ(code_of(exited("", 3)), AnalysisErrorCode::kCrashed);
  EXPECT_EQ(code_of(exited("not json")), AnalysisErrorCode::kCrashed);
}

TEST(ChildProtocol, ASuccessPrintedBeforeACrashIsNotASuccess) {
  SubprocessResult r = exited(protocol::encode_result({{"metadata", nlohmann::json::object()}}));
  r.term_signal = SIGSEGV;
  EXPECT_EQ(code_of(r), AnalysisErrorCode::kCrashed);
}

TEST(ChildProtocol, HostileOutputIsRefusedWithoutHarmingTheParent) {
  // Nesting deep enough to exhaust a recursive parser's stack.
  EXPECT_EQ(code_of(exited(std::string(1'000'000, '[') + std::string(1'000'000, ']'))),
            AnalysisErrorCode::kCrashed);
  // Fields of the wrong types.
  EXPECT_EQ(code_of(exited(R"({"protocol": "1", "ok": true, "result": {}})")),
            AnalysisErrorCode::kCrashed);
  const auto odd =
      R"({"protocol": 1, "ok": false, "error": {"domain": 7, "code": [], "message": {}}})";
  try {
    protocol::decode(exited(odd), kProbe);
    ADD_FAILURE();
  } catch (const AnalysisError& e) {
    EXPECT_EQ(e.code(), AnalysisErrorCode::kFailed);
  }
}

TEST(ChildProtocol, AProxyRequestCrossesTheCommandLineWhole) {
  protocol::ChildRequest request;
  request.mode = "proxy";
  request.input_fd = 5;
  request.max_height = 480;
  request.threads = 2;
  request.limits.max_frame_pixels = 1000000;
  request.limits.max_duration_s = 600;
  request.limits.max_frames = 36000;
  request.limits.max_fps = 60;
  request.outputs = {{"proxy.mp4", 3}, {"poster.jpg", 4}};
  const auto back = protocol::ChildRequest::from_argv(request.to_argv());
  EXPECT_EQ(back.mode, "proxy");
  EXPECT_EQ(back.input_fd, 5);
  EXPECT_EQ(back.max_height, 480);
  EXPECT_EQ(back.threads, 2);
  EXPECT_EQ(back.limits.max_duration_s, 600);
  EXPECT_EQ(back.limits.max_frames, 36000);
  EXPECT_EQ(back.limits.max_fps, 60);
  EXPECT_EQ(back.outputs, request.outputs);
  // A height no picture could be scaled to is refused, not clamped.
  EXPECT_THROW(protocol::ChildRequest::from_argv({"proxy", "--max-height", "8"}),
               std::invalid_argument);
}

}  // namespace
}  // namespace dancer::analysis

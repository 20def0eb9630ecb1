// ANALYZER selects the built-in analyzer; placeholder runs in process.
#include <gtest/gtest.h>

#include "analysis/placeholder_analyzer.h"
#include "service/analysis_runner.h"
#include "service/config.h"

namespace dancer::service {
namespace {

TEST(AnalyzerSetting, DefaultsToPoseWithTheFullModel) {
  const ServiceConfig config = load_config({});
  EXPECT_EQ(config.analysis.analyzer, "pose");
  EXPECT_EQ(config.analysis.pose_model, "full");
  EXPECT_EQ(config.analysis.threads, 0);
  EXPECT_EQ(load_config({{"ANALYZER", "gait"}}).analysis.analyzer, "gait");
  EXPECT_EQ(load_config({{"POSE_MODEL", "Lite"}}).analysis.pose_model, "lite");
  EXPECT_EQ(load_config({{"ANALYSIS_THREADS", "3"}}).analysis.threads, 3);
}

TEST(AnalyzerSetting, AcceptsPlaceholderCaseInsensitively) {
  EXPECT_EQ(load_config({{"ANALYZER", "Placeholder"}}).analysis.analyzer, "placeholder");
}

TEST(AnalyzerSetting, RejectsUnknownAnalyzerNamingTheVariable) {
  try {
    load_config({{"ANALYZER", "openpose"}});
    FAIL() << "ANALYZER=openpose accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.variable(), "ANALYZER");
  }
  try {
    load_config({{"POSE_MODEL", "huge"}});
    FAIL() << "POSE_MODEL=huge accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.variable(), "POSE_MODEL");
  }
}

TEST(AnalyzerSetting, PlaceholderRunsInProcessWithoutTheExecutable) {
  ServiceConfig config;
  config.analysis.analyzer = "placeholder";
  // A path that cannot be executed: the placeholder's analysis must not spawn a child.
  auto runner = make_analysis_runner(config, "/nonexistent/dancer-analysis");
  analysis::AnalysisRequest request;
  request.video = "/nonexistent/video.mp4";
  request.metadata = {{"format", {{"duration", "1.500000"}}},
                      {"streams", {{{"codec_type", "video"}, {"avg_frame_rate", "20/1"}}}}};
  auto result = runner->run(request, nullptr);
  EXPECT_EQ(result.analysis["analyzer"]["name"], analysis::kPlaceholderAnalyzerName);
  EXPECT_EQ(result.analysis["frame_count"], 30);
}

}  // namespace
}  // namespace dancer::service

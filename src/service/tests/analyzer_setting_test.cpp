// ANALYZER selects the built-in analyzer; placeholder runs in process.
#include <gtest/gtest.h>

#include "analysis/placeholder_analyzer.h"
#include "service/analysis_runner.h"
#include "service/config.h"

namespace dancer::service {
namespace {

TEST(AnalyzerSetting, DefaultsToGait) { EXPECT_EQ(load_config({}).analysis.analyzer, "gait"); }

TEST(AnalyzerSetting, AcceptsPlaceholderCaseInsensitively) {
  EXPECT_EQ(load_config({{"ANALYZER", "Placeholder"}}).analysis.analyzer, "placeholder");
}

TEST(AnalyzerSetting, RejectsUnknownAnalyzerNamingTheVariable) {
  try {
    load_config({{"ANALYZER", "pose"}});
    FAIL() << "ANALYZER=pose accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.variable(), "ANALYZER");
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

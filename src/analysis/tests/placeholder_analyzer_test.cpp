#include "analysis/placeholder_analyzer.h"

#include <gtest/gtest.h>

#include "media/metadata.h"
#include "support/test_support.h"

namespace dancer::analysis {
namespace {

nlohmann::json metadata_with_video(const nlohmann::json& video,
                                   const nlohmann::json& format = nlohmann::json::object()) {
  return {{"format", format}, {"streams", nlohmann::json::array({video})}};
}

TEST(PlaceholderAnalyzer, IsLabelledAsPlaceholder) {
  auto analysis = placeholder_analysis(metadata_with_video(
      {{"codec_type", "video"}, {"duration", "2.000000"}, {"avg_frame_rate", "25/1"}}));
  EXPECT_EQ(analysis["analyzer"]["name"], "placeholder");
  EXPECT_EQ(analysis["placeholder"], true);
}

TEST(PlaceholderAnalyzer, ReadsFfprobeStringNumbersAndRationals) {
  auto analysis = placeholder_analysis(metadata_with_video({{"codec_type", "video"},
                                                            {"duration", "4.004000"},
                                                            {"avg_frame_rate", "30000/1001"},
                                                            {"nb_frames", "120"},
                                                            {"width", 640},
                                                            {"height", 360}}));
  EXPECT_DOUBLE_EQ(analysis["duration_seconds"].get<double>(), 4.004);
  EXPECT_NEAR(analysis["fps"].get<double>(), 29.97, 0.001);
  EXPECT_EQ(analysis["frame_count"], 120);
  EXPECT_EQ(analysis["width"], 640);
  EXPECT_EQ(analysis["height"], 360);
}

TEST(PlaceholderAnalyzer, DerivesFrameCountAndDurationWhenStreamLacksThem) {
  // WebM streams carry neither nb_frames nor a stream duration; the format has the duration.
  auto analysis = placeholder_analysis(metadata_with_video(
      {{"codec_type", "video"}, {"avg_frame_rate", "0/0"}, {"r_frame_rate", "24/1"}},
      {{"duration", "3.000000"}}));
  EXPECT_DOUBLE_EQ(analysis["duration_seconds"].get<double>(), 3.0);
  EXPECT_DOUBLE_EQ(analysis["fps"].get<double>(), 24.0);
  EXPECT_EQ(analysis["frame_count"], 72);
}

TEST(PlaceholderAnalyzer, RejectsMissingMetadataOrVideo) {
  try {
    placeholder_analysis(nullptr);
    FAIL() << "null metadata accepted";
  } catch (const AnalysisError& e) {
    EXPECT_EQ(e.code(), AnalysisErrorCode::kInvalidInput);
  }
  nlohmann::json audio_only = {{"streams", {{{"codec_type", "audio"}}}}};
  EXPECT_THROW(placeholder_analysis(audio_only), AnalysisError);
}

TEST(PlaceholderAnalyzer, AgreesWithProbedRealFile) {
  dancer::testing::TempDir dir;
  auto video = dancer::testing::make_test_media(dir.path(), "h264_mp4", 2.0);
  AnalysisRequest request;
  request.video = video;
  request.metadata = media::probe_file(video);
  auto result = make_placeholder_analyzer()->analyze(request);
  const auto& stream = request.metadata["streams"][0];
  EXPECT_EQ(result.analysis["width"], stream["width"]);
  EXPECT_EQ(result.analysis["height"], stream["height"]);
  EXPECT_NEAR(result.analysis["duration_seconds"].get<double>(), 2.0, 0.1);
  EXPECT_GT(result.analysis["frame_count"].get<long long>(), 0);
}

}  // namespace
}  // namespace dancer::analysis

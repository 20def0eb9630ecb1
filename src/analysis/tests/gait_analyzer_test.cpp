#include "analysis/gait_analyzer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

#include "support/test_support.h"
#include "synthetic_walker/synthetic_walker.h"

namespace dancer::analysis {
namespace {

using dancer::testing::TempDir;

// Mean distance from each detected step to the nearest true heel strike.
double heel_strike_mae(const nlohmann::json& steps, const std::vector<double>& truth) {
  double sum = 0;
  for (const auto& e : steps) {
    double best = 1e9;
    for (double t : truth) best = std::min(best, std::abs(t - e["time_s"].get<double>()));
    sum += best;
  }
  return steps.empty() ? 1e9 : sum / static_cast<double>(steps.size());
}

AnalysisResult analyze(const std::filesystem::path& video, std::filesystem::path report_dir = {},
                       std::optional<double> height = std::nullopt) {
  AnalysisRequest request;
  request.video = video;
  request.report_dir = std::move(report_dir);
  request.subject_height_m = height;
  return make_gait_analyzer()->analyze(request);
}

TEST(GaitAnalyzer, NameAndVersion) {
  auto analyzer = make_gait_analyzer();
  EXPECT_EQ(analyzer->name(), "silhouette-gait");
  EXPECT_EQ(analyzer->version(), kGaitAnalyzerVersion);
}

TEST(GaitAnalyzer, MeasuresASyntheticWalkLeftToRight) {
  TempDir dir;
  SyntheticWalkSpec spec;
  spec.cadence_steps_per_min = 100;
  spec.width = 640;
  spec.height = 360;
  const auto truth = render_synthetic_walk(spec, dir / "walk.mp4");
  const auto a = analyze(dir / "walk.mp4", {}, 1.75).analysis;
  EXPECT_EQ(a["analyzer"]["name"], "silhouette-gait");
  EXPECT_TRUE(a["person_detected"].get<bool>());
  EXPECT_NEAR(a["cadence_steps_per_min"].get<double>(), 100.0, 3.0);
  EXPECT_LT(heel_strike_mae(a["step_events"], truth.heel_strike_times_s), 0.05);
  EXPECT_EQ(a["walking_direction"], "left_to_right");
  EXPECT_GE(a["step_count"].get<int>(), static_cast<int>(truth.heel_strike_times_s.size()) - 3);
  EXPECT_LE(a["step_count"].get<int>(), static_cast<int>(truth.heel_strike_times_s.size()));
  EXPECT_NEAR(a["speed_body_heights_per_s"].get<double>(), truth.speed_body_heights_per_s,
              0.1 * truth.speed_body_heights_per_s);
  EXPECT_NEAR(a["step_length_body_heights"].get<double>(), truth.step_length_body_heights,
              0.1 * truth.step_length_body_heights);
  EXPECT_NEAR(a["speed_m_per_s"].get<double>(), 1.75 * a["speed_body_heights_per_s"].get<double>(),
              1e-9);
  EXPECT_NEAR(a["step_length_m"].get<double>(), 1.75 * a["step_length_body_heights"].get<double>(),
              1e-9);
  EXPECT_NEAR(a["step_time_mean_s"].get<double>(), 0.6, 0.02);
  EXPECT_LT(a["step_time_cv"].get<double>(), 0.1);
  EXPECT_GT(a["step_time_symmetry"].get<double>(), 0.9);
  EXPECT_GT(a["confidence"].get<double>(), 0.3);
  EXPECT_LE(a["confidence"].get<double>(), 1.0);
  EXPECT_FALSE(a["segments"].empty());
  EXPECT_TRUE(a["quality"]["warnings"].empty()) << a["quality"]["warnings"];
  EXPECT_EQ(a["quality"]["resolution"]["width"], 640);
  EXPECT_GT(a["frames_analyzed"].get<int>(), 60);
}

TEST(GaitAnalyzer, MeasuresANoisyFastWalkRightToLeft) {
  TempDir dir;
  SyntheticWalkSpec spec;
  spec.cadence_steps_per_min = 130;
  spec.fps = 25;
  spec.width = 480;
  spec.height = 270;
  spec.left_to_right = false;
  spec.noise_sigma = 5;
  spec.textured_background = true;
  spec.seed = 7;
  const auto truth = render_synthetic_walk(spec, dir / "walk.mp4");
  const auto a = analyze(dir / "walk.mp4").analysis;
  EXPECT_NEAR(a["cadence_steps_per_min"].get<double>(), 130.0, 3.0);
  EXPECT_LT(heel_strike_mae(a["step_events"], truth.heel_strike_times_s), 0.05);
  EXPECT_EQ(a["walking_direction"], "right_to_left");
  EXPECT_FALSE(a.contains("speed_m_per_s"));  // no subject height given
}

TEST(GaitAnalyzer, EmptySceneHasNoPersonAndNoNumbers) {
  TempDir dir;
  SyntheticWalkSpec spec;
  spec.with_walker = false;
  spec.duration_s = 3;
  spec.noise_sigma = 4;
  spec.textured_background = true;
  render_synthetic_walk(spec, dir / "empty.mp4");
  const auto a = analyze(dir / "empty.mp4").analysis;
  EXPECT_FALSE(a["person_detected"].get<bool>());
  EXPECT_TRUE(a["step_events"].empty());
  EXPECT_TRUE(a["cadence_steps_per_min"].is_null());
  EXPECT_TRUE(a["step_count"].is_null());
  EXPECT_TRUE(a["speed_body_heights_per_s"].is_null());
  EXPECT_TRUE(a["walking_direction"].is_null());
  EXPECT_EQ(a["confidence"].get<double>(), 0.0);
  const auto& w = a["quality"]["warnings"];
  EXPECT_NE(std::find(w.begin(), w.end(), "no_person"), w.end()) << w;
}

TEST(GaitAnalyzer, WarnsAboutLowFrameRateLowResolutionAndDarkness) {
  TempDir dir;
  SyntheticWalkSpec spec;
  spec.fps = 12;
  spec.width = 320;
  spec.height = 180;
  spec.background_gray = 25;
  spec.figure_gray = 5;
  render_synthetic_walk(spec, dir / "poor.mp4");
  const auto w = analyze(dir / "poor.mp4").analysis["quality"]["warnings"];
  for (const char* expected : {"low_frame_rate", "low_resolution", "too_dark"}) {
    EXPECT_NE(std::find(w.begin(), w.end(), expected), w.end()) << expected << " in " << w;
  }
}

TEST(GaitAnalyzer, RejectsAFileThatIsNotAVideo) {
  TempDir dir;
  const auto path = dancer::testing::make_test_media(dir.path(), "text_as_mp4");
  try {
    analyze(path);
    FAIL() << "expected AnalysisError";
  } catch (const AnalysisError& e) {
    EXPECT_EQ(e.code(), AnalysisErrorCode::kInvalidInput);
  }
}

// Real walk with hand-labelled foot contacts (see ../shared/testdata/videos/README.md):
// initial contacts at frames 68, 88, 105, 122, 139, 156, 174; about 102 steps/min.
TEST(GaitAnalyzer, RealSideViewWalkMatchesHandLabels) {
  const std::filesystem::path video =
      dancer::testing::shared_test_data("videos/side_gaitcdio_4markerskevin1.mp4");
  ASSERT_TRUE(std::filesystem::exists(video)) << video;
  const auto a = analyze(video).analysis;
  EXPECT_TRUE(a["person_detected"].get<bool>());
  EXPECT_EQ(a["walking_direction"], "left_to_right");
  EXPECT_NEAR(a["cadence_steps_per_min"].get<double>(), 102.0, 10.0);
  const std::vector<int> contacts = {68, 88, 105, 122, 139, 156, 174};
  int matched = 0;
  for (const auto& e : a["step_events"]) {
    const int f = e["frame"].get<int>();
    for (int c : contacts) matched += std::abs(f - c) <= 4 ? 1 : 0;
  }
  EXPECT_GE(matched, 4) << a["step_events"];
}

TEST(GaitAnalyzer, WritesASelfContainedHtmlReportThatChromiumRenders) {
  TempDir dir;
  SyntheticWalkSpec spec;
  spec.width = 480;
  spec.height = 270;
  render_synthetic_walk(spec, dir / "walk.mp4");
  AnalysisRequest request;
  request.video = dir / "walk.mp4";
  request.report_dir = dir / "report";
  request.metadata = {{"format", {{"format_name", "mov,mp4"}, {"duration", "4.0"}}},
                      {"streams", {{{"codec_type", "video"}, {"codec_name", "h264"}}}}};
  const auto result = make_gait_analyzer()->analyze(request);
  ASSERT_TRUE(result.report_path.has_value());
  EXPECT_EQ(*result.report_path, dir / "report" / "report.html");
  const std::string html = dancer::testing::read_file(*result.report_path);
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("data:image/png;base64,iVBORw0KGgo"), std::string::npos);  // PNG magic
  EXPECT_NE(html.find("h264"), std::string::npos);
  EXPECT_NE(html.find("cadence_steps_per_min"), std::string::npos);
  EXPECT_EQ(html.find("http://"), html.find("http://www.w3.org/2000/svg"));  // nothing remote
  EXPECT_EQ(html.find("https://"), std::string::npos);

  // Renders in headless Chromium when it is installed (scripts/install-deps.sh
  // --with-test-extras installs it).
  if (!std::filesystem::exists("/usr/bin/chromium")) return;
  const auto png = dir / "shot.png";
  const std::string cmd =
      "timeout 60 /usr/bin/chromium --headless --no-sandbox --disable-gpu "
      "--disable-background-networking --disable-component-update --disable-sync "
      "--no-first-run --user-data-dir=" +
      dancer::testing::shell_quote((dir / "chrome").string()) +
      " --window-size=1000,1200 --screenshot=" + dancer::testing::shell_quote(png.string()) + " " +
      dancer::testing::shell_quote("file://" + result.report_path->string()) + " >/dev/null 2>&1";
  dancer::testing::run_command(cmd);
  ASSERT_TRUE(std::filesystem::exists(png));
  const std::string bytes = dancer::testing::read_file(png);
  EXPECT_EQ(bytes.substr(1, 3), "PNG");
  EXPECT_GT(bytes.size(), 20000u);  // a blank 1000x1200 page compresses to far less
}

}  // namespace
}  // namespace dancer::analysis

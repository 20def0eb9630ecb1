// The recording-quality checks on the shared tripod walk (kevin1) and on copies of it cut with
// the ffmpeg CLI the way bad recordings look: dark, blurred, 12 fps, small, a walker far away,
// a panning camera, feet cut off. Each copy's truth is its original: the original passes
// (or gives the warn explained below), the copy is named by its check.
//
// The pose model runs once on the original (the poses of a copy are the original's moved by
// the copy's known geometry: shifted, scaled, cropped); the checks see the copy's real
// decoded frames. Two copies go through the whole analyzer (tripod and pan).
#include <gtest/gtest.h>

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>

#include "analysis/pose_gait_analyzer.h"
#include "gait/gait_keypoints.h"
#include "gait/gait_table.h"
#include "gait/recording_quality.h"
#include "media/video_decoder.h"
#include "pose/pose_tracker.h"
#include "support/results_schema.h"
#include "support/test_support.h"

namespace dancer::analysis {
namespace {

using dancer::testing::run_command;
using dancer::testing::shared_test_data;
using dancer::testing::shell_quote;
using dancer::testing::TempDir;

const char* const kClip = "videos/side_gaitcdio_4markerskevin1.mp4";

// The original's poses and its own checks, computed once for the whole file.
struct Original {
  std::vector<PoseFrame> poses;
  std::vector<QualityCheck> checks;
  RecordingFacts facts;
  int strides = 0;
};

const Original& original() {
  static const Original o = [] {
    Original out;
    RecordingQualityBuilder builder;
    KeypointGaitBuilder events;
    PoseVideoOptions options;
    options.threads = 2;
    // The checks' own cost per frame, beside the pose model's.
    double seconds = 0;
    options.frame_hook = [&](const cv::Mat& rgb, const PoseFrame& pose) {
      const auto start = std::chrono::steady_clock::now();
      builder.add(rgb, pose);
      seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    };
    const auto started = std::chrono::steady_clock::now();
    const PoseVideoSummary summary =
        track_video_poses(shared_test_data(kClip), options, [&](const PoseFrame& f) {
          out.poses.push_back(f);
          events.add(f);
        });
    const KeypointGait gait = events.finish(summary.info.fps);
    out.strides = static_cast<int>(build_gait_table(gait).strides.size());
    out.facts = {summary.info.fps, summary.info.width, summary.info.height, summary.info.duration_s,
                 out.strides};
    out.checks = builder.finish(out.facts);
    const double total =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::cout << "quality checks: " << 1000 * seconds / static_cast<double>(summary.frames)
              << " ms per frame of " << summary.info.width << "x" << summary.info.height
              << "; pose pass " << 1000 * total / static_cast<double>(summary.frames)
              << " ms per frame\n";
    return out;
  }();
  return o;
}

// A copy of the clip through an ffmpeg filter graph, H.264 at high quality.
std::filesystem::path degraded(const TempDir& dir, const std::string& name,
                               const std::string& filter) {
  const std::filesystem::path out = dir / (name + ".mp4");
  const auto r = run_command(
      "ffmpeg -nostdin -v error -y -i " + shell_quote(shared_test_data(kClip).string()) + " -vf " +
      shell_quote(filter) + " -an -c:v libx264 -preset veryfast -crf 16 -pix_fmt yuv420p " +
      shell_quote(out.string()));
  EXPECT_EQ(r.exit_code, 0) << filter;
  return out;
}

// The copy's frames with the original's poses moved by `move` (time in s, landmark), each
// paired with the original frame nearest in time; the checks of the copy.
std::vector<QualityCheck> checks_of(
    const std::filesystem::path& video,
    const std::function<void(double, Landmark&)>& move = [](double, Landmark&) {},
    int strides = -1) {
  const Original& o = original();
  media::DecoderOptions decoding;
  decoding.max_width = 0;
  decoding.max_height = 0;
  decoding.layout = media::PixelLayout::kBgr24;
  decoding.threads = 2;
  media::VideoDecoder decoder(video, decoding);
  RecordingQualityBuilder builder;
  media::VideoFrame raw;
  cv::Mat rgb;
  while (decoder.next(raw)) {
    const cv::Mat bgr(raw.height, raw.width, CV_8UC3, const_cast<std::uint8_t*>(raw.data),
                      static_cast<std::size_t>(raw.stride));
    cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    const auto nearest = std::min_element(o.poses.begin(), o.poses.end(), [&](auto& a, auto& b) {
      return std::abs(a.time_s - raw.pts_s) < std::abs(b.time_s - raw.pts_s);
    });
    PoseFrame pose = *nearest;
    pose.frame_index = raw.index;
    pose.time_s = raw.pts_s;
    if (pose.person) {
      for (Landmark& l : pose.landmarks) move(raw.pts_s, l);
    }
    builder.add(rgb, pose);
  }
  const media::VideoStreamInfo& info = decoder.info();
  return builder.finish(
      {info.fps, info.width, info.height, info.duration_s, strides >= 0 ? strides : o.strides});
}

const QualityCheck& check(const std::vector<QualityCheck>& checks, const std::string& name) {
  const auto it = std::find_if(checks.begin(), checks.end(),
                               [&](const QualityCheck& c) { return c.name == name; });
  if (it == checks.end()) throw std::runtime_error("no check " + name);
  return *it;
}

void print(const std::string& title, const std::vector<QualityCheck>& checks) {
  std::cout << title << ":\n" << to_json(checks).dump(1) << "\n";
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

TEST(RecordingQuality, ThresholdsJudgeBothWays) {
  const QualityThreshold at_least{20.0, 25.0, std::nullopt, std::nullopt};
  EXPECT_EQ(at_least.judge(30), QualityVerdict::kPass);
  EXPECT_EQ(at_least.judge(25), QualityVerdict::kPass);
  EXPECT_EQ(at_least.judge(22), QualityVerdict::kWarn);
  EXPECT_EQ(at_least.judge(12), QualityVerdict::kFail);
  const QualityThreshold range{30.0, 50.0, 210.0, 235.0};
  EXPECT_EQ(range.judge(120), QualityVerdict::kPass);
  EXPECT_EQ(range.judge(40), QualityVerdict::kWarn);
  EXPECT_EQ(range.judge(220), QualityVerdict::kWarn);
  EXPECT_EQ(range.judge(10), QualityVerdict::kFail);
  EXPECT_EQ(range.judge(250), QualityVerdict::kFail);
}

// The tripod original: every check passes, except duration, which honestly warns: the walker
// crosses once with 5 strides (3 left, 2 right), fewer than 3 per side.
TEST(RecordingQuality, TheTripodWalkPasses) {
  const Original& o = original();
  print("kevin1 (tripod)", o.checks);
  ASSERT_EQ(o.checks.size(), 8u);
  const std::vector<std::string> names = {"frame_rate",    "resolution", "subject_size",
                                          "exposure",      "sharpness",  "camera_motion",
                                          "feet_in_frame", "duration"};
  for (std::size_t i = 0; i < names.size(); ++i) EXPECT_EQ(o.checks[i].name, names[i]);
  for (const QualityCheck& c : o.checks) {
    if (c.name == "duration") continue;
    EXPECT_EQ(c.verdict, QualityVerdict::kPass) << c.name << " " << c.value.value_or(-1);
    EXPECT_TRUE(c.advice.empty()) << c.name;
    EXPECT_TRUE(c.withholds.empty()) << c.name;
  }
  EXPECT_EQ(check(o.checks, "duration").verdict, QualityVerdict::kWarn);
  EXPECT_EQ(check(o.checks, "duration").value, 5);
  EXPECT_LT(*check(o.checks, "camera_motion").value, 0.005);
}

TEST(RecordingQuality, FrameRate) {
  TempDir dir;
  const auto c = checks_of(degraded(dir, "fps12", "fps=12"));
  print("fps=12", c);
  EXPECT_NEAR(*check(c, "frame_rate").value, 12, 0.01);
  EXPECT_EQ(check(c, "frame_rate").verdict, QualityVerdict::kFail);
  EXPECT_TRUE(contains(check(c, "frame_rate").withholds, "double_support_pct"));
  EXPECT_FALSE(contains(check(c, "frame_rate").withholds, "stride_time_s"));
  EXPECT_NE(check(c, "frame_rate").advice.find("30 fps"), std::string::npos);
  EXPECT_EQ(check(original().checks, "frame_rate").verdict, QualityVerdict::kPass);
}

TEST(RecordingQuality, ResolutionAndSubjectSize) {
  TempDir dir;
  // 1920x1080 to 320x180: a small picture, and so a small walker.
  const double s = 320.0 / 1920.0;
  const auto tiny = checks_of(degraded(dir, "tiny", "scale=320:180"), [&](double, Landmark& l) {
    l.x *= static_cast<float>(s);
    l.y *= static_cast<float>(s);
  });
  print("scale=320:180", tiny);
  EXPECT_EQ(check(tiny, "resolution").value, 180);
  EXPECT_EQ(check(tiny, "resolution").verdict, QualityVerdict::kFail);
  EXPECT_TRUE(contains(check(tiny, "resolution").withholds, "walking_speed"));
  // The walker fills the small picture's height (113 px): small, but above the fail limit.
  EXPECT_EQ(check(tiny, "subject_size").verdict, QualityVerdict::kWarn);
  // A walker far away in a sharp 720p picture: the picture passes, the walker fails.
  const double f = 224.0 / 1920.0;
  const auto far = checks_of(degraded(dir, "far", "scale=224:126,pad=1280:720:528:297"),
                             [&](double, Landmark& l) {
                               l.x = static_cast<float>(l.x * f + 528);
                               l.y = static_cast<float>(l.y * f + 297);
                             });
  print("walker far away", far);
  EXPECT_EQ(check(far, "resolution").verdict, QualityVerdict::kPass);
  // The black border gives the background's motion nothing to follow: not shown still.
  EXPECT_EQ(check(far, "camera_motion").verdict, QualityVerdict::kWarn);
  EXPECT_EQ(check(far, "subject_size").verdict, QualityVerdict::kFail);
  EXPECT_LT(*check(far, "subject_size").value, 100);
  EXPECT_TRUE(contains(check(far, "subject_size").withholds, "step_length_body_heights"));
  // A small walker is not called blurred: sharpness is measured at the body's own scale.
  EXPECT_NE(check(far, "sharpness").verdict, QualityVerdict::kFail);
  for (const char* name : {"resolution", "subject_size"}) {
    EXPECT_EQ(check(original().checks, name).verdict, QualityVerdict::kPass) << name;
  }
}

TEST(RecordingQuality, Exposure) {
  TempDir dir;
  const auto dark = checks_of(degraded(dir, "dark", "eq=brightness=-0.45"));
  print("dark", dark);
  EXPECT_EQ(check(dark, "exposure").verdict, QualityVerdict::kFail);
  EXPECT_NE(check(dark, "exposure").advice.find("More light"), std::string::npos);
  EXPECT_TRUE(contains(check(dark, "exposure").withholds, "stance_pct"));
  const auto bright = checks_of(degraded(dir, "bright", "eq=brightness=0.5"));
  print("bright", bright);
  EXPECT_EQ(check(bright, "exposure").verdict, QualityVerdict::kFail);
  EXPECT_NE(check(bright, "exposure").advice.find("Less direct light"), std::string::npos);
  EXPECT_EQ(check(original().checks, "exposure").verdict, QualityVerdict::kPass);
}

TEST(RecordingQuality, Sharpness) {
  TempDir dir;
  const auto blurred = checks_of(degraded(dir, "blur", "gblur=sigma=14"));
  print("gblur sigma 14", blurred);
  EXPECT_EQ(check(blurred, "sharpness").verdict, QualityVerdict::kFail);
  EXPECT_TRUE(contains(check(blurred, "sharpness").withholds, "step_length_m"));
  // Blur is not darkness: the exposure of the blurred copy still passes.
  EXPECT_EQ(check(blurred, "exposure").verdict, QualityVerdict::kPass);
  EXPECT_EQ(check(original().checks, "sharpness").verdict, QualityVerdict::kPass);
}

// A camera panning right at 60 px/s over a 1440 px window: 0.042 widths/s.
TEST(RecordingQuality, CameraMotion) {
  TempDir dir;
  const auto pan =
      checks_of(degraded(dir, "pan", "crop=1440:1080:'2*trunc(30*t)':0"),
                [](double t, Landmark& l) { l.x -= static_cast<float>(2 * std::trunc(30 * t)); });
  print("pan", pan);
  const QualityCheck& c = check(pan, "camera_motion");
  EXPECT_EQ(c.verdict, QualityVerdict::kFail);
  EXPECT_NEAR(*c.value, 60.0 / 1440.0, 0.01);
  EXPECT_TRUE(contains(c.withholds, "walking_speed"));
  EXPECT_FALSE(contains(c.withholds, "stride_time_s"));
  EXPECT_NE(c.advice.find("Hold the phone still or use a stand"), std::string::npos);
  EXPECT_EQ(check(original().checks, "camera_motion").verdict, QualityVerdict::kPass);
}

TEST(RecordingQuality, FeetInFrame) {
  TempDir dir;
  // The heels are near y = 915: the bottom 220 rows go.
  const auto cut = checks_of(degraded(dir, "feet", "crop=1920:860:0:0"));
  print("feet cut", cut);
  EXPECT_EQ(check(cut, "feet_in_frame").verdict, QualityVerdict::kFail);
  EXPECT_NE(check(cut, "feet_in_frame").advice.find("Keep the feet in the picture"),
            std::string::npos);
  EXPECT_EQ(check(original().checks, "feet_in_frame").verdict, QualityVerdict::kPass);
}

// Duration rests on the strides the table measured: the first 4 s of the walk give fewer than
// 3; a walk with 6 (3 a side) passes.
TEST(RecordingQuality, Duration) {
  const Original& o = original();
  KeypointGaitBuilder events;
  for (const PoseFrame& f : o.poses) {
    if (f.time_s < 4.0) events.add(f);
  }
  const int strides = static_cast<int>(build_gait_table(events.finish(o.facts.fps)).strides.size());
  RecordingFacts facts = o.facts;
  facts.strides = strides;
  facts.duration_s = 4.0;
  const auto short_walk = RecordingQualityBuilder().finish(facts);
  EXPECT_LT(strides, 3);
  EXPECT_EQ(check(short_walk, "duration").verdict, QualityVerdict::kFail);
  EXPECT_NE(check(short_walk, "duration").advice.find("longer walk"), std::string::npos);
  facts.strides = 6;
  EXPECT_EQ(check(RecordingQualityBuilder().finish(facts), "duration").verdict,
            QualityVerdict::kPass);
}

// The whole analyzer: the tripod walk keeps every measure; a panned copy keeps its timing and
// withholds lengths and speed, naming why.
TEST(RecordingQuality, AnalyzerWithholdsSpatialMeasuresOfAPannedWalk) {
  TempDir dir;
  PoseGaitConfig config;
  config.pose.threads = 2;
  const auto run = [&](const std::filesystem::path& video) {
    AnalysisRequest request;
    request.video = video;
    request.subject_height_m = 1.8;
    const nlohmann::json a = make_pose_gait_analyzer(config)->analyze(request).analysis;
    EXPECT_TRUE(dancer::testing::matches_analysis_schema(a));
    return a;
  };
  const auto verdict = [](const nlohmann::json& a, const std::string& name) {
    for (const auto& c : a["quality"]["checks"]) {
      if (c["name"] == name) return c["verdict"].get<std::string>();
    }
    return std::string("absent");
  };
  const nlohmann::json tripod = run(shared_test_data(kClip));
  std::cout << "tripod checks: " << tripod["quality"]["checks"].dump(1) << "\n";
  EXPECT_EQ(tripod["quality"]["checks"].size(), 8u);
  EXPECT_EQ(verdict(tripod, "camera_motion"), "pass");
  EXPECT_TRUE(tripod["walking_speed"]["body_heights_per_s"].is_number());

  const nlohmann::json pan = run(degraded(dir, "pan", "crop=1440:1080:'2*trunc(30*t)':0"));
  std::cout << "pan: " << pan["quality"].dump(1) << "\n";
  EXPECT_EQ(verdict(pan, "camera_motion"), "fail");
  const auto& w = pan["quality"]["warnings"];
  EXPECT_NE(std::find(w.begin(), w.end(), "camera_moving"), w.end());
  EXPECT_NE(std::find(w.begin(), w.end(), "measures_withheld"), w.end());
  EXPECT_TRUE(pan["walking_speed"]["body_heights_per_s"].is_null());
  EXPECT_TRUE(pan["walking_speed"]["m_per_s"].is_null());
  ASSERT_FALSE(pan["strides"].empty());
  for (const auto& s : pan["strides"]) {
    EXPECT_TRUE(s["step_length_body_heights"].is_null());
    EXPECT_TRUE(s["stride_length_m"].is_null());
    EXPECT_TRUE(s["stride_time_s"].is_number());
  }
  EXPECT_TRUE(pan["per_side"]["left"]["step_length_m"]["mean"].is_null());
  EXPECT_TRUE(pan["cadence_steps_per_min"].is_number());
}

}  // namespace
}  // namespace dancer::analysis

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
#include "cached_poses.h"
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

// The original's poses (computed once per build, shared with every test: cached_poses.h) and
// its own checks.
struct Original {
  std::vector<PoseFrame> poses;
  std::vector<QualityCheck> checks;
  RecordingFacts facts;
  int strides = 0;
};

std::vector<QualityCheck> checks_of(
    const std::filesystem::path& video,
    const std::function<void(double, Landmark&)>& move = [](double, Landmark&) {},
    int strides = -1);

const Original& original() {
  static const Original o = [] {
    Original out;
    const testing::CachedPoses& cached = testing::cached_poses(shared_test_data(kClip));
    out.poses = cached.poses;
    KeypointGaitBuilder events;
    for (const PoseFrame& f : out.poses) events.add(f);
    out.strides = static_cast<int>(build_gait_table(events.finish(cached.fps)).strides.size());
    out.facts = {cached.fps, cached.width, cached.height, cached.duration_s, out.strides};
    // The checks' own cost per frame (the decoding excluded).
    const auto started = std::chrono::steady_clock::now();
    out.checks = checks_of(
        shared_test_data(kClip), [](double, Landmark&) {}, out.strides);
    std::cout
        << "quality checks with decoding: "
        << 1000 *
               std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count() /
               static_cast<double>(out.poses.size())
        << " ms per frame of " << cached.width << "x" << cached.height << "\n";
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
std::vector<QualityCheck> checks_of(const std::filesystem::path& video,
                                    const std::function<void(double, Landmark&)>& move,
                                    int strides) {
  const std::vector<PoseFrame>& poses = testing::cached_poses(shared_test_data(kClip)).poses;
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
    const auto nearest = std::min_element(poses.begin(), poses.end(), [&](auto& a, auto& b) {
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
  return builder.finish({info.fps, info.width, info.height, info.duration_s,
                         strides >= 0 ? strides : original().strides});
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

// A camera panning right at 60 px/s over a 1440 px window: 0.042 widths/s, measured, and
// followed well enough to be compensated: the check warns (the advice stands) and withholds
// nothing.
TEST(RecordingQuality, CameraMotion) {
  TempDir dir;
  const auto pan =
      checks_of(degraded(dir, "pan", "crop=1440:1080:'2*trunc(30*t)':0"),
                [](double t, Landmark& l) { l.x -= static_cast<float>(2 * std::trunc(30 * t)); });
  print("pan", pan);
  const QualityCheck& c = check(pan, "camera_motion");
  EXPECT_EQ(c.verdict, QualityVerdict::kWarn);
  EXPECT_NEAR(*c.value, 60.0 / 1440.0, 0.01);
  EXPECT_TRUE(c.withholds.empty());
  EXPECT_NE(c.advice.find("Hold the phone still or use a stand"), std::string::npos);
  const auto detail = [&](const std::string& key) {
    for (const auto& [k, v] : c.details) {
      if (k == key) return v.value_or(-1);
    }
    return -1.0;
  };
  EXPECT_EQ(detail("compensated"), 1.0);
  // 2 px every 1/15 s for the clip's 6.9 s, to the right.
  EXPECT_NEAR(detail("translation_total_widths"), 2 * std::trunc(30 * 6.9) / 1440, 0.01);
  EXPECT_EQ(check(original().checks, "camera_motion").verdict, QualityVerdict::kPass);
  EXPECT_EQ(check(original().checks, "camera_motion").details.back().second, 0.0);
}

// A camera whose background does not move as one picture (three bands of it moving apart, as
// near and far walls do for a camera carried beside the walker) cannot be compensated: the
// check fails naming why, and lengths and speed are withheld while the timing stays.
TEST(RecordingQuality, ACameraThatCannotBeFollowedWithholdsLengthsAndSpeed) {
  cv::Mat scene(720, 1600, CV_8UC3);
  cv::RNG rng(7);
  rng.fill(scene, cv::RNG::UNIFORM, 0, 255);
  cv::GaussianBlur(scene, scene, cv::Size(0, 0), 2.5);
  RecordingQualityBuilder builder;
  const int width = 640, height = 360;
  for (int i = 0; i < 45; ++i) {
    const double t = i / 30.0;
    cv::Mat frame(height, width, CV_8UC3);
    for (int band = 0; band < 3; ++band) {
      const int x = static_cast<int>(400 + (band - 1) * 120 * t) + band * width / 3;
      scene(cv::Rect(x, 180, width / 3, height))
          .copyTo(frame(cv::Rect(band * width / 3, 0, width / 3, height)));
    }
    PoseFrame nobody;
    nobody.frame_index = i;
    nobody.time_s = t;
    builder.add(frame, nobody);
  }
  const CameraJudgement judgement = judge_camera(builder.camera_motion());
  EXPECT_TRUE(judgement.moved);
  EXPECT_FALSE(judgement.compensated);
  EXPECT_EQ(judgement.refused, "residual_too_large");
  const auto checks = builder.finish({30, width, height, 1.5, 6});
  const QualityCheck& c = check(checks, "camera_motion");
  EXPECT_EQ(c.verdict, QualityVerdict::kFail);
  EXPECT_TRUE(contains(c.withholds, "walking_speed"));
  EXPECT_FALSE(contains(c.withholds, "stride_time_s"));
  nlohmann::ordered_json analysis = {
      {"strides", {{{"stride_time_s", 1.1}, {"step_length_body_heights", 0.4}}}},
      {"walking_speed", {{"body_heights_per_s", 0.7}, {"m_per_s", 1.2}}}};
  const auto warnings = withhold_measures(analysis, checks);
  EXPECT_TRUE(contains(warnings, "camera_moving"));
  EXPECT_TRUE(analysis["walking_speed"]["body_heights_per_s"].is_null());
  EXPECT_TRUE(analysis["strides"][0]["step_length_body_heights"].is_null());
  EXPECT_EQ(analysis["strides"][0]["stride_time_s"], 1.1);
  // The result says what was done with the camera and why.
  const auto json = to_json(builder.camera_motion(), judgement);
  EXPECT_EQ(json["compensated"], false);
  EXPECT_EQ(json["refused"], "residual_too_large");
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

// The whole analyzer on a panned copy: the camera is measured, compensated and reported, and
// the copy keeps its timing, lengths and speed, near the tripod original's (the original's
// own figures come from its shared poses; its camera passes in TheTripodWalkPasses).
TEST(RecordingQuality, AnalyzerCompensatesAPannedWalk) {
  TempDir dir;
  PoseGaitConfig config;
  config.pose.threads = 2;
  AnalysisRequest request;
  request.video = degraded(dir, "pan", "crop=1440:1080:'2*trunc(30*t)':0");
  request.subject_height_m = 1.8;
  const nlohmann::json pan = make_pose_gait_analyzer(config)->analyze(request).analysis;
  EXPECT_TRUE(dancer::testing::matches_analysis_schema(pan));
  std::cout << "pan: " << pan["quality"].dump(1) << "\n";
  const auto camera_check = [&]() -> nlohmann::json {
    for (const auto& c : pan["quality"]["checks"]) {
      if (c["name"] == "camera_motion") return c;
    }
    return nullptr;
  }();
  ASSERT_TRUE(camera_check.is_object());
  EXPECT_EQ(camera_check["verdict"], "warn");
  EXPECT_TRUE(camera_check["withholds"].empty());
  const auto& camera = pan["quality"]["camera_motion"];
  EXPECT_EQ(camera["compensated"], true);
  EXPECT_TRUE(camera["refused"].is_null());
  EXPECT_NEAR(camera["translation_px"]["x"].get<double>(), 2 * std::trunc(30 * 6.9), 10);
  const auto& w = pan["quality"]["warnings"];
  EXPECT_EQ(std::find(w.begin(), w.end(), "measures_withheld"), w.end());

  const Original& o = original();
  KeypointGaitBuilder events;
  for (const PoseFrame& f : o.poses) events.add(f);
  const GaitTable tripod = build_gait_table(events.finish(o.facts.fps), 1.8);
  ASSERT_TRUE(tripod.speed_body_heights_per_s && tripod.cadence_steps_per_min);
  ASSERT_TRUE(pan["walking_speed"]["body_heights_per_s"].is_number());
  EXPECT_NEAR(pan["walking_speed"]["body_heights_per_s"].get<double>(),
              *tripod.speed_body_heights_per_s, 0.07 * *tripod.speed_body_heights_per_s);
  EXPECT_NEAR(pan["cadence_steps_per_min"].get<double>(), *tripod.cadence_steps_per_min, 2.0);
  ASSERT_FALSE(pan["strides"].empty());
  for (const auto& s : pan["strides"]) EXPECT_TRUE(s["stride_length_m"].is_number());
}

}  // namespace
}  // namespace dancer::analysis

// Camera compensation on copies of two tripod walks (kevin1, the gym) cut the way a phone
// films: a window that follows the walker (pan), a trembling, rolling hand (shake) and a slow
// zoom in and out. Each copy's truth is its original: the gait measured on the copy, with the
// camera's motion measured from its real pictures and taken out of the keypoints, must give
// the original's cadence (within 2 steps/min), walking speed (within 7 %) and initial
// contacts (90 % within 1 frame), and the original itself must pass camera_motion.
//
// The pose model runs once per clip (cached_poses.h). A copy's frames are the original's
// decoded frames warped by the copy's known similarity, at 960 px wide; its poses are the
// original's moved by the same similarity, so what is measured is the camera's estimate and
// its compensation alone, not the pose model's response to a different picture.
#include <gtest/gtest.h>

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <numbers>

#include "cached_poses.h"
#include "gait/gait_keypoints.h"
#include "gait/gait_table.h"
#include "gait/recording_quality.h"
#include "media/video_decoder.h"
#include "support/test_support.h"

namespace dancer::analysis {
namespace {

using dancer::testing::shared_test_data;

constexpr int kCopyWidth = 960, kCopyHeight = 540;

struct Gait {
  KeypointGait events;
  GaitTable table;
};

Gait gait_of(const std::vector<PoseFrame>& poses, double fps) {
  KeypointGaitBuilder builder;
  for (const PoseFrame& f : poses) builder.add(f);
  Gait g;
  g.events = builder.finish(fps);
  g.table = build_gait_table(g.events);
  return g;
}

// Initial contacts of `truth` with one of the same foot in `found` within a frame.
double contacts_within_one_frame(const Gait& truth, const Gait& found) {
  int contacts = 0, within = 0;
  for (const FootEvent& e : truth.events.events) {
    if (e.type != FootEventType::kInitialContact) continue;
    ++contacts;
    within += std::any_of(found.events.events.begin(), found.events.events.end(),
                          [&](const FootEvent& f) {
                            return f.type == FootEventType::kInitialContact && f.foot == e.foot &&
                                   std::abs(f.frame - e.frame) <= 1;
                          });
  }
  return contacts > 0 ? static_cast<double>(within) / contacts : 0;
}

// The copy's camera at time t: the original's pixels to the copy's, p' = k (z R (p - c) +
// centre), k bringing the original's size to the copy's.
struct Camera {
  double z = 1, theta = 0, cx = 0, cy = 0;
};

cv::Matx23d original_to_copy(const Camera& c, int width, int height) {
  const double k = static_cast<double>(kCopyWidth) / width;
  const double a = k * c.z * std::cos(c.theta), b = k * c.z * std::sin(c.theta);
  return {a, -b, k * width / 2.0 - (a * c.cx - b * c.cy),
          b, a,  k * height / 2.0 - (b * c.cx + a * c.cy)};
}

struct Copy {
  std::string name;
  std::vector<QualityCheck> checks;
  CameraMotion motion;
  CameraJudgement judgement;
  std::vector<PoseFrame> poses;  // as the copy's camera sees them
};

// The original decoded again, each frame warped by `camera` and fed with its moved pose to
// the recording checks (which measure the camera).
Copy film(const std::string& name, const std::filesystem::path& video,
          const testing::CachedPoses& original, const std::function<Camera(std::size_t)>& camera) {
  media::DecoderOptions decoding;
  decoding.max_width = 0;
  decoding.max_height = 0;
  decoding.layout = media::PixelLayout::kBgr24;
  decoding.threads = 2;
  media::VideoDecoder decoder(video, decoding);
  RecordingQualityBuilder builder;
  Copy copy;
  copy.name = name;
  media::VideoFrame raw;
  cv::Mat rgb, warped;
  for (std::size_t i = 0; decoder.next(raw) && i < original.poses.size(); ++i) {
    const cv::Mat bgr(raw.height, raw.width, CV_8UC3, const_cast<std::uint8_t*>(raw.data),
                      static_cast<std::size_t>(raw.stride));
    cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    const cv::Matx23d m = original_to_copy(camera(i), raw.width, raw.height);
    // warpAffine's pixel centres are at integers, the landmarks' at + 0.5.
    const cv::Matx23d centred(m(0, 0), m(0, 1), m(0, 2) + 0.5 * (m(0, 0) + m(0, 1)) - 0.5, m(1, 0),
                              m(1, 1), m(1, 2) + 0.5 * (m(1, 0) + m(1, 1)) - 0.5);
    cv::warpAffine(rgb, warped, cv::Mat(centred), cv::Size(kCopyWidth, kCopyHeight),
                   cv::INTER_LINEAR, cv::BORDER_REFLECT);
    copy.poses.push_back(to_scene(original.poses[i], m));
    builder.add(warped, copy.poses.back());
  }
  copy.checks = builder.finish({original.fps, kCopyWidth, kCopyHeight, original.duration_s, 6});
  copy.motion = builder.camera_motion();
  copy.judgement = judge_camera(copy.motion);
  return copy;
}

const QualityCheck& camera_check(const std::vector<QualityCheck>& checks) {
  return *std::find_if(checks.begin(), checks.end(),
                       [](const QualityCheck& c) { return c.name == "camera_motion"; });
}

// The walker's hip, smoothed over 0.6 s and held where the walker is not seen: where a
// following camera points.
std::vector<double> followed_x(const std::vector<PoseFrame>& poses, double fallback) {
  std::vector<double> x(poses.size(), std::nan(""));
  for (std::size_t i = 0; i < poses.size(); ++i) {
    if (poses[i].person) x[i] = 0.5 * (poses[i].landmarks[23].x + poses[i].landmarks[24].x);
  }
  double last = std::nan("");
  for (double& v : x) std::isnan(v) ? v = last : last = v;
  last = std::nan("");
  for (auto it = x.rbegin(); it != x.rend(); ++it) std::isnan(*it) ? * it = last : last = *it;
  std::vector<double> smooth(x.size(), fallback);
  for (std::size_t i = 0; i < x.size(); ++i) {
    double sum = 0;
    int n = 0;
    for (std::size_t j = i >= 9 ? i - 9 : 0; j <= i + 9 && j < x.size(); ++j) {
      if (!std::isnan(x[j])) sum += x[j], ++n;
    }
    if (n > 0) smooth[i] = sum / n;
  }
  return smooth;
}

// body_cy: the walker's vertical middle in the original, where pan and zoom are centred so the
// feet and head stay in the picture.
void check_clip(const char* clip, double body_cy) {
  const std::filesystem::path video = shared_test_data(clip);
  const testing::CachedPoses& original = testing::cached_poses(video);
  const double w = original.width, h = original.height, fps = original.fps;
  const auto frames = static_cast<double>(original.poses.size());
  const Gait truth = gait_of(original.poses, fps);
  ASSERT_TRUE(truth.table.cadence_steps_per_min && truth.table.speed_body_heights_per_s);
  const std::vector<double> hip_x = followed_x(original.poses, w / 2);
  const double tau = 2 * std::numbers::pi;

  std::vector<Copy> copies;
  // The tripod itself, only resized: still, so not compensated.
  copies.push_back(film("tripod", video, original, [&](std::size_t) {
    return Camera{1, 0, w / 2, h / 2};
  }));
  // A window 1/1.3 of the picture following the walker (up to about 0.3 picture widths/s).
  copies.push_back(film("pan", video, original, [&](std::size_t i) {
    const double z = 1.3;
    return Camera{z, 0, std::clamp(hip_x[i], w / (2 * z), w - w / (2 * z)),
                  std::clamp(body_cy, h / (2 * z), h - h / (2 * z))};
  }));
  // A hand trembling at 1-4 Hz by up to 1.5 % of the picture, rolling by up to 0.8 degrees.
  copies.push_back(film("shake", video, original, [&](std::size_t i) {
    const double t = static_cast<double>(i) / fps;
    return Camera{
        1.08, 0.8 * std::numbers::pi / 180 * std::sin(tau * 0.9 * t),
        w / 2 + w * (0.01 * std::sin(tau * 1.3 * t) + 0.005 * std::sin(tau * 3.7 * t)),
        h / 2 + h * (0.01 * std::sin(tau * 1.1 * t + 1) + 0.005 * std::sin(tau * 4.3 * t))};
  }));
  // A slow zoom in to 1.3x and back out over the walk.
  copies.push_back(film("zoom", video, original, [&](std::size_t i) {
    const double z = 1 + 0.3 * std::sin(std::numbers::pi * static_cast<double>(i) / frames);
    return Camera{z, 0, w / 2, std::clamp(body_cy, h / (2 * z), h - h / (2 * z))};
  }));

  const double cadence = *truth.table.cadence_steps_per_min;
  const double speed = *truth.table.speed_body_heights_per_s;
  std::cout << clip << ": tripod cadence " << cadence << " steps/min, speed " << speed
            << " body heights/s\n";
  for (const Copy& copy : copies) {
    SCOPED_TRACE(copy.name);
    const Gait before = gait_of(copy.poses, fps);
    const Gait after = gait_of(scene_poses(copy.poses, copy.motion, copy.judgement), fps);
    const auto print = [&](const char* when, const Gait& g) {
      std::cout << "  " << copy.name << " " << when << ": cadence "
                << g.table.cadence_steps_per_min.value_or(std::nan("")) - cadence
                << " steps/min, speed "
                << 100 * (g.table.speed_body_heights_per_s.value_or(std::nan("")) / speed - 1)
                << " %, contacts within 1 frame " << 100 * contacts_within_one_frame(truth, g)
                << " %\n";
    };
    const QualityCheck& c = camera_check(copy.checks);
    std::cout << "  " << copy.name << " camera: " << to_json(copy.motion, copy.judgement).dump()
              << " verdict " << to_string(c.verdict) << "\n";
    print("before", before);
    print("after", after);
    if (copy.name == "tripod") {
      EXPECT_EQ(c.verdict, QualityVerdict::kPass);
      EXPECT_FALSE(copy.judgement.moved);
      EXPECT_FALSE(copy.judgement.compensated);
    } else {
      EXPECT_TRUE(copy.judgement.compensated) << copy.judgement.refused;
      EXPECT_EQ(c.verdict, QualityVerdict::kWarn);
      EXPECT_TRUE(c.withholds.empty());
    }
    ASSERT_TRUE(after.table.cadence_steps_per_min && after.table.speed_body_heights_per_s);
    EXPECT_NEAR(*after.table.cadence_steps_per_min, cadence, 2.0);
    EXPECT_NEAR(*after.table.speed_body_heights_per_s, speed, 0.07 * speed);
    EXPECT_GE(contacts_within_one_frame(truth, after), 0.9);
  }
}

TEST(CameraCompensation, Kevin1PannedShakenAndZoomedGivesTheTripodsGait) {
  check_clip("videos/side_gaitcdio_4markerskevin1.mp4", 575);
}

TEST(CameraCompensation, GymPannedShakenAndZoomedGivesTheTripodsGait) {
  check_clip("videos/side_sports2d_demo4_gym.mp4", 440);
}

}  // namespace
}  // namespace dancer::analysis

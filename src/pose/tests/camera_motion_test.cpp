// The camera's motion from synthetic pictures whose motion is known exactly: a textured scene
// filmed through a window that pans, shakes and rolls, or zooms. The estimate must carry each
// frame's pixels back to the first frame's (the scene frame), ignore a walker moving in front
// of the scene, and say when the background cannot be followed (a blank wall) or does not move
// as one picture (two halves moving apart).
#include <gtest/gtest.h>

#include <opencv2/imgproc.hpp>

#include <cmath>
#include <functional>
#include <numbers>

#include "pose/camera_motion.h"

namespace dancer::analysis {
namespace {

constexpr int kWidth = 640, kHeight = 360;
constexpr double kFps = 30;

// A scene with corners everywhere: blurred noise, larger than any window onto it.
cv::Mat textured_scene(int seed) {
  cv::Mat scene(900, 1600, CV_8UC3);
  cv::RNG rng(static_cast<std::uint64_t>(seed));
  rng.fill(scene, cv::RNG::UNIFORM, 0, 255);
  cv::GaussianBlur(scene, scene, cv::Size(0, 0), 2.5);
  cv::normalize(scene, scene, 0, 255, cv::NORM_MINMAX);
  return scene;
}

// The camera at time t: scene pixels to picture pixels, p' = z R(theta) (p - c) + centre.
struct View {
  double z = 1, theta = 0, cx = 800, cy = 450;
};

cv::Matx23d scene_to_picture(const View& v) {
  const double a = v.z * std::cos(v.theta), b = v.z * std::sin(v.theta);
  return {a, -b, kWidth / 2.0 - (a * v.cx - b * v.cy), b, a, kHeight / 2.0 - (b * v.cx + a * v.cy)};
}

cv::Matx33d h(const cv::Matx23d& m) {
  return {m(0, 0), m(0, 1), m(0, 2), m(1, 0), m(1, 1), m(1, 2), 0, 0, 1};
}

// The picture of the scene seen through the view. warpAffine's pixel centres are at integers;
// the estimate's convention puts them at + 0.5, so the map is shifted to match.
cv::Mat picture(const cv::Mat& scene, const View& v) {
  const cv::Matx23d m = scene_to_picture(v);
  const cv::Matx23d centred(m(0, 0), m(0, 1), m(0, 2) + 0.5 * (m(0, 0) + m(0, 1)) - 0.5, m(1, 0),
                            m(1, 1), m(1, 2) + 0.5 * (m(1, 0) + m(1, 1)) - 0.5);
  cv::Mat out;
  cv::warpAffine(scene, out, cv::Mat(centred), cv::Size(kWidth, kHeight), cv::INTER_LINEAR,
                 cv::BORDER_REFLECT);
  return out;
}

struct Filmed {
  CameraMotion motion;
  std::vector<View> views;
};

Filmed film(
    const cv::Mat& scene, int frames, const std::function<View(double)>& camera,
    const std::function<void(cv::Mat&, double, std::optional<cv::Rect2f>&)>& walker = nullptr) {
  CameraMotionEstimator estimator;
  Filmed out;
  for (int i = 0; i < frames; ++i) {
    const double t = i / kFps;
    out.views.push_back(camera(t));
    cv::Mat frame = picture(scene, out.views.back());
    std::optional<cv::Rect2f> box;
    if (walker) walker(frame, t, box);
    estimator.add(frame, box, t);
  }
  out.motion = estimator.finish();
  return out;
}

// Largest distance, over frames and over a grid of picture points, between where the estimate
// and the truth put the point in the scene frame (the first picture's pixels).
double worst_error_px(const Filmed& f) {
  double worst = 0;
  const cv::Matx33d first = h(scene_to_picture(f.views.front()));
  for (std::size_t i = 0; i < f.views.size(); ++i) {
    const cv::Matx33d truth = first * h(scene_to_picture(f.views[i])).inv();
    for (double x = 0.1; x < 1; x += 0.2) {
      for (double y = 0.1; y < 1; y += 0.2) {
        const cv::Vec3d p(x * kWidth, y * kHeight, 1);
        const cv::Vec3d t = truth * p;
        const cv::Vec3d e = h(f.motion.to_scene[i]) * p;
        worst = std::max(worst, std::hypot(e[0] - t[0], e[1] - t[1]));
      }
    }
  }
  return worst;
}

TEST(CameraMotion, AStillCameraStaysInTheFirstFrame) {
  const Filmed f = film(textured_scene(1), 60, [](double) { return View{}; });
  ASSERT_EQ(f.motion.to_scene.size(), 60u);
  EXPECT_LT(worst_error_px(f), 0.2);
  EXPECT_LT(f.motion.path_widths / f.motion.duration_s, 0.002);
  EXPECT_EQ(f.motion.frame_pairs, 59);
  EXPECT_EQ(f.motion.frame_pairs_unmeasured, 0);
  // One key frame serves the whole video: nothing adds up.
  EXPECT_EQ(f.motion.key_frames, 1);
}

TEST(CameraMotion, APanIsFollowedAcrossKeyFrames) {
  // 150 px/s to the right over 4 s: the picture moves its own width, so the first frame's
  // corners are all gone by the end and key frames must be chained.
  const Filmed f = film(textured_scene(2), 120, [](double t) {
    return View{1, 0, 500 + 150 * t, 450};
  });
  EXPECT_LT(worst_error_px(f), 1.0);
  EXPECT_GT(f.motion.key_frames, 1);
  const double moved = 150.0 * 119 / kFps;
  EXPECT_NEAR(f.motion.translation_x_px, moved, 1.0);
  EXPECT_NEAR(f.motion.translation_y_px, 0, 1.0);
  EXPECT_NEAR(f.motion.path_widths, moved / kWidth, 0.02);
}

TEST(CameraMotion, AShakingRollingHandIsFollowed) {
  const Filmed f = film(textured_scene(3), 90, [](double t) {
    const double tau = 2 * std::numbers::pi;
    return View{1.05, 0.015 * std::sin(tau * 0.9 * t),
                800 + 12 * std::sin(tau * 1.3 * t) + 6 * std::sin(tau * 3.7 * t),
                450 + 10 * std::sin(tau * 1.1 * t + 1) + 5 * std::sin(tau * 4.3 * t)};
  });
  EXPECT_LT(worst_error_px(f), 1.0);
  EXPECT_NEAR(f.motion.rotation_max_deg, 0.015 * 180 / std::numbers::pi, 0.1);
}

TEST(CameraMotion, AZoomIsFollowed) {
  const Filmed f = film(textured_scene(4), 90, [](double t) {
    return View{1 + 0.1 * t, 0, 800, 450};
  });
  EXPECT_LT(worst_error_px(f), 1.0);
  const double zoom_pct = (1 + 0.1 * 89 / kFps - 1) * 100;
  EXPECT_NEAR(f.motion.scale_change_pct, zoom_pct, 0.5);
  EXPECT_NEAR(f.motion.scale_max_pct, zoom_pct, 0.5);
}

// A walker crossing a still scene fast, in sharper contrast than the wall behind and half the
// picture wide: unmasked, most corners would be on the walker and read as a pan; masked out,
// the camera stays still.
TEST(CameraMotion, TheWalkerIsNoPartOfTheScene) {
  const cv::Mat person = textured_scene(9)(cv::Rect(0, 0, 300, 330)).clone();
  cv::Mat wall;
  textured_scene(5).convertTo(wall, -1, 0.25, 96);
  const auto walker = [&](cv::Mat& frame, double t, std::optional<cv::Rect2f>& box) {
    const int x = static_cast<int>(20 + 300 * t);
    person.copyTo(frame(cv::Rect(x, 15, person.cols, person.rows)));
    box = cv::Rect2f(static_cast<float>(x), 15, static_cast<float>(person.cols),
                     static_cast<float>(person.rows));
  };
  const Filmed f = film(
      wall, 30, [](double) { return View{}; }, walker);
  EXPECT_LT(worst_error_px(f), 0.3);
}

// A blank wall: nothing to follow, every pair unmeasured, and no motion is invented.
TEST(CameraMotion, ABlankWallCannotBeFollowed) {
  const cv::Mat blank(900, 1600, CV_8UC3, cv::Scalar(200, 200, 200));
  const Filmed f = film(blank, 30, [](double t) { return View{1, 0, 500 + 150 * t, 450}; });
  EXPECT_EQ(f.motion.frame_pairs, 0);
  EXPECT_EQ(f.motion.frame_pairs_unmeasured, 29);
  EXPECT_EQ(f.motion.path_widths, 0);
}

// Three bands of the background moving apart (near and far walls seen by a camera that walks):
// no single motion fits most of the corners, and the residual says so.
TEST(CameraMotion, ABackgroundThatDoesNotMoveAsOnePictureHasALargeResidual) {
  const cv::Mat scene = textured_scene(6);
  const auto still = film(scene, 30, [](double) { return View{}; });
  CameraMotionEstimator estimator;
  for (int i = 0; i < 30; ++i) {
    const double t = i / kFps;
    cv::Mat frame = picture(scene, View{1, 0, 800 - 120 * t, 450});
    const cv::Rect middle(kWidth / 3, 0, kWidth / 3, kHeight),
        right(2 * kWidth / 3, 0, kWidth / 3, kHeight);
    picture(scene, View{})(middle).copyTo(frame(middle));
    picture(scene, View{1, 0, 800 + 120 * t, 450})(right).copyTo(frame(right));
    estimator.add(frame, std::nullopt, t);
  }
  const CameraMotion torn = estimator.finish();
  EXPECT_LT(still.motion.residual_px, 0.2);
  EXPECT_GT(torn.residual_px, 2.0);
}

TEST(CameraMotion, ToSceneMovesTheLandmarksAndScalesDepth) {
  PoseFrame pose;
  pose.person = true;
  pose.landmarks[0] = {10, 20, 4, 0.9f, 0.8f};
  // Rotation by 90 degrees, scale 2, then (5, 7).
  const PoseFrame out = to_scene(pose, cv::Matx23d(0, -2, 5, 2, 0, 7));
  EXPECT_FLOAT_EQ(out.landmarks[0].x, -35);
  EXPECT_FLOAT_EQ(out.landmarks[0].y, 27);
  EXPECT_FLOAT_EQ(out.landmarks[0].z, 8);
  EXPECT_FLOAT_EQ(out.landmarks[0].visibility, 0.9f);
  PoseFrame nobody;
  EXPECT_FLOAT_EQ(to_scene(nobody, cv::Matx23d(0, -2, 5, 2, 0, 7)).landmarks[0].x, 0);
}

}  // namespace
}  // namespace dancer::analysis

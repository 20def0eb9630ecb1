// The camera's motion, measured from the background with the walker masked out, and the
// keypoints expressed in a frame fixed to the scene.
//
// A hand-held phone pans, shakes, zooms or turns to follow the walker. Gait events (a foot at
// rest on the floor) and the walking speed (the pelvis's travel) are read from image
// positions, which assumes a still camera; a camera moving with the walker takes its motion
// out of theirs. Each frame is reduced to a small gray copy. Shi-Tomasi corners outside the
// walker's box are found on a key frame and tracked into each following frame by pyramidal
// Lucas-Kanade optical flow from the key frame itself (checked forward and backward; the
// previous frame's positions are the first guess), and a similarity transform (translation,
// rotation, uniform scale) is fitted to them with RANSAC (cv::estimateAffinePartial2D). A new
// key frame is taken when too few corners are left (the camera turned away from them, the
// walker covers them) or the zoom has changed the picture's scale. Registering every frame to
// its key frame, not to the frame before, keeps the error from adding up frame by frame: it
// adds up only at the key frames (a still camera keeps one for the whole video). The key
// frames' chain carries every frame's pixels into the first frame's: the scene frame.
//
// A similarity is exact for a camera that pans or rolls about its own centre and for a zoom;
// a camera that walks beside the walker sees the background move with depth (parallax), which
// no single transform fits: its residual says so.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "pose/pose_track.h"

namespace dancer::analysis {

struct CameraMotionConfig {
  // Work copy of each frame: this many pixels wide (a 1080p frame is reduced 4x). Wider than
  // the 320 px a still/moving verdict needs: the chained fits are the keypoints' coordinates.
  int work_width = 480;
  // Corners sought per frame outside the walker, their quality relative to the strongest
  // (cv::goodFeaturesToTrack's qualityLevel) and their spacing in work pixels.
  int max_corners = 400;
  double corner_quality = 0.001;
  double corner_spacing = 8;
  // A track is kept when tracking it back lands within this many work pixels of its start
  // (forward-backward error, Kalal et al. 2010).
  double max_forward_backward_px = 0.5;
  // RANSAC reprojection threshold, work pixels, and the fewest inliers a fit is trusted on.
  double ransac_px = 1.0;
  int min_inliers = 15;
  // A new key frame when fewer than this share of its corners are inliers, or the scale has
  // changed by more than this since it (Lucas-Kanade matches patches unscaled).
  double min_inlier_share = 0.5;
  double max_key_scale_change = 0.1;
  // Frames in a row without a fit before the chain is carried on by guess (the last measured
  // motion repeated) from a new key frame.
  int max_lost_frames = 5;
};

// One frame's registration to its key frame.
struct CameraStep {
  bool measured = false;  // fitted to its key frame (else interpolated or guessed)
  bool key = false;       // a key frame was taken here
  int tracked = 0;        // background tracks that survived the forward-backward check
  int inliers = 0;        // RANSAC inliers of the fit
  // Median distance of all the background's tracks (inliers or not) from the fit, video
  // pixels: tracking noise when the background moves as one picture, more when it does not.
  double residual_px = 0;
};

// The camera over the whole video.
struct CameraMotion {
  int width = 0;  // the video's frame size
  int height = 0;
  std::vector<double> time_s;  // per frame added
  // Per frame: its pixels to the scene frame (the first frame's pixels). Pairs that could not
  // be measured take the mean motion of their nearest measured neighbours.
  std::vector<cv::Matx23d> to_scene;
  std::vector<CameraStep> steps;  // per frame (steps[0]: the first key frame)

  std::int64_t frame_pairs = 0;             // frames after the first registered to a key frame
  std::int64_t frame_pairs_unmeasured = 0;  // too few background corners or inliers
  std::int64_t key_frames = 0;
  std::int64_t chain_breaks = 0;  // key frames taken by guess after max_lost_frames
  double duration_s = 0;          // time spanned by the measured pairs
  // Path of the picture's centre in the scene, picture widths (sum over measured pairs), and
  // its net displacement from the first frame to the last, in video pixels.
  double path_widths = 0;
  double translation_x_px = 0;
  double translation_y_px = 0;
  // Net rotation (degrees, positive clockwise in the image) and scale change (%) from the
  // first frame to the last, and the largest of each at any frame.
  double rotation_deg = 0;
  double scale_change_pct = 0;
  double rotation_max_deg = 0;
  double scale_max_pct = 0;
  // Median over the measured frames of their residual_px.
  double residual_px = 0;
};

class CameraMotionEstimator {
 public:
  explicit CameraMotionEstimator(CameraMotionConfig config = {});
  // Each decoded frame (CV_8UC3 RGB, upright, the video's resolution), in order, with its
  // pose: the walker's landmarks (widened by a tenth of their height) are masked out.
  void add(const cv::Mat& rgb_frame, const PoseFrame& pose);
  void add(const cv::Mat& rgb_frame, const std::optional<cv::Rect2f>& walker, double time_s);
  // The gray work copy of the last frame added (for cheap whole-picture statistics).
  const cv::Mat& work_gray() const { return gray_; }
  double work_scale() const { return scale_; }
  CameraMotion finish() const;

 private:
  void take_key_frame(const std::optional<cv::Rect>& walker, const cv::Matx33d& to_scene);

  CameraMotionConfig config_;
  int width_ = 0, height_ = 0;
  double scale_ = 1;  // work pixels per video pixel
  cv::Mat full_gray_, gray_, key_gray_;
  std::vector<cv::Point2f> key_points_;   // work pixels, OpenCV's pixel centres
  std::vector<cv::Point2f> last_points_;  // where they were last seen (the next first guess)
  cv::Matx33d key_to_scene_ = cv::Matx33d::eye();  // video pixels
  std::vector<double> time_s_;
  std::vector<CameraStep> steps_;
  std::vector<std::optional<cv::Matx33d>> to_scene_;  // measured frames and key frames
  int lost_ = 0;
};

// The walker's box: every landmark, widened by a tenth of its height on each side; none
// without a person or with a landmark that is not finite.
std::optional<cv::Rect2f> walker_box(const PoseFrame& pose);

// `r` rounded outward to whole pixels and cut to an image of `size` (empty when outside it).
cv::Rect clip_to_image(const cv::Rect2f& r, cv::Size size);

// The pose with its landmarks carried by `to_scene` (x, y moved; z scaled with the picture).
PoseFrame to_scene(const PoseFrame& pose, const cv::Matx23d& to_scene);

}  // namespace dancer::analysis

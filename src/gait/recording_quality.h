// The recording-quality gate of pose-gait: named checks of what a gait analysis from a side
// view needs of a video, each with its measured value, its thresholds, a verdict (pass, warn,
// fail), plain advice for filming next time, and the measures a failure withholds.
//
// Checks (thresholds in RecordingQualityConfig, each with its reason):
//   frame_rate     frames/s analysed
//   resolution     the picture's short side, pixels
//   subject_size   the walker's stature in the image, pixels (nose to heel / 0.87)
//   exposure       mean luma on the walker's box (0-255); clipped fraction as a detail
//   sharpness      Laplacian energy of the walker's box resampled to a fixed body scale,
//                  relative to the box's contrast (so neither a small nor a dark walker
//                  reads as blurred)
//   camera_motion  the camera's motion from the background (the walker masked out), as
//                  pose/camera_motion.h measures it: translation in picture widths per
//                  second and in total, rotation and scale change, and whether the keypoints
//                  were compensated (expressed in the scene's frame) or, if not, why
//   feet_in_frame  share of the frames with the walker whose heels and toes lie inside the
//                  picture
//   duration       strides measured (the table's minimum is 3)
//
// A builder fed every decoded frame with its pose (as KeypointGaitBuilder), on a small gray
// copy of the frame and the walker's box, so its cost stays a small fraction of the pose
// model's.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "pose/camera_motion.h"
#include "pose/pose_track.h"

namespace dancer::analysis {

enum class QualityVerdict { kPass, kWarn, kFail };
const char* to_string(QualityVerdict verdict);  // "pass", "warn", "fail"

// A value fails below fail_below or above fail_above, else warns below warn_below or above
// warn_above, else passes. Unset bounds do not apply.
struct QualityThreshold {
  std::optional<double> fail_below;
  std::optional<double> warn_below;
  std::optional<double> warn_above;
  std::optional<double> fail_above;
  QualityVerdict judge(double value) const;
};

struct QualityCheck {
  std::string name;
  std::optional<double> value;  // null: could not be measured (nobody seen)
  std::string unit;
  QualityThreshold threshold;
  QualityVerdict verdict = QualityVerdict::kPass;
  std::string advice;                  // empty when the check passes
  std::vector<std::string> withholds;  // measure keys made null; empty unless it fails
  std::vector<std::pair<std::string, std::optional<double>>> details;
};

// The measures a failing check withholds, by their keys in the results contract.
// Spatial: lengths and speed, which rest on image distances.
extern const std::vector<std::string> kSpatialMeasures;
// Phases: stance, swing and support, which rest on each event's exact frame.
extern const std::vector<std::string> kPhaseMeasures;

struct RecordingQualityConfig {
  // The camera's motion estimate (shared with the compensation of the keypoints).
  CameraMotionConfig camera;
  // The whole picture's luma (exposure when nobody is found) on every k-th frame.
  int luma_every = 2;
  // Exposure and sharpness are sampled on every k-th frame with a person.
  int box_every = 3;
  // The walker's box is resampled to at most this height for sharpness and exposure: a
  // fixed body scale, so sharpness is judged relative to the body, not the sensor.
  int box_height = 128;

  // Events are timed to the nearest frame; within +-1 frame of motion capture's 33 ms
  // (Stenum et al. 2021) needs at least 25 frames/s. Below 20 a frame lasts longer than half
  // a double-support phase (about 0.1 s at a normal pace), so the phases are withheld.
  QualityThreshold frame_rate{20.0, 25.0, std::nullopt, std::nullopt};
  // The short side of the picture. A walker filling two thirds of 240 px is 160 px tall, near
  // subject_size's limit; below 480 (480p) a walker framed with room to walk is small.
  QualityThreshold resolution{240.0, 480.0, std::nullopt, std::nullopt};
  // The landmark model sees the walker in a 256 px crop of 1.25 body heights: a body of
  // 200 px or more is seen at full detail. At 100 px the foot (about 15 % of stature) spans
  // 15 px and a heel a handful: one pixel is 1 % of stature, a tenth of a typical difference
  // between left and right step length, so lengths and speed are withheld.
  QualityThreshold subject_size{100.0, 200.0, std::nullopt, std::nullopt};
  // Mean luma (0-255) on the walker. Below 30 the body's edges sink into sensor noise and
  // compression (landmarks jitter or are lost); above 235 they are washed out.
  QualityThreshold exposure{30.0, 50.0, 210.0, 235.0};
  // Share of the walker's box at the ends of the range (<= 5 or >= 250): detail lost there.
  // A white wall behind the walker clips a tenth of the box of a good recording (kevin1: 0.11).
  double clipped_warn = 0.25;
  double clipped_fail = 0.5;
  // Laplacian energy over intensity variance at the 128 px body scale. Calibrated on the
  // shared tripod walk (kevin1, a 680 px body): the original measures 0.29; Gaussian blurs of
  // sigma 3, 5, 7 and 14 px measure 0.12, 0.057, 0.031 and 0.008. A blur of 1 % of the stature
  // (sigma 7 px there, about 2 px in the landmark model's 256 px input) spreads the heel's and
  // toe's edges over a tenth of the foot's length: fail; a third of that already shows: warn.
  QualityThreshold sharpness{0.05, 0.15, std::nullopt, std::nullopt};
  // Camera translation in picture widths per second (path length over the duration). A
  // side-view walker crosses the picture at about a quarter of its width per second (kevin1:
  // 0.26); a camera moving 0.02 widths/s then biases the walking speed by about 8 %, more
  // than the 7 % a clinical speed change needs. The tripod walks measure 0.0024 (kevin1) and
  // 0.0005 (gym), the estimate's own noise; a 60 px/s pan over 1440 px (0.042) measures 0.042.
  // Beyond the warn bounds the camera is compensated when it can be (judge_camera).
  QualityThreshold camera_translation{std::nullopt, std::nullopt, 0.01, 0.02};
  // Zoom (%, the largest from the first frame): lengths and speed are in body heights of each pass,
  // so a zoom of s % biases the speed by up to s %.
  QualityThreshold camera_scale_pct{std::nullopt, std::nullopt, 2.0, 5.0};
  // Camera roll (degrees): the vertical the joint angles and the walking direction refer to.
  QualityThreshold camera_rotation_deg{std::nullopt, std::nullopt, 2.0, 5.0};
  // A camera that moved (beyond the pass bounds above) is compensated when its motion was
  // followed on nearly every frame: at most this share of the frames without a fit of their
  // own (each is placed between its neighbours), and no chain broken by a stretch without any.
  // More than half the frames unmeasured: the camera cannot be shown still or moving.
  double camera_max_unmeasured = 0.1;
  double camera_unmeasurable = 0.5;
  // The background's tracks must move as one picture: their median distance from the fit
  // under 0.2 % of the picture's width (3.8 px at 1080p, about the RANSAC tolerance of the
  // 480 px work copy). Tracking noise is a tenth of it (shared walks: 0.3 to 0.5 px at
  // 720p and 1080p); a camera carried beside the walker sees near and far walls move apart
  // (parallax), which no similarity fits and no compensation could undo.
  double camera_max_residual_widths = 0.002;
  // Share of frames with the walker (hips well inside the picture) whose heels and toes are
  // in the picture: the events are the heels' and toes' extremes.
  QualityThreshold feet_in_frame{0.7, 0.9, std::nullopt, std::nullopt};
  // Strides measured: 3 is the table's minimum for a mean and a spread (per side: 6 in all).
  QualityThreshold duration{3.0, 6.0, std::nullopt, std::nullopt};
};

// What the camera_motion check makes of the camera's motion.
struct CameraJudgement {
  bool measurable = false;   // enough frames with a fit to tell
  bool moved = false;        // beyond the check's pass bounds
  bool compensated = false;  // moved, and followed well enough to be taken out of the keypoints
  // Why a moving camera was not compensated: "too_few_background_features" (frames without
  // a fit, a broken chain) or "residual_too_large" (the background does not move as one).
  std::string refused;
};
CameraJudgement judge_camera(const CameraMotion& motion, const RecordingQualityConfig& config = {});

// The poses in the scene's frame when the camera is compensated, else as they are.
std::vector<PoseFrame> scene_poses(std::vector<PoseFrame> poses, const CameraMotion& motion,
                                   const CameraJudgement& judgement);

// results_json.analysis.quality.camera_motion: {"compensated", "refused", "translation_px":
// {"x", "y"}, "path_widths", "rotation_deg", "rotation_max_deg", "scale_change_pct",
// "scale_max_pct", "residual_px", "frames_measured", "frames_unmeasured", "key_frames",
// "chain_breaks"}.
nlohmann::ordered_json to_json(const CameraMotion& motion, const CameraJudgement& judgement);

// What the analysis knows once the video is done.
struct RecordingFacts {
  double fps = 0;  // frames/s analysed
  int width = 0;   // as displayed
  int height = 0;
  double duration_s = 0;
  int strides = 0;  // measured in the gait table
};

class RecordingQualityBuilder {
 public:
  explicit RecordingQualityBuilder(RecordingQualityConfig config = {});
  // Each decoded frame (CV_8UC3 RGB, upright, the video's resolution) with its pose, in order.
  void add(const cv::Mat& rgb_frame, const PoseFrame& pose);
  // The camera's motion over the frames added: the one estimate the camera_motion check
  // judges and the keypoints are compensated with.
  const CameraMotion& camera_motion() const;
  std::vector<QualityCheck> finish(const RecordingFacts& facts) const;

 private:
  void add_box(const cv::Mat& rgb_frame, const cv::Rect2f& box);

  RecordingQualityConfig config_;
  std::int64_t frames_ = 0;
  std::int64_t person_frames_ = 0;
  // Camera motion.
  CameraMotionEstimator camera_;
  mutable std::optional<CameraMotion> camera_motion_;  // finished on first use after add
  // The walker.
  std::vector<float> body_height_px_;
  std::int64_t feet_frames_ = 0;  // frames with the hips well inside the picture
  std::int64_t feet_in_ = 0;
  std::int64_t box_samples_ = 0;
  double luma_sum_ = 0;
  double clipped_sum_ = 0;
  std::vector<float> sharpness_;
  // Whole-picture exposure, for a recording where nobody was found.
  double frame_luma_sum_ = 0;
  std::int64_t frame_luma_samples_ = 0;
  cv::Mat crop_, gray_, lap_;
};

// {"name", "value", "unit", "threshold": {fail_below?, warn_below?, warn_above?, fail_above?},
//  "verdict", "advice", "withholds": [...], "details": {...}}
nlohmann::ordered_json to_json(const QualityCheck& check);
nlohmann::ordered_json to_json(const std::vector<QualityCheck>& checks);

// What the failing checks withhold: the measures' keys in the results contract (and
// "walking_speed"), and the warning names to add: the checks' own conditions (low_frame_rate,
// low_resolution, subject_too_small, too_dark, overexposed, blurred, camera_moving,
// person_cut_by_frame_edge, too_few_strides), then "measures_withheld" when any key is. The
// one decision the results JSON (gait_result.h to_json) and the writers read.
struct WithheldMeasures {
  std::set<std::string, std::less<>> keys;
  std::vector<std::string> warnings;
};
WithheldMeasures withheld_measures(const std::vector<QualityCheck>& checks);

// Makes null, in a pose-gait analysis (the results contract's keys), every measure a failing
// check withholds: the strides' values, the per-side statistics (n becomes 0: they rest on no
// stride), the symmetry indices built on them and, for "walking_speed", the walking speed.
// Returns the warning names to add: "measures_withheld" and the check's own condition
// (low_frame_rate, low_resolution, too_dark, overexposed, blurred, camera_moving,
// person_cut_by_frame_edge, too_few_strides).
std::vector<std::string> withhold_measures(nlohmann::ordered_json& analysis,
                                           const std::vector<QualityCheck>& checks);

}  // namespace dancer::analysis

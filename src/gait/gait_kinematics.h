// Sagittal joint angles from a side-view keypoint track: hip, knee and ankle per frame for each
// named leg, each stride normalised to 0-100 % of the gait cycle (101 samples) with the mean
// and SD per side, and the peaks clinicians read (Perry and Burnfield, Gait Analysis, 2nd ed.,
// ch. 5-7).
//
// Angles are projected 2D segment angles in the image plane, as in Stenum et al. 2021 (PLoS
// Comput Biol 17:e1008935, hip, knee and ankle from OpenPose keypoints of side-view video), with
// the clinical sign conventions:
//   hip flexion   = thigh (hip -> knee) ahead of the trunk line (shoulders -> hips), + flexion;
//   knee flexion  = shank (knee -> ankle) behind the thigh's line, + flexion, 0 straight;
//   ankle         = foot (heel -> foot index) against the shank's perpendicular, + dorsiflexion.
// "Ahead" is the walking direction of the pass, so both directions give the same signs. Frames
// outside a walking pass (turns, standing, a front view) have no sagittal angles.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "gait/gait_keypoints.h"
#include "gait/gait_table.h"
#include "pose/pose_track.h"

namespace dancer::analysis {

enum class Joint { kHip, kKnee, kAnkle };
inline constexpr std::array<Joint, 3> kJoints = {Joint::kHip, Joint::kKnee, Joint::kAnkle};
const char* to_string(Joint joint);  // "hip", "knee", "ankle"

inline constexpr int kCycleSamples = 101;  // 0, 1, ..., 100 % of the gait cycle

struct KinematicsConfig {
  double lowpass_hz = 6;  // as the events: Stenum et al. 2021
  // Each point of a joint's segments must be at least this visible. Lower than the events'
  // threshold: BlazePose still places the far leg, half hidden behind the near one, where it is
  // (its visibility is then often 0.3 to 0.5), and a frame without it would break every cycle.
  double min_visibility = 0.3;
  // A cycle is normalised when no gap in its angles is longer than this (gaps up to it are
  // bridged linearly); otherwise it is left out.
  double max_gap_s = 0.1;
  int min_strides = kMinStridesForMean;  // per side, as the spatio-temporal table
};

// One side's angle curve over the cycle: mean and sample SD at each % (null below min_strides).
struct CycleCurve {
  std::optional<std::array<double, kCycleSamples>> mean;
  std::optional<std::array<double, kCycleSamples>> sd;
};

struct PeakStat {
  std::optional<double> mean;
  std::optional<double> sd;
  int n = 0;  // strides it rests on
};

// The peaks per stride, by name (degrees): hip_flexion_max, hip_extension_max (positive:
// extension), hip_rom, knee_flexion_loading_max (first half of stance), knee_flexion_swing_max,
// knee_rom, ankle_dorsiflexion_stance_max, ankle_plantarflexion_max (positive: plantarflexion),
// ankle_rom.
extern const std::vector<std::string> kPeakNames;

struct SideKinematics {
  int cycles = 0;                    // strides normalised
  std::array<CycleCurve, 3> curves;  // by Joint
  std::vector<PeakStat> peaks;       // in the order of kPeakNames
};

struct GaitKinematics {
  // Per frame of the video (index = frame), degrees; null outside passes or when the joint's
  // points are not visible enough. [side: 0 left, 1 right][joint].
  std::vector<std::int64_t> frames;
  std::vector<double> times_s;
  std::array<std::array<std::vector<std::optional<double>>, 3>, 2> angles;
  std::int64_t frames_with_angles = 0;  // frames where any angle of either leg is known
  // Per frame: each named foot's heel ahead of the mid-hip along the direction of travel, in
  // body heights, low-passed as the events' signals (gait_keypoints.h finds contacts at its
  // maxima, walking forward or backward); null outside passes or where the heel or hips are
  // hidden. [0] left, [1] right.
  std::array<std::vector<std::optional<double>>, 2> heel_ahead;

  SideKinematics left;
  SideKinematics right;
};

// Collects the points of each frame the angles need (a dozen landmarks), in decode order.
class KinematicsBuilder {
 public:
  explicit KinematicsBuilder(KinematicsConfig config = {});
  void add(const PoseFrame& frame);
  // The angles of each named leg through the passes of `gait`, normalised over the strides of
  // `table` (built from the same gait).
  GaitKinematics finish(const KeypointGait& gait, const GaitTable& table, double fps) const;

  struct Sample {
    bool person = false;
    // [model side][shoulder, hip, knee, ankle, heel, foot index]: x, y, visibility
    float x[2][6] = {};
    float y[2][6] = {};
    float v[2][6] = {};
  };

 private:
  KinematicsConfig config_;
  std::vector<Sample> samples_;
  std::vector<std::int64_t> frames_;
  std::vector<double> times_;
};

// The results contract's kinematics.limits: what projected 2D angles cannot tell.
inline constexpr std::string_view kKinematicsLimits =
    "Projected 2D angles from a single side-view camera: true only for motion in the plane "
    "of the image. Rotation out of that plane (a walker not square to the camera, hip "
    "rotation, foot progression angle), lens distortion and the far leg hidden behind the "
    "near one distort them; frontal- and transverse-plane angles cannot be measured. The "
    "pose model places joint centres from appearance, not from markers on bony landmarks, "
    "so offsets of several degrees from motion capture are expected.";

// The results contract's kinematics.conventions: each joint's angle in words, by Joint.
inline constexpr std::array<std::string_view, 3> kAngleConventions = {
    "thigh (hip to knee) against the trunk line (shoulders to hips); + flexion",
    "shank (knee to ankle) against the thigh's line; + flexion, 0 straight",
    "foot (heel to foot index) against the shank's perpendicular; + dorsiflexion"};

// The results contract's "kinematics": method, limits, conventions, per_frame (null without a
// pass), cycles per side (101-sample mean and SD, null below the minimum strides) and peaks per
// side ({mean, sd, n}); degrees rounded to 0.1.
nlohmann::ordered_json to_json(const GaitKinematics& kinematics, const KinematicsConfig& config);

}  // namespace dancer::analysis

#include "gait/recording_quality.h"

#include <opencv2/calib3d.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/video/tracking.hpp>

#include <algorithm>
#include <cmath>
#include <set>

#include "common/json_number.h"
#include "pose/blazepose.h"

namespace dancer::analysis {

const std::vector<std::string> kSpatialMeasures = {"walking_speed", "step_length_body_heights",
                                                   "stride_length_body_heights", "step_length_m",
                                                   "stride_length_m"};
const std::vector<std::string> kPhaseMeasures = {"stance_s",
                                                 "swing_s",
                                                 "single_support_s",
                                                 "initial_double_support_s",
                                                 "terminal_double_support_s",
                                                 "double_support_s",
                                                 "stance_pct",
                                                 "swing_pct",
                                                 "single_support_pct",
                                                 "double_support_pct"};

namespace {

using blazepose::kLeftHip;
using blazepose::kNose;
using blazepose::kNoseToHeelOfStature;
using blazepose::kRightHip;
constexpr blazepose::Landmark kFeet[] = {blazepose::kLeftHeel, blazepose::kRightHeel,
                                         blazepose::kLeftFootIndex, blazepose::kRightFootIndex};
constexpr float kMinPresence = 0.5f;

QualityVerdict worst(QualityVerdict a, QualityVerdict b) { return a > b ? a : b; }

QualityCheck make_check(std::string name, std::optional<double> value, std::string unit,
                        const QualityThreshold& threshold) {
  QualityCheck c;
  c.name = std::move(name);
  c.value = value;
  c.unit = std::move(unit);
  c.threshold = threshold;
  return c;
}

double median(std::vector<float> v) {
  const auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  return *mid;
}

}  // namespace

const char* to_string(QualityVerdict verdict) {
  switch (verdict) {
    case QualityVerdict::kPass:
      return "pass";
    case QualityVerdict::kWarn:
      return "warn";
    case QualityVerdict::kFail:
      return "fail";
  }
  return "fail";
}

QualityVerdict QualityThreshold::judge(double value) const {
  if ((fail_below && value < *fail_below) || (fail_above && value > *fail_above)) {
    return QualityVerdict::kFail;
  }
  if ((warn_below && value < *warn_below) || (warn_above && value > *warn_above)) {
    return QualityVerdict::kWarn;
  }
  return QualityVerdict::kPass;
}

RecordingQualityBuilder::RecordingQualityBuilder(RecordingQualityConfig config)
    : config_(config), camera_(config.camera) {}

void RecordingQualityBuilder::add(const cv::Mat& rgb_frame, const PoseFrame& pose) {
  const std::optional<cv::Rect2f> box = walker_box(pose);
  camera_.add(rgb_frame, box, pose.time_s);
  camera_motion_.reset();
  if (frames_ % std::max(1, config_.luma_every) == 0) {
    frame_luma_sum_ += cv::mean(camera_.work_gray())[0];
    ++frame_luma_samples_;
  }
  ++frames_;
  if (!box) return;
  const auto& lm = pose.landmarks;
  const float width = static_cast<float>(rgb_frame.cols);
  const float height = static_cast<float>(rgb_frame.rows);
  const float heel_y = std::max(lm[blazepose::kLeftHeel].y, lm[blazepose::kRightHeel].y);
  if (heel_y > lm[kNose].y) {
    body_height_px_.push_back(static_cast<float>((heel_y - lm[kNose].y) / kNoseToHeelOfStature));
  }
  // Feet: only while the walker is well inside the picture (entering and leaving at the sides
  // is not a framing fault).
  const float hip_x = 0.5f * (lm[kLeftHip].x + lm[kRightHip].x);
  if (hip_x >= 0.1f * width && hip_x <= 0.9f * width) {
    ++feet_frames_;
    const bool in = std::all_of(std::begin(kFeet), std::end(kFeet), [&](std::size_t i) {
      return lm[i].presence >= kMinPresence && lm[i].x >= 0 && lm[i].x < width && lm[i].y >= 0 &&
             lm[i].y < height;
    });
    if (in) ++feet_in_;
  }
  if (person_frames_++ % std::max(1, config_.box_every) == 0) add_box(rgb_frame, *box);
}

void RecordingQualityBuilder::add_box(const cv::Mat& rgb_frame, const cv::Rect2f& box) {
  const cv::Rect r = clip_to_image(box, rgb_frame.size());
  if (r.height < 16 || r.width < 8) return;
  cv::cvtColor(rgb_frame(r), crop_, cv::COLOR_RGB2GRAY);
  if (crop_.rows > config_.box_height) {
    const double f = static_cast<double>(config_.box_height) / crop_.rows;
    cv::resize(crop_, gray_, cv::Size(), f, f, cv::INTER_AREA);
  } else {
    gray_ = crop_;
  }
  ++box_samples_;
  const cv::Scalar mean = cv::mean(gray_);
  luma_sum_ += mean[0];
  const int clipped = cv::countNonZero(gray_ <= 5) + cv::countNonZero(gray_ >= 250);
  clipped_sum_ += static_cast<double>(clipped) / static_cast<double>(gray_.total());
  // Sharpness: the Laplacian's energy against the intensity's, a ratio that contrast and
  // brightness cancel out of.
  cv::Laplacian(gray_, lap_, CV_32F, 1);
  cv::Scalar m, lap_sd, gray_sd;
  cv::meanStdDev(lap_, m, lap_sd);
  cv::meanStdDev(gray_, m, gray_sd);
  if (gray_sd[0] >= 2.0) {
    sharpness_.push_back(static_cast<float>((lap_sd[0] * lap_sd[0]) / (gray_sd[0] * gray_sd[0])));
  }
}

const CameraMotion& RecordingQualityBuilder::camera_motion() const {
  if (!camera_motion_) camera_motion_ = camera_.finish();
  return *camera_motion_;
}

CameraJudgement judge_camera(const CameraMotion& motion, const RecordingQualityConfig& config) {
  CameraJudgement j;
  const double frames = static_cast<double>(motion.frame_pairs + motion.frame_pairs_unmeasured);
  const double unmeasured =
      frames > 0 ? static_cast<double>(motion.frame_pairs_unmeasured) / frames : 1.0;
  j.measurable =
      motion.frame_pairs > 0 && motion.duration_s > 0 && unmeasured <= config.camera_unmeasurable;
  if (!j.measurable) return j;
  j.moved = config.camera_translation.judge(motion.path_widths / motion.duration_s) !=
                QualityVerdict::kPass ||
            config.camera_scale_pct.judge(motion.scale_max_pct) != QualityVerdict::kPass ||
            config.camera_rotation_deg.judge(motion.rotation_max_deg) != QualityVerdict::kPass;
  // A still camera is left as it is: compensating it would only add the estimate's noise.
  if (!j.moved) return j;
  if (unmeasured > config.camera_max_unmeasured || motion.chain_breaks > 0) {
    j.refused = "too_few_background_features";
  } else if (motion.residual_px > config.camera_max_residual_widths * motion.width) {
    j.refused = "residual_too_large";
  } else {
    j.compensated = true;
  }
  return j;
}

std::vector<PoseFrame> scene_poses(std::vector<PoseFrame> poses, const CameraMotion& motion,
                                   const CameraJudgement& judgement) {
  if (!judgement.compensated) return poses;
  for (std::size_t i = 0; i < poses.size() && i < motion.to_scene.size(); ++i) {
    poses[i] = to_scene(poses[i], motion.to_scene[i]);
  }
  return poses;
}

nlohmann::ordered_json to_json(const CameraMotion& motion, const CameraJudgement& judgement) {
  const auto number = [](double v) { return common::json_number(v, 1e4); };
  return {{"compensated", judgement.compensated},
          {"refused", judgement.refused.empty() ? nlohmann::ordered_json(nullptr)
                                                : nlohmann::ordered_json(judgement.refused)},
          {"translation_px",
           {{"x", number(motion.translation_x_px)}, {"y", number(motion.translation_y_px)}}},
          {"path_widths", number(motion.path_widths)},
          {"rotation_deg", number(motion.rotation_deg)},
          {"rotation_max_deg", number(motion.rotation_max_deg)},
          {"scale_change_pct", number(motion.scale_change_pct)},
          {"scale_max_pct", number(motion.scale_max_pct)},
          {"residual_px", number(motion.residual_px)},
          {"frames_measured", motion.frame_pairs},
          {"frames_unmeasured", motion.frame_pairs_unmeasured},
          {"key_frames", motion.key_frames},
          {"chain_breaks", motion.chain_breaks}};
}

std::vector<QualityCheck> RecordingQualityBuilder::finish(const RecordingFacts& facts) const {
  std::vector<QualityCheck> checks;
  const auto judged = [&](QualityCheck c) {
    if (c.value) c.verdict = worst(c.verdict, c.threshold.judge(*c.value));
    return c;
  };
  std::vector<std::string> spatial_and_phases = kSpatialMeasures;
  spatial_and_phases.insert(spatial_and_phases.end(), kPhaseMeasures.begin(), kPhaseMeasures.end());

  {
    QualityCheck c = make_check("frame_rate", facts.fps, "frames/s", config_.frame_rate);
    c = judged(c);
    c.advice = "Film at 30 fps or more.";
    c.withholds = kPhaseMeasures;
    checks.push_back(c);
  }
  {
    QualityCheck c =
        make_check("resolution", std::min(facts.width, facts.height), "px", config_.resolution);
    c = judged(c);
    c.advice = "Film at 720p or more (at least 480 pixels on the short side).";
    c.withholds = kSpatialMeasures;
    c.details = {{"width", facts.width}, {"height", facts.height}};
    checks.push_back(c);
  }
  {
    QualityCheck c = make_check("subject_size", std::nullopt, "px", config_.subject_size);
    if (!body_height_px_.empty()) c.value = median(body_height_px_);
    if (!c.value) c.verdict = QualityVerdict::kFail;  // nobody seen
    c = judged(c);
    c.advice =
        "Move the camera closer, or zoom in before filming, so the walker fills more of the "
        "picture from head to feet.";
    if (c.value) c.withholds = kSpatialMeasures;
    c.details = {{"frames_with_person", static_cast<double>(person_frames_)}};
    checks.push_back(c);
  }
  {
    QualityCheck c = make_check("exposure", std::nullopt, "luma", config_.exposure);
    std::optional<double> clipped;
    if (box_samples_ > 0) {
      c.value = luma_sum_ / static_cast<double>(box_samples_);
      clipped = clipped_sum_ / static_cast<double>(box_samples_);
    } else if (frame_luma_samples_ > 0) {
      c.value = frame_luma_sum_ / static_cast<double>(frame_luma_samples_);  // the whole picture
    }
    c = judged(c);
    if (clipped) {
      c.verdict = worst(c.verdict, *clipped > config_.clipped_fail   ? QualityVerdict::kFail
                                   : *clipped > config_.clipped_warn ? QualityVerdict::kWarn
                                                                     : QualityVerdict::kPass);
    }
    const bool bright = c.value && *c.value > 128;
    c.advice = bright ? "Less direct light: do not film against a window or bright sun."
                      : "More light: film in a well-lit room, with the light behind the camera.";
    c.withholds = spatial_and_phases;
    c.details = {{"clipped_fraction", clipped},
                 {"measured_on_walker", box_samples_ > 0 ? 1.0 : 0.0},
                 {"samples", static_cast<double>(box_samples_)}};
    checks.push_back(c);
  }
  {
    QualityCheck c =
        make_check("sharpness", std::nullopt, "laplacian_energy_ratio", config_.sharpness);
    if (!sharpness_.empty()) c.value = median(sharpness_);
    if (!c.value) c.verdict = QualityVerdict::kFail;
    c = judged(c);
    c.advice =
        "Sharper picture: more light (a shorter exposure freezes the legs), a clean lens, and "
        "the focus on the walker.";
    if (c.value) c.withholds = spatial_and_phases;
    c.details = {{"samples", static_cast<double>(sharpness_.size())}};
    checks.push_back(c);
  }
  {
    QualityCheck c =
        make_check("camera_motion", std::nullopt, "widths/s", config_.camera_translation);
    const CameraMotion& motion = camera_motion();
    const CameraJudgement judged_camera = judge_camera(motion, config_);
    if (motion.frame_pairs > 0 && motion.duration_s > 0) {
      c.value = motion.path_widths / motion.duration_s;
      c = judged(c);
      c.verdict = worst(c.verdict, config_.camera_scale_pct.judge(motion.scale_max_pct));
      c.verdict = worst(c.verdict, config_.camera_rotation_deg.judge(motion.rotation_max_deg));
      // A camera that moved and was compensated: the measures stand, the advice too.
      if (judged_camera.compensated) c.verdict = QualityVerdict::kWarn;
      // A moving camera that could not be compensated fails whatever its speed: its motion
      // is in the keypoints.
      if (!judged_camera.refused.empty()) c.verdict = QualityVerdict::kFail;
      c.details = {{"translation_total_widths",
                    std::hypot(motion.translation_x_px, motion.translation_y_px) /
                        std::max(1, motion.width)},
                   {"path_widths", motion.path_widths},
                   {"rotation_deg", motion.rotation_deg},
                   {"rotation_max_deg", motion.rotation_max_deg},
                   {"scale_change_pct", motion.scale_change_pct},
                   {"scale_max_pct", motion.scale_max_pct},
                   {"residual_px", motion.residual_px},
                   {"frame_pairs", static_cast<double>(motion.frame_pairs)},
                   {"frame_pairs_unmeasured", static_cast<double>(motion.frame_pairs_unmeasured)},
                   {"compensated", judged_camera.compensated ? 1.0 : 0.0}};
    } else {
      c.details = {{"frame_pairs", 0.0},
                   {"frame_pairs_unmeasured", static_cast<double>(motion.frame_pairs_unmeasured)},
                   {"compensated", 0.0}};
    }
    // Nothing or too little in the background to follow: the camera cannot be shown still.
    if (!judged_camera.measurable) c.verdict = worst(c.verdict, QualityVerdict::kWarn);
    c.advice = "Hold the phone still or use a stand; do not pan, follow the walker or zoom.";
    c.withholds = kSpatialMeasures;
    checks.push_back(c);
  }
  {
    QualityCheck c = make_check("feet_in_frame", std::nullopt, "fraction", config_.feet_in_frame);
    if (feet_frames_ > 0) {
      c.value = static_cast<double>(feet_in_) / static_cast<double>(feet_frames_);
    }
    if (!c.value) c.verdict = QualityVerdict::kFail;
    c = judged(c);
    c.advice = "Keep the feet in the picture: frame the walker head to feet, with floor below.";
    if (c.value) c.withholds = spatial_and_phases;
    c.details = {{"frames", static_cast<double>(feet_frames_)}};
    checks.push_back(c);
  }
  {
    QualityCheck c = make_check("duration", facts.strides, "strides", config_.duration);
    c = judged(c);
    c.advice =
        "Film a longer walk: at least 3 strides per side, better several passes across the "
        "picture.";
    // Below 3 strides the table itself leaves every per-side value null.
    c.details = {{"duration_s", facts.duration_s}};
    checks.push_back(c);
  }
  for (QualityCheck& c : checks) {
    if (c.verdict == QualityVerdict::kPass) c.advice.clear();
    if (c.verdict != QualityVerdict::kFail) c.withholds.clear();
  }
  return checks;
}

nlohmann::ordered_json to_json(const QualityCheck& check) {
  nlohmann::ordered_json threshold = nlohmann::ordered_json::object();
  const auto bound = [&](const char* key, const std::optional<double>& v) {
    if (v) threshold[key] = *v;
  };
  bound("fail_below", check.threshold.fail_below);
  bound("warn_below", check.threshold.warn_below);
  bound("warn_above", check.threshold.warn_above);
  bound("fail_above", check.threshold.fail_above);
  nlohmann::ordered_json details = nlohmann::ordered_json::object();
  for (const auto& [key, value] : check.details) details[key] = common::json_number(value, 1e6);
  return {{"name", check.name},
          {"value", common::json_number(check.value, 1e4)},
          {"unit", check.unit},
          {"threshold", threshold},
          {"verdict", to_string(check.verdict)},
          {"advice", check.advice},
          {"withholds", check.withholds},
          {"details", details}};
}

nlohmann::ordered_json to_json(const std::vector<QualityCheck>& checks) {
  auto out = nlohmann::ordered_json::array();
  for (const QualityCheck& c : checks) out.push_back(to_json(c));
  return out;
}

WithheldMeasures withheld_measures(const std::vector<QualityCheck>& checks) {
  WithheldMeasures out;
  std::vector<std::string>& warnings = out.warnings;
  for (const QualityCheck& c : checks) {
    if (c.verdict != QualityVerdict::kFail) continue;
    out.keys.insert(c.withholds.begin(), c.withholds.end());
    if (c.name == "frame_rate") warnings.emplace_back("low_frame_rate");
    if (c.name == "resolution") warnings.emplace_back("low_resolution");
    if (c.name == "subject_size") warnings.emplace_back("subject_too_small");
    if (c.name == "exposure") {
      warnings.emplace_back(c.value && *c.value > 128 ? "overexposed" : "too_dark");
    }
    if (c.name == "sharpness") warnings.emplace_back("blurred");
    if (c.name == "camera_motion") warnings.emplace_back("camera_moving");
    if (c.name == "feet_in_frame") warnings.emplace_back("person_cut_by_frame_edge");
    if (c.name == "duration") warnings.emplace_back("too_few_strides");
  }
  if (!out.keys.empty()) warnings.emplace_back("measures_withheld");
  return out;
}

std::vector<std::string> withhold_measures(nlohmann::ordered_json& analysis,
                                           const std::vector<QualityCheck>& checks) {
  const WithheldMeasures decided = withheld_measures(checks);
  const auto& keys = decided.keys;
  if (keys.empty()) return decided.warnings;
  const auto withheld = [&](const std::string& key) { return keys.contains(key); };
  if (auto it = analysis.find("strides"); it != analysis.end() && it->is_array()) {
    for (auto& stride : *it) {
      for (auto& [key, value] : stride.items()) {
        if (withheld(key)) value = nullptr;
      }
    }
  }
  if (auto it = analysis.find("per_side"); it != analysis.end() && it->is_object()) {
    for (auto& [side, measures] : it->items()) {
      for (auto& [key, stat] : measures.items()) {
        if (withheld(key)) stat = {{"mean", nullptr}, {"sd", nullptr}, {"cv", nullptr}, {"n", 0}};
      }
    }
  }
  if (withheld("walking_speed")) {
    if (auto it = analysis.find("walking_speed"); it != analysis.end() && it->is_object()) {
      (*it)["body_heights_per_s"] = nullptr;
      (*it)["m_per_s"] = nullptr;
    }
  }
  if (auto it = analysis.find("symmetry"); it != analysis.end() && it->is_object()) {
    for (const auto& [index, measure] : {std::pair{"step_time", "step_time_s"},
                                         {"swing_time", "swing_s"},
                                         {"step_length", "step_length_body_heights"}}) {
      if (withheld(measure) && it->contains(index)) {
        (*it)[index] = {{"pct", nullptr}, {"n_left", 0}, {"n_right", 0}};
      }
    }
  }
  return decided.warnings;
}

}  // namespace dancer::analysis

// from_json: a stored results contract's `analysis` object (docs/results.md) read back into the
// typed GaitResult, so a stored result is re-rendered by the same writers as a fresh one.
#include <array>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gait/gait_result.h"

namespace dancer::analysis {
namespace {

using nlohmann::json;

// "an object", "a string", ...: the JSON type of `v` with its article.
std::string kind_of(const json& v) {
  const std::string name = v.type_name();
  return (name.find_first_of("aeiou") == 0 ? "an " : "a ") + name;
}

// A value of the analysis with its path ("analysis.strides[3].stance_s") for the error.
class At {
 public:
  At(const json& value, std::string path) : v_(value), path_(std::move(path)) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw AnalysisJsonError(path_ + ": " + what);
  }

  const json& value() const { return v_; }
  bool is_null() const { return v_.is_null(); }

  // The member `key`, which must be there.
  At operator[](std::string_view key) const {
    if (!v_.is_object()) fail("is " + kind_of(v_) + ", not an object");
    const auto it = v_.find(key);
    if (it == v_.end()) At(v_, path_ + "." + std::string(key)).fail("missing");
    return {*it, path_ + "." + std::string(key)};
  }
  // The member `key`, or nullopt when the object has none (a field newer than the result).
  std::optional<At> optional(std::string_view key) const {
    if (!v_.is_object()) fail("is " + kind_of(v_) + ", not an object");
    const auto it = v_.find(key);
    if (it == v_.end()) return std::nullopt;
    return At(*it, path_ + "." + std::string(key));
  }

  std::vector<At> array() const {
    if (!v_.is_array()) fail("is " + kind_of(v_) + ", not an array");
    std::vector<At> out;
    for (std::size_t i = 0; i < v_.size(); ++i) {
      out.emplace_back(v_[i], path_ + "[" + std::to_string(i) + "]");
    }
    return out;
  }
  std::vector<std::pair<std::string, At>> members() const {
    if (!v_.is_object()) fail("is " + kind_of(v_) + ", not an object");
    std::vector<std::pair<std::string, At>> out;
    for (const auto& [key, value] : v_.items()) out.emplace_back(key, At(value, path_ + "." + key));
    return out;
  }

  double number() const {
    if (!v_.is_number()) fail("is " + kind_of(v_) + ", not a number");
    return v_.get<double>();
  }
  std::optional<double> number_or_null() const {
    if (v_.is_null()) return std::nullopt;
    return number();
  }
  std::int64_t integer() const {
    if (!v_.is_number_integer()) fail("is " + kind_of(v_) + ", not an integer");
    return v_.get<std::int64_t>();
  }
  int int32() const {
    const std::int64_t v = integer();
    if (v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max()) {
      fail("is out of range");
    }
    return static_cast<int>(v);
  }
  std::size_t index() const {
    const std::int64_t v = integer();
    if (v < 0) fail("is negative");
    return static_cast<std::size_t>(v);
  }
  bool boolean() const {
    if (!v_.is_boolean()) fail("is " + kind_of(v_) + ", not a boolean");
    return v_.get<bool>();
  }
  std::string string() const {
    if (!v_.is_string()) fail("is " + kind_of(v_) + ", not a string");
    return v_.get<std::string>();
  }
  std::optional<std::string> string_or_null() const {
    if (v_.is_null()) return std::nullopt;
    return string();
  }
  std::vector<std::string> strings() const {
    std::vector<std::string> out;
    for (const At& s : array()) out.push_back(s.string());
    return out;
  }

  // The value named by one of `choices`' texts.
  template <typename T>
  T one_of(std::initializer_list<std::pair<std::string_view, T>> choices) const {
    const std::string text = string();
    std::string known;
    for (const auto& [name, value] : choices) {
      if (name == text) return value;
      known += (known.empty() ? "" : ", ") + std::string(name);
    }
    fail("is \"" + text + "\", not one of " + known);
  }

 private:
  const json& v_;
  std::string path_;
};

GaitPhase phase_of(const At& v) {
  return v.one_of<GaitPhase>({{"steady", GaitPhase::kSteady},
                              {"initiation", GaitPhase::kInitiation},
                              {"termination", GaitPhase::kTermination}});
}

Foot foot_of(const At& v) {
  return v.one_of<Foot>({{"left", Foot::kLeft}, {"right", Foot::kRight}});
}

FootEvent event_of(const At& e) {
  FootEvent out;
  out.foot = foot_of(e["foot"]);
  out.type = e["type"].one_of<FootEventType>(
      {{"initial_contact", FootEventType::kInitialContact}, {"toe_off", FootEventType::kToeOff}});
  out.frame = e["frame"].integer();
  out.time_s = e["time_s"].number();
  if (const auto v = e.optional("visibility")) out.visibility = v->number();
  if (const auto v = e.optional("prominence_body_heights"))
    out.prominence_body_heights = v->number();
  if (const auto v = e.optional("low_confidence")) out.low_confidence = v->boolean();
  if (const auto v = e.optional("phase")) out.phase = phase_of(*v);
  return out;
}

WalkingPass pass_of(const At& p) {
  WalkingPass out;
  out.first_frame = p["first_frame"].integer();
  out.last_frame = p["last_frame"].integer();
  out.start_s = p["start_s"].number();
  out.end_s = p["end_s"].number();
  if (const auto v = p.optional("view")) {
    out.view = v->one_of<PassView>({{"side", PassView::kSide},
                                    {"front", PassView::kFront},
                                    {"back", PassView::kBack},
                                    {"oblique", PassView::kOblique}});
  }
  out.direction = p["direction"].string();
  out.backward = p["facing"].one_of<bool>({{"forward", false}, {"backward", true}});
  out.body_height_px = p["body_height_px"].number();
  out.speed_body_heights_per_s = p["speed_body_heights_per_s"].number_or_null().value_or(0);
  if (const At near = p["near_camera"]; !near.is_null()) out.near_camera = foot_of(near);
  out.relabelled_frames = p["relabelled_frames"].integer();
  if (const auto segments = p.optional("segments")) {
    for (const At& segment : segments->array()) {
      out.segments.push_back(
          {phase_of(segment["phase"]), segment["start_s"].number(), segment["end_s"].number()});
    }
  }
  out.cadence_steps_per_min = p["cadence_steps_per_min"].number_or_null();
  out.steps = p["steps"].int32();
  out.strides = p["strides"].int32();
  return out;
}

SideStat side_stat_of(const At& s) {
  return {s["mean"].number_or_null(), s["sd"].number_or_null(), s["cv"].number_or_null(),
          s["n"].int32()};
}

// The Stride fields the catalogue's own measures read (gait_table.h), by key.
void set_stride_field(Stride& s, std::string_view key, std::optional<double> v) {
  const std::pair<std::string_view, std::optional<double> Stride::*> fields[] = {
      {"step_time_s", &Stride::step_time_s},
      {"stance_s", &Stride::stance_s},
      {"swing_s", &Stride::swing_s},
      {"single_support_s", &Stride::single_support_s},
      {"initial_double_support_s", &Stride::initial_double_support_s},
      {"terminal_double_support_s", &Stride::terminal_double_support_s},
      {"double_support_s", &Stride::double_support_s},
      {"step_length_body_heights", &Stride::step_length_body_heights},
      {"stride_length_body_heights", &Stride::stride_length_body_heights},
  };
  if (key == "stride_time_s") s.stride_time_s = v.value_or(0);
  for (const auto& [name, field] : fields) {
    if (name == key) s.*field = v;
  }
}

GaitTable table_of(const At& a, std::span<const StrideMeasure> catalogue) {
  GaitTable t;
  t.measures = catalogue;
  for (const At& st : a["strides"].array()) {
    Stride s;
    s.foot = foot_of(st["foot"]);
    s.pass = st["pass"].index();
    s.start_frame = st["start_frame"].integer();
    s.end_frame = st["end_frame"].integer();
    s.start_s = st["start_s"].number();
    if (const auto v = st.optional("phase")) s.phase = phase_of(*v);  // since 1.8.0
    for (const StrideMeasure& m : catalogue) {
      const std::optional<double> v = st[m.key].number_or_null();
      s.measures.push_back(v);
      set_stride_field(s, m.key, v);
    }
    t.strides.push_back(std::move(s));
  }
  const At per_side = a["per_side"];
  for (const auto& [name, side] : {std::pair{"left", &t.left}, {"right", &t.right}}) {
    const At measures = per_side[name];
    for (const StrideMeasure& m : catalogue) {
      side->names.emplace_back(m.key);
      side->stats.push_back(side_stat_of(measures[m.key]));
    }
  }
  t.cadence_steps_per_min = a["cadence_steps_per_min"].number_or_null();
  t.cadence_steps = a["cadence_steps"].int32();
  if (const auto method = a.optional("cadence_method")) {
    t.cadence_method = method->string_or_null().value_or("");
  }
  // Since 1.8.0; the means of older results rest on every stride.
  const auto means_over = a.optional("means_over");
  t.means_over = means_over ? means_over->one_of<std::string>({{"steady_strides", "steady_strides"},
                                                               {"all_strides", "all_strides"}})
                            : "all_strides";
  const At speed = a["walking_speed"];
  t.speed_body_heights_per_s = speed["body_heights_per_s"].number_or_null();
  t.speed_m_per_s = speed["m_per_s"].number_or_null();
  t.speed_passes = speed["passes"].int32();
  t.subject_height_m = a["subject_height_m"].number_or_null();
  const At symmetry = a["symmetry"];
  t.symmetry_step_time = symmetry["step_time"]["pct"].number_or_null();
  t.symmetry_swing = symmetry["swing_time"]["pct"].number_or_null();
  t.symmetry_step_length = symmetry["step_length"]["pct"].number_or_null();
  return t;
}

std::vector<std::optional<double>> angles_of(const At& list) {
  std::vector<std::optional<double>> out;
  for (const At& v : list.array()) out.push_back(v.number_or_null());
  return out;
}

std::optional<std::array<double, kCycleSamples>> curve_of(const At& list) {
  if (list.is_null()) return std::nullopt;
  const std::vector<At> values = list.array();
  if (values.size() != kCycleSamples) {
    list.fail("has " + std::to_string(values.size()) + " samples, not " +
              std::to_string(kCycleSamples));
  }
  std::array<double, kCycleSamples> out{};
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = values[i].number();
  return out;
}

GaitKinematics kinematics_of(const At& k, std::int64_t frames_with_angles) {
  GaitKinematics out;
  out.frames_with_angles = frames_with_angles;
  if (const At per_frame = k["per_frame"]; !per_frame.is_null()) {
    for (const At& f : per_frame["frame"].array()) out.frames.push_back(f.integer());
    for (const At& t : per_frame["time_s"].array()) out.times_s.push_back(t.number());
    for (std::size_t side = 0; side < 2; ++side) {
      const At angles = per_frame[side == 0 ? "left" : "right"];
      for (const Joint joint : kJoints) {
        out.angles[side][static_cast<std::size_t>(joint)] = angles_of(angles[to_string(joint)]);
      }
    }
  }
  for (const auto& [name, side] : {std::pair{"left", &out.left}, {"right", &out.right}}) {
    const At cycles = k["cycles"][name];
    side->cycles = cycles["n"].int32();
    for (const Joint joint : kJoints) {
      const At curve = cycles[to_string(joint)];
      side->curves[static_cast<std::size_t>(joint)] = {curve_of(curve["mean"]),
                                                       curve_of(curve["sd"])};
    }
    const At peaks = k["peaks"][name];
    for (const std::string& peak : kPeakNames) {
      const At p = peaks[peak];
      side->peaks.push_back({p["mean"].number_or_null(), p["sd"].number_or_null(), p["n"].int32()});
    }
  }
  return out;
}

QualityCheck check_of(const At& c) {
  QualityCheck out;
  out.name = c["name"].string();
  out.value = c["value"].number_or_null();
  out.unit = c["unit"].string();
  const At threshold = c["threshold"];
  for (const auto& [key, bound] : {std::pair{"fail_below", &out.threshold.fail_below},
                                   {"warn_below", &out.threshold.warn_below},
                                   {"warn_above", &out.threshold.warn_above},
                                   {"fail_above", &out.threshold.fail_above}}) {
    if (const auto v = threshold.optional(key)) *bound = v->number();
  }
  out.verdict = c["verdict"].one_of<QualityVerdict>({{"pass", QualityVerdict::kPass},
                                                     {"warn", QualityVerdict::kWarn},
                                                     {"fail", QualityVerdict::kFail}});
  out.advice = c["advice"].string();
  out.withholds = c["withholds"].strings();
  for (const auto& [key, value] : c["details"].members()) {
    out.details.emplace_back(key, value.number_or_null());
  }
  return out;
}

void camera_of(const At& c, CameraMotion& motion, CameraJudgement& judgement) {
  judgement.compensated = c["compensated"].boolean();
  judgement.refused = c["refused"].string_or_null().value_or("");
  motion.translation_x_px = c["translation_px"]["x"].number();
  motion.translation_y_px = c["translation_px"]["y"].number();
  motion.path_widths = c["path_widths"].number();
  motion.rotation_deg = c["rotation_deg"].number();
  motion.rotation_max_deg = c["rotation_max_deg"].number();
  motion.scale_change_pct = c["scale_change_pct"].number();
  motion.scale_max_pct = c["scale_max_pct"].number();
  motion.residual_px = c["residual_px"].number();
  motion.frame_pairs = c["frames_measured"].integer();
  motion.frame_pairs_unmeasured = c["frames_unmeasured"].integer();
  motion.key_frames = c["key_frames"].integer();
  motion.chain_breaks = c["chain_breaks"].integer();
}

}  // namespace

GaitResult from_json(const nlohmann::json& analysis, std::span<const StrideMeasure> catalogue) {
  const At a(analysis, "analysis");
  GaitResult r;
  const At analyzer = a["analyzer"];
  r.analyzer.name = analyzer["name"].string();
  r.analyzer.version = analyzer["version"].string();
  if (const auto v = analyzer.optional("pose_model")) r.analyzer.pose_model = v->string();
  if (const auto v = analyzer.optional("model_source")) r.analyzer.model_source = v->string();

  const At quality = a["quality"];
  media::VideoStreamInfo& info = r.video.info;
  info.fps = quality["fps"].number();
  info.stream_fps = info.fps;  // before 1.6 the analysed rate was the stream's
  if (const auto v = quality.optional("stream_fps")) info.stream_fps = v->number();
  info.duration_s = quality["duration_s"].number();
  info.width = quality["resolution"]["width"].int32();
  info.height = quality["resolution"]["height"].int32();
  info.rotation_degrees = quality["rotation_degrees"].int32();
  r.video.frames = a["frames_analyzed"].integer();
  r.video.frames_with_person = quality["frames_with_person"].integer();
  r.video.detector_runs = quality["detector_runs"].integer();
  r.video.walker_switches = quality["walker_switches"].integer();
  if (const auto v = quality.optional("frames_skipped_non_monotonic")) {
    r.video.non_monotonic_frames = v->integer();
  }
  if (const auto v = quality.optional("frames_skipped_sampling")) {
    r.video.sampled_out_frames = v->integer();
  }

  for (const At& p : a["passes"].array()) r.gait.passes.push_back(pass_of(p));
  for (const At& e : a["events"].array()) {
    FootEvent event = event_of(e);
    // The pass is not written: the one whose frames hold the event's.
    for (std::size_t p = 0; p < r.gait.passes.size(); ++p) {
      if (event.frame >= r.gait.passes[p].first_frame &&
          event.frame <= r.gait.passes[p].last_frame) {
        event.pass = p;
      }
    }
    r.gait.events.push_back(event);
  }
  r.gait.frames = quality["frames"].integer();
  r.gait.frames_with_person = r.video.frames_with_person;
  r.gait.frames_low_visibility = quality["frames_low_visibility"].integer();
  r.gait.steps = quality["steps"].int32();
  for (const WalkingPass& p : r.gait.passes) r.gait.strides += p.strides;

  r.table = table_of(a, catalogue);
  r.gait.cadence_steps_per_min = r.table.cadence_steps_per_min;
  r.gait.cadence_method = r.table.cadence_method;

  const At kinematics = a["kinematics"];
  r.kinematics_config.lowpass_hz = kinematics["lowpass_hz"].number();
  r.angles = kinematics_of(kinematics, quality["frames_with_angles"].integer());

  // Every warning, the checks' and the render pass's among them: to_json names each once.
  r.warnings = quality["warnings"].strings();
  if (const auto checks = quality.optional("checks")) {
    for (const At& c : checks->array()) r.checks.push_back(check_of(c));
  }
  if (const auto camera = quality.optional("camera_motion")) {
    camera_of(*camera, r.camera, r.camera_judgement);
  }
  r.processing_time_s = a["processing_time_s"].number();
  return r;
}

}  // namespace dancer::analysis

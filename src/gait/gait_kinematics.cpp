#include "gait/gait_kinematics.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "common/json_number.h"
#include "gait/signal.h"
#include "pose/blazepose.h"

namespace dancer::analysis {
namespace {

// Each side's points in the order of the indices below (pose/blazepose.h).
constexpr int points_of(int side, int k) {
  const blazepose::Side& s = blazepose::kSides[side];
  const blazepose::Landmark all[] = {s.shoulder, s.hip, s.knee, s.ankle, s.heel, s.foot_index};
  return all[k];
}
constexpr int kShoulder = 0, kHipPoint = 1, kKneePoint = 2, kAnklePoint = 3, kHeelPoint = 4,
              kToePoint = 5;

constexpr std::size_t index_of(Joint joint) { return static_cast<std::size_t>(joint); }

double degrees(double radians) { return radians * 180 / std::numbers::pi; }

double wrapped(double degrees_value) { return std::remainder(degrees_value, 360.0); }

// The direction of (dx, dy) from straight down in the image (y grows downward), in degrees,
// positive toward `forward` (+1: the image's right, -1: its left).
double from_down(double dx, double dy, double forward) {
  return degrees(std::atan2(dx * forward, dy));
}

using Sample = KinematicsBuilder::Sample;

// The three angles of one leg (model side `ms`) in one frame; null where a point is hidden.
std::array<std::optional<double>, 3> leg_angles(const Sample& s, int ms, double forward,
                                                double min_visibility) {
  std::array<std::optional<double>, 3> out;
  if (!s.person) return out;
  const auto seen = [&](int side, int point) { return s.v[side][point] >= min_visibility; };
  const auto segment = [&](int from, int to) {
    return from_down(s.x[ms][to] - s.x[ms][from], s.y[ms][to] - s.y[ms][from], forward);
  };
  const bool trunk_seen =
      seen(0, kShoulder) && seen(1, kShoulder) && seen(0, kHipPoint) && seen(1, kHipPoint);
  const bool thigh_seen = seen(ms, kHipPoint) && seen(ms, kKneePoint);
  const bool shank_seen = seen(ms, kKneePoint) && seen(ms, kAnklePoint);
  const bool foot_seen = seen(ms, kHeelPoint) && seen(ms, kToePoint);
  if (trunk_seen && thigh_seen) {
    // The trunk line from the shoulders' midpoint to the hips' (both sides: in a side view they
    // overlap, and the midpoints are steadier than either point).
    const double trunk = from_down(
        (s.x[0][kHipPoint] + s.x[1][kHipPoint] - s.x[0][kShoulder] - s.x[1][kShoulder]) / 2,
        (s.y[0][kHipPoint] + s.y[1][kHipPoint] - s.y[0][kShoulder] - s.y[1][kShoulder]) / 2,
        forward);
    out[index_of(Joint::kHip)] = wrapped(segment(kHipPoint, kKneePoint) - trunk);
  }
  if (thigh_seen && shank_seen) {
    out[index_of(Joint::kKnee)] =
        wrapped(segment(kHipPoint, kKneePoint) - segment(kKneePoint, kAnklePoint));
  }
  if (shank_seen && foot_seen) {
    // The foot points forward (90 degrees from down) at right angles to a vertical shank: 0.
    out[index_of(Joint::kAnkle)] =
        wrapped(segment(kHeelPoint, kToePoint) - segment(kKneePoint, kAnklePoint) - 90);
  }
  return out;
}

// Zero-phase low-pass over each run of known values; runs too short to filter (under 4
// frames, a ninth of a second at 30 fps) are isolated guesses and become null.
void smooth(std::vector<std::optional<double>>& series, std::size_t from, std::size_t to,
            double cutoff_hz, double fps) {
  std::size_t a = from;
  while (a < to) {
    if (!series[a]) {
      ++a;
      continue;
    }
    std::size_t b = a;
    Series run;
    while (b < to && series[b]) run.push_back(*series[b++]);
    if (run.size() < 4) {
      for (std::size_t i = a; i < b; ++i) series[i].reset();
    } else {
      const Series filtered = filtfilt(run, cutoff_hz, fps);
      for (std::size_t i = a; i < b; ++i) series[i] = filtered[i - a];
    }
    a = b;
  }
}

// One stride's curve at 0, 1, ..., 100 % of [t0, t1], by linear interpolation between the
// frames' times; null when a gap (the ends included) is longer than max_gap_s.
std::optional<std::array<double, kCycleSamples>> normalised(
    const std::vector<double>& times, const std::vector<std::optional<double>>& values,
    std::size_t first, std::size_t last, double t0, double t1, double max_gap_s) {
  std::vector<std::pair<double, double>> known;
  for (std::size_t i = first; i <= last && i < values.size(); ++i) {
    if (values[i]) known.emplace_back(times[i], *values[i]);
  }
  if (known.size() < 2 || !(t1 > t0)) return std::nullopt;
  if (known.front().first > t0 + max_gap_s || known.back().first < t1 - max_gap_s) {
    return std::nullopt;
  }
  for (std::size_t i = 1; i < known.size(); ++i) {
    if (known[i].first - known[i - 1].first > max_gap_s + 1e-9) return std::nullopt;
  }
  std::array<double, kCycleSamples> out{};
  std::size_t k = 0;
  for (int p = 0; p < kCycleSamples; ++p) {
    const double t = t0 + (t1 - t0) * p / (kCycleSamples - 1);
    while (k + 2 < known.size() && known[k + 1].first < t) ++k;
    const auto& [ta, va] = known[k];
    const auto& [tb, vb] = known[k + 1];
    // Within max_gap_s of the ends the nearest segment is extended.
    const double w = tb > ta ? (t - ta) / (tb - ta) : 0;
    out[static_cast<std::size_t>(p)] = va + (vb - va) * w;
  }
  return out;
}

using Curve = std::array<double, kCycleSamples>;

double max_over(const Curve& c, int from, int to) {
  return *std::max_element(c.begin() + from, c.begin() + to + 1);
}
double min_over(const Curve& c, int from, int to) {
  return *std::min_element(c.begin() + from, c.begin() + to + 1);
}

// The peaks of one stride, in the order of kPeakNames; those that need the toe-off are null
// without it.
std::vector<std::optional<double>> stride_peaks(const std::array<Curve, 3>& c,
                                                std::optional<int> toe_off_pct) {
  const Curve& hip = c[index_of(Joint::kHip)];
  const Curve& knee = c[index_of(Joint::kKnee)];
  const Curve& ankle = c[index_of(Joint::kAnkle)];
  constexpr int kEnd = kCycleSamples - 1;
  std::vector<std::optional<double>> out;
  out.emplace_back(max_over(hip, 0, kEnd));
  out.emplace_back(-min_over(hip, 0, kEnd));
  out.emplace_back(max_over(hip, 0, kEnd) - min_over(hip, 0, kEnd));
  if (toe_off_pct) {
    // Loading response's knee flexion peaks in the first half of stance (Perry: about 15 to 20
    // degrees at 12-15 % of the cycle); swing's peak (about 60) follows toe-off.
    out.emplace_back(max_over(knee, 0, *toe_off_pct / 2));
    out.emplace_back(max_over(knee, *toe_off_pct, kEnd));
  } else {
    out.emplace_back(std::nullopt);
    out.emplace_back(std::nullopt);
  }
  out.emplace_back(max_over(knee, 0, kEnd) - min_over(knee, 0, kEnd));
  if (toe_off_pct) {
    out.emplace_back(max_over(ankle, 0, *toe_off_pct));
  } else {
    out.emplace_back(std::nullopt);
  }
  out.emplace_back(-min_over(ankle, 0, kEnd));
  out.emplace_back(max_over(ankle, 0, kEnd) - min_over(ankle, 0, kEnd));
  return out;
}

SideKinematics summarise_side(const std::vector<std::array<Curve, 3>>& cycles,
                              const std::vector<std::vector<std::optional<double>>>& peaks,
                              int min_strides) {
  SideKinematics out;
  out.cycles = static_cast<int>(cycles.size());
  const int needed = std::max(min_strides, 2);
  if (out.cycles >= needed) {
    for (std::size_t j = 0; j < kJoints.size(); ++j) {
      Curve mean{}, sd{};
      for (std::size_t p = 0; p < kCycleSamples; ++p) {
        Series at;
        for (const auto& c : cycles) at.push_back(c[j][p]);
        const Spread s = mean_and_sd(at);
        mean[p] = s.mean;
        sd[p] = s.sd;
      }
      out.curves[j].mean = mean;
      out.curves[j].sd = sd;
    }
  }
  for (std::size_t k = 0; k < kPeakNames.size(); ++k) {
    Series values;
    for (const auto& stride : peaks) {
      if (stride[k]) values.push_back(*stride[k]);
    }
    PeakStat stat;
    stat.n = static_cast<int>(values.size());
    if (stat.n >= needed) {
      const Spread s = mean_and_sd(values);
      stat.mean = s.mean;
      stat.sd = s.sd;
    }
    out.peaks.push_back(stat);
  }
  return out;
}

}  // namespace

const std::vector<std::string> kPeakNames = {"hip_flexion_max",
                                             "hip_extension_max",
                                             "hip_rom",
                                             "knee_flexion_loading_max",
                                             "knee_flexion_swing_max",
                                             "knee_rom",
                                             "ankle_dorsiflexion_stance_max",
                                             "ankle_plantarflexion_max",
                                             "ankle_rom"};

const char* to_string(Joint joint) {
  switch (joint) {
    case Joint::kHip:
      return "hip";
    case Joint::kKnee:
      return "knee";
    case Joint::kAnkle:
      return "ankle";
  }
  return "";
}

KinematicsBuilder::KinematicsBuilder(KinematicsConfig config) : config_(config) {}

void KinematicsBuilder::add(const PoseFrame& frame) {
  Sample s;
  s.person = frame.person;
  if (frame.person) {
    for (int side = 0; side < 2; ++side) {
      for (int k = 0; k < 6; ++k) {
        const Landmark& p = frame.landmarks[static_cast<std::size_t>(points_of(side, k))];
        s.x[side][k] = p.x;
        s.y[side][k] = p.y;
        s.v[side][k] = p.visibility;
      }
    }
  }
  samples_.push_back(s);
  frames_.push_back(frame.frame_index);
  times_.push_back(frame.time_s);
}

GaitKinematics KinematicsBuilder::finish(const KeypointGait& gait, const GaitTable& table,
                                         double fps) const {
  GaitKinematics out;
  const std::size_t n = samples_.size();
  out.frames = frames_;
  out.times_s = times_;
  for (auto& side : out.angles) {
    for (auto& joint : side) joint.assign(n, std::nullopt);
  }
  for (auto& heel : out.heel_ahead) heel.assign(n, std::nullopt);

  // Sample index of a frame number (frames come in decode order).
  const auto sample_of = [&](std::int64_t frame) {
    return static_cast<std::size_t>(std::lower_bound(frames_.begin(), frames_.end(), frame) -
                                    frames_.begin());
  };
  for (const WalkingPass& pass : gait.passes) {
    // Sagittal angles need a side view; from the front or back they are foreshortened.
    if (pass.view != PassView::kSide) continue;
    const std::size_t a = sample_of(pass.first_frame);
    const std::size_t b = std::min(n, sample_of(pass.last_frame) + 1);
    // Forward is where the walker faces (the travel reversed when walking backward).
    const double travel = pass.direction == "left_to_right" ? 1 : -1;
    const double forward = pass.backward ? -travel : travel;
    for (std::size_t i = a; i < b; ++i) {
      const std::size_t t = i - a;
      const int left_ms = t < pass.model_side_of_left.size() ? pass.model_side_of_left[t] : 0;
      const Sample& s = samples_[i];
      const bool hips_seen = s.person && s.v[0][kHipPoint] >= config_.min_visibility &&
                             s.v[1][kHipPoint] >= config_.min_visibility;
      for (int named = 0; named < 2; ++named) {
        const int ms = named == 0 ? left_ms : 1 - left_ms;
        if (hips_seen && s.v[ms][kHeelPoint] >= config_.min_visibility && pass.body_height_px > 0) {
          const double mid_hip = (s.x[0][kHipPoint] + s.x[1][kHipPoint]) / 2;
          out.heel_ahead[static_cast<std::size_t>(named)][i] =
              (s.x[ms][kHeelPoint] - mid_hip) * travel / pass.body_height_px;
        }
      }
      for (int named = 0; named < 2; ++named) {
        const auto angles = leg_angles(samples_[i], named == 0 ? left_ms : 1 - left_ms, forward,
                                       config_.min_visibility);
        for (std::size_t j = 0; j < 3; ++j)
          out.angles[static_cast<std::size_t>(named)][j][i] = angles[j];
      }
    }
    for (auto& side : out.angles) {
      for (auto& joint : side) smooth(joint, a, b, config_.lowpass_hz, fps);
    }
    for (auto& heel : out.heel_ahead) smooth(heel, a, b, config_.lowpass_hz, fps);
  }
  for (std::size_t i = 0; i < n; ++i) {
    bool any = false;
    for (const auto& side : out.angles) {
      for (const auto& joint : side) any = any || joint[i].has_value();
    }
    if (any) ++out.frames_with_angles;
  }

  // Each stride of a side, normalised when all three of its joints are.
  for (int named = 0; named < 2; ++named) {
    const Foot foot = named == 0 ? Foot::kLeft : Foot::kRight;
    std::vector<std::array<Curve, 3>> cycles;
    std::vector<std::vector<std::optional<double>>> peaks;
    for (const Stride& stride : table.strides) {
      if (stride.foot != foot) continue;
      const std::size_t first = sample_of(stride.start_frame);
      const std::size_t last = std::min(n - 1, sample_of(stride.end_frame));
      const std::size_t from = first > 0 ? first - 1 : 0;
      const std::size_t to = std::min(n - 1, last + 1);
      const double t0 = stride.start_s;
      const double t1 = stride.start_s + stride.stride_time_s;
      std::array<Curve, 3> curves{};
      bool complete = true;
      for (std::size_t j = 0; j < 3 && complete; ++j) {
        const auto curve = normalised(times_, out.angles[static_cast<std::size_t>(named)][j], from,
                                      to, t0, t1, config_.max_gap_s);
        if (curve) {
          curves[j] = *curve;
        } else {
          complete = false;
        }
      }
      if (!complete) continue;
      std::optional<int> toe_off_pct;
      if (stride.stance_s && stride.stride_time_s > 0) {
        toe_off_pct = std::clamp(
            static_cast<int>(std::lround(100 * *stride.stance_s / stride.stride_time_s)), 1, 99);
      }
      cycles.push_back(curves);
      peaks.push_back(stride_peaks(curves, toe_off_pct));
    }
    (named == 0 ? out.left : out.right) = summarise_side(cycles, peaks, config_.min_strides);
  }
  return out;
}

nlohmann::ordered_json to_json(const GaitKinematics& k, const KinematicsConfig& config) {
  nlohmann::ordered_json j;
  j["method"] = "2d_sagittal";
  j["limits"] = kKinematicsLimits;
  nlohmann::ordered_json conventions;
  for (Joint joint : kJoints) {
    conventions[to_string(joint)] = std::string(kAngleConventions[index_of(joint)]);
  }
  j["conventions"] = conventions;
  j["units"] = "deg";
  j["lowpass_hz"] = config.lowpass_hz;
  const auto angle = [](std::optional<double> v) { return common::json_number(v, 10); };
  if (k.frames_with_angles == 0) {
    j["per_frame"] = nullptr;
  } else {
    nlohmann::ordered_json per_frame;
    per_frame["frame"] = k.frames;
    auto times = nlohmann::ordered_json::array();
    for (double t : k.times_s) times.push_back(common::json_number(t));
    per_frame["time_s"] = times;
    for (int named = 0; named < 2; ++named) {
      nlohmann::ordered_json side;
      for (Joint joint : kJoints) {
        auto values = nlohmann::ordered_json::array();
        for (const auto& v : k.angles[static_cast<std::size_t>(named)][index_of(joint)]) {
          values.push_back(angle(v));
        }
        side[to_string(joint)] = values;
      }
      per_frame[named == 0 ? "left" : "right"] = side;
    }
    j["per_frame"] = per_frame;
  }
  nlohmann::ordered_json cycles, peaks;
  for (const auto& [name, side] : {std::pair{"left", &k.left}, std::pair{"right", &k.right}}) {
    nlohmann::ordered_json c;
    c["n"] = side->cycles;
    for (Joint joint : kJoints) {
      const CycleCurve& curve = side->curves[index_of(joint)];
      const auto array = [&](const std::optional<Curve>& values) {
        if (!values) return nlohmann::ordered_json(nullptr);
        auto out = nlohmann::ordered_json::array();
        for (double v : *values) out.push_back(angle(v));
        return out;
      };
      c[to_string(joint)] = {{"mean", array(curve.mean)}, {"sd", array(curve.sd)}};
    }
    cycles[name] = c;
    nlohmann::ordered_json p;
    for (std::size_t i = 0; i < kPeakNames.size() && i < side->peaks.size(); ++i) {
      const PeakStat& s = side->peaks[i];
      p[kPeakNames[i]] = {{"mean", angle(s.mean)}, {"sd", angle(s.sd)}, {"n", s.n}};
    }
    peaks[name] = p;
  }
  j["cycles"] = cycles;
  j["peaks"] = peaks;
  return j;
}

}  // namespace dancer::analysis

// The spatio-temporal table of clinical gait analysis from the events of each foot: per stride
// its times and phases (seconds and % of the stride), step and stride length; per side the
// mean, SD and CV of each with the number of strides it rests on; cadence, walking speed and
// symmetry indices.
//
// A stride runs from a foot's initial contact (IC) to its next, within one pass, with exactly
// one contact of the other foot between and neither step over 1.5 times the pass's median step
// (a missed contact is never bridged, not even two in a row), and no foot leaving the ground
// twice within it (two toe-offs of one foot hide its missed contact). Its phases need
// the events in gait's order, IC, other foot's toe-off (TO), other foot's IC, own TO, next IC
// (Perry and Burnfield, Gait Analysis, 2nd ed., ch. 2): initial double support is IC to the
// other TO, single support the other foot's swing, terminal double support the other IC to own
// TO, stance IC to own TO, swing own TO to the next IC. A stride without them keeps its time
// and its phases are null.
//
// Lengths: step length is the landing heel's distance ahead of the other heel at IC (the
// step of the stride's closing contact); stride length is the sum of the stride's two steps.
// They are in body heights (the pass's stature in pixels: nose to heel in the image divided by
// 0.87, the fraction of stature between them; see gait_keypoints.h) and in metres when the
// subject's height is given (body heights × stature in metres).
#pragma once

#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "gait/gait_keypoints.h"
#include "gait/measures.h"

namespace dancer::analysis {

struct Stride {
  Foot foot = Foot::kLeft;
  std::size_t pass = 0;
  // The walk's phase it lies in: initiation or termination when any of its events does
  // (gait_keypoints.h, GaitPhase), else steady.
  GaitPhase phase = GaitPhase::kSteady;
  std::int64_t start_frame = 0;
  std::int64_t end_frame = 0;
  double start_s = 0;
  double stride_time_s = 0;
  std::optional<double> step_time_s;  // the other foot's IC to this stride's closing IC
  std::optional<double> stance_s;
  std::optional<double> swing_s;
  std::optional<double> single_support_s;
  std::optional<double> initial_double_support_s;
  std::optional<double> terminal_double_support_s;
  std::optional<double> double_support_s;  // initial + terminal
  std::optional<double> step_length_body_heights;
  std::optional<double> stride_length_body_heights;
  // Every measure of the table's catalogue, in its order, as the results contract gives it
  // before rounding: the fields above, the percentages of the stride and the lengths in metres
  // derived from them. What to_json and the writers read; a stored result read back
  // (gait_result.h from_json) fills it from the JSON, where the fields above are rounded.
  std::vector<std::optional<double>> measures;
};

// A per-side value: null (mean, sd, cv) when it rests on fewer than the minimum strides.
struct SideStat {
  std::optional<double> mean;
  std::optional<double> sd;  // sample SD (n - 1)
  std::optional<double> cv;  // 100 * sd / mean, %
  int n = 0;                 // strides it rests on
};

// Per side, each measure of the catalogue (gait/measures.h): times in s, percentages of the
// stride, lengths in body heights and in metres (the body-height statistics scaled by the
// subject's height, null without one; their n is the body heights').
struct SideSummary {
  std::vector<std::string> names;  // the measures' keys, in the catalogue's order
  std::vector<SideStat> stats;     // in the order of names
  const SideStat& at(std::string_view measure) const;  // throws std::out_of_range
};

struct GaitTable {
  std::span<const StrideMeasure> measures;  // the catalogue it was built with
  std::vector<Stride> strides;
  SideSummary left;
  SideSummary right;
  std::optional<double> cadence_steps_per_min;
  int cadence_steps = 0;
  std::string cadence_method;  // KeypointGait::cadence_method; empty (null) without a cadence
  // Which strides the per-side means rest on: "steady_strides" (the strides of gait initiation
  // and termination left out, as steady-state gait analysis requires) when each side has at
  // least the minimum of steady strides, else "all_strides" (warning
  // "start_stop_strides_in_means" when some of them are not steady).
  std::string means_over = "steady_strides";
  // The pelvis's travel over the passes' duration (each pass's speed weighted by its time);
  // null without a measured stride.
  std::optional<double> speed_body_heights_per_s;
  std::optional<double> speed_m_per_s;  // times the subject's height; null without one
  int speed_passes = 0;                 // the passes it rests on
  std::optional<double> subject_height_m;
  // Robinson, Herzog and Nigg 1987 (J Manipulative Physiol Ther 10:172), on the side means:
  // SI = 100 |L - R| / (0.5 (L + R)), %; 0 is symmetric. Null when either side's mean is null.
  std::optional<double> symmetry_step_time;
  std::optional<double> symmetry_swing;
  std::optional<double> symmetry_step_length;
  // "too_few_strides_left", "too_few_strides_right": some of the side's values rest on fewer
  // strides than the minimum and are null; "start_stop_strides_in_means" (see means_over).
  std::vector<std::string> warnings;
};

struct GaitTableConfig {
  int min_strides = kMinStridesForMean;
  // A step longer than this many times the pass's median step hides a missed contact.
  double max_step_of_typical = 1.5;
};

// `catalogue`: the measures to compute (normally the catalogue of gait/measures.h).
GaitTable build_gait_table(const KeypointGait& gait,
                           std::optional<double> subject_height_m = std::nullopt,
                           const GaitTableConfig& config = {},
                           std::span<const StrideMeasure> catalogue = stride_measures());

// The results contract's length_scaling: how lengths are scaled.
inline constexpr std::string_view kLengthScaling =
    "body height = nose-to-heel distance in the image / 0.87 (its fraction of stature); "
    "metres = body heights x subject height";

// The results contract's fields: {"strides": [...], "per_side": {"left": {measure: {mean, sd,
// cv, n}}, "right": ...}, "cadence_steps_per_min", "cadence_steps", "walking_speed":
// {"body_heights_per_s", "m_per_s", "passes"}, "symmetry": {"index": "robinson_1987",
// "step_time" | "swing_time" | "step_length": {"pct", "n_left", "n_right"}}, "length_scaling":
// "...", "subject_height_m", "warnings"}. Times in s, phases in % of the stride, lengths in body
// heights and metres (null without a subject height), numbers rounded below their accuracy.
nlohmann::ordered_json to_json(const GaitTable& table);

// The index of `key` in the table's catalogue (table.measures), or nullopt.
std::optional<std::size_t> measure_index(const GaitTable& table, std::string_view key);

// The table with the measures named in `keys` (the catalogue's keys, and "walking_speed") made
// null: the strides' values, the per-side statistics (n becomes 0: they rest on no stride), the
// symmetry indices built on them and the walking speed. What a failing recording-quality check
// withholds (gait/recording_quality.h withheld_measures).
GaitTable without_measures(GaitTable table, const std::set<std::string, std::less<>>& keys);

}  // namespace dancer::analysis

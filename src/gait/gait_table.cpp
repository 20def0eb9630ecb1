#include "gait/gait_table.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "common/json_number.h"
#include "gait/measures.h"
#include "gait/signal.h"

namespace dancer::analysis {
namespace {

SideStat stat_of(const std::vector<double>& values, int min_strides) {
  SideStat out;
  out.n = static_cast<int>(values.size());
  if (out.n < std::max(min_strides, 2)) return out;
  const Spread spread = mean_and_sd(values);
  out.mean = spread.mean;
  out.sd = spread.sd;
  if (spread.mean != 0) out.cv = 100 * spread.sd / std::abs(spread.mean);
  return out;
}

// The metres measure's body-height measure (StrideMeasure::metres_of) in the catalogue.
const StrideMeasure& scaled_measure(const StrideMeasure& m,
                                    std::span<const StrideMeasure> catalogue) {
  for (const StrideMeasure& b : catalogue) {
    if (b.key == m.metres_of && b.value != nullptr) return b;
  }
  throw std::logic_error("gait measure " + std::string(m.key) + " scales no measure");
}

std::optional<double> in_metres(std::optional<double> body_heights,
                                std::optional<double> subject_height_m) {
  if (!body_heights || !subject_height_m) return std::nullopt;
  return *body_heights * *subject_height_m;
}

// Each measure of the catalogue over one foot's strides: the measured ones from the strides'
// values, the metres ones scaled from the body heights (the CV only once there is a scale).
SideSummary summarise(const std::vector<Stride>& strides, Foot foot, bool steady_only,
                      int min_strides, std::span<const StrideMeasure> catalogue,
                      std::optional<double> subject_height_m) {
  SideSummary measured;
  for (const StrideMeasure& m : catalogue) {
    if (m.value == nullptr) continue;
    std::vector<double> values;
    for (const Stride& s : strides) {
      if (s.foot != foot || (steady_only && s.phase != GaitPhase::kSteady)) continue;
      if (const auto v = m.value(s)) values.push_back(*v);
    }
    measured.names.emplace_back(m.key);
    measured.stats.push_back(stat_of(values, min_strides));
  }
  SideSummary out;
  for (const StrideMeasure& m : catalogue) {
    out.names.emplace_back(m.key);
    if (m.value != nullptr) {
      out.stats.push_back(measured.at(m.key));
      continue;
    }
    const SideStat& st = measured.at(scaled_measure(m, catalogue).key);
    out.stats.push_back({in_metres(st.mean, subject_height_m), in_metres(st.sd, subject_height_m),
                         subject_height_m ? st.cv : std::nullopt, st.n});
  }
  return out;
}

// Robinson et al. 1987's symmetry index, %.
std::optional<double> symmetry(const SideStat& left, const SideStat& right) {
  if (!left.mean || !right.mean || *left.mean + *right.mean == 0) return std::nullopt;
  return 100 * std::abs(*left.mean - *right.mean) / (0.5 * (*left.mean + *right.mean));
}

nlohmann::ordered_json number(std::optional<double> v, double scale = 1000) {
  return common::json_number(v, scale);
}

}  // namespace

const SideStat& SideSummary::at(std::string_view measure) const {
  const auto it = std::find(names.begin(), names.end(), measure);
  if (it == names.end() || stats.size() != names.size()) {
    throw std::out_of_range("no gait measure " + std::string(measure));
  }
  return stats[static_cast<std::size_t>(it - names.begin())];
}

GaitTable build_gait_table(const KeypointGait& gait, std::optional<double> subject_height_m,
                           const GaitTableConfig& config,
                           std::span<const StrideMeasure> catalogue) {
  GaitTable out;
  out.subject_height_m = subject_height_m;
  const auto& ev = gait.events;  // in frame order
  // Each pass's typical step: the median interval between successive contacts. A step longer
  // than 1.5 times it hides a missed contact (two missed in a row keep the alternation), so
  // the stride holding it is not measured; gait_keypoints breaks its chains by the same rule.
  std::vector<double> typical_step(gait.passes.size(), 0);
  for (std::size_t p = 0; p < gait.passes.size(); ++p) {
    std::vector<double> intervals;
    const FootEvent* previous = nullptr;
    for (const FootEvent& e : ev) {
      if (e.pass != p || e.type != FootEventType::kInitialContact) continue;
      if (previous != nullptr) intervals.push_back(e.time_s - previous->time_s);
      previous = &e;
    }
    typical_step[p] = median(std::move(intervals));
  }
  for (std::size_t i = 0; i < ev.size(); ++i) {
    const FootEvent& start = ev[i];
    if (start.type != FootEventType::kInitialContact) continue;
    // The events up to this foot's next contact in the same pass.
    std::vector<const FootEvent*> other_ic, other_to, own_to;
    const FootEvent* end = nullptr;
    for (std::size_t k = i + 1; k < ev.size() && ev[k].pass == start.pass; ++k) {
      const FootEvent& e = ev[k];
      if (e.foot == start.foot && e.type == FootEventType::kInitialContact) {
        end = &e;
        break;
      }
      if (e.foot == start.foot) {
        own_to.push_back(&e);
      } else {
        (e.type == FootEventType::kInitialContact ? other_ic : other_to).push_back(&e);
      }
    }
    // Exactly one contact of the other foot between: none or two mean a missed contact. So
    // does a second toe-off of either foot (each foot alternates contact and toe-off; the
    // chains of gait_keypoints break at the same rule).
    if (end == nullptr || other_ic.size() != 1 || own_to.size() > 1 || other_to.size() > 1) {
      continue;
    }
    const FootEvent& mid = *other_ic.front();
    const double typical = start.pass < typical_step.size() ? typical_step[start.pass] : 0;
    const double longest_step = config.max_step_of_typical * typical;
    if (typical > 0 &&
        (mid.time_s - start.time_s > longest_step || end->time_s - mid.time_s > longest_step)) {
      continue;
    }
    Stride s;
    s.foot = start.foot;
    s.pass = start.pass;
    for (const FootEvent* e : {&start, &mid, end}) {
      if (e->phase != GaitPhase::kSteady) s.phase = e->phase;
    }
    for (const auto* toe_offs : {&other_to, &own_to}) {
      for (const FootEvent* e : *toe_offs) {
        if (e->phase != GaitPhase::kSteady) s.phase = e->phase;
      }
    }
    s.start_frame = start.frame;
    s.end_frame = end->frame;
    s.start_s = start.time_s;
    s.stride_time_s = end->time_s - start.time_s;
    s.step_time_s = end->time_s - mid.time_s;
    // Phases only with gait's order: IC, other TO, other IC, own TO, next IC; and only from a
    // side view: contacts timed from the front are within 4 frames but not 2 (about 0.1 s,
    // gait/frontal_events.h), several % of the stride, as large as the phases' differences.
    const bool side_view =
        start.pass < gait.passes.size() && gait.passes[start.pass].view == PassView::kSide;
    if (side_view && other_to.size() == 1 && own_to.size() == 1 &&
        other_to.front()->time_s < mid.time_s && own_to.front()->time_s > mid.time_s) {
      const double oto = other_to.front()->time_s;
      const double to = own_to.front()->time_s;
      s.stance_s = to - start.time_s;
      s.swing_s = end->time_s - to;
      s.initial_double_support_s = oto - start.time_s;
      s.single_support_s = mid.time_s - oto;
      s.terminal_double_support_s = to - mid.time_s;
      s.double_support_s = *s.initial_double_support_s + *s.terminal_double_support_s;
    }
    s.step_length_body_heights = end->step_length_body_heights;
    if (mid.step_length_body_heights && end->step_length_body_heights) {
      s.stride_length_body_heights = *mid.step_length_body_heights + *end->step_length_body_heights;
    }
    out.strides.push_back(s);
  }

  out.measures = catalogue;
  for (Stride& s : out.strides) {
    for (const StrideMeasure& m : catalogue) {
      s.measures.push_back(
          m.value != nullptr ? m.value(s)
                             : in_metres(scaled_measure(m, catalogue).value(s), subject_height_m));
    }
  }
  // Steady-state means: the strides of gait initiation and termination are left out when
  // enough steady ones remain on each side; a short walk from standing to standing may have
  // none, and its means then rest on every stride, with a warning.
  const auto steady_strides = [&](Foot foot) {
    return std::count_if(out.strides.begin(), out.strides.end(), [&](const Stride& s) {
      return s.foot == foot && s.phase == GaitPhase::kSteady;
    });
  };
  const bool steady_only = steady_strides(Foot::kLeft) >= config.min_strides &&
                           steady_strides(Foot::kRight) >= config.min_strides;
  out.means_over = steady_only ? "steady_strides" : "all_strides";
  if (!steady_only && std::any_of(out.strides.begin(), out.strides.end(),
                                  [](const Stride& s) { return s.phase != GaitPhase::kSteady; })) {
    out.warnings.emplace_back("start_stop_strides_in_means");
  }
  out.left = summarise(out.strides, Foot::kLeft, steady_only, config.min_strides, catalogue,
                       subject_height_m);
  out.right = summarise(out.strides, Foot::kRight, steady_only, config.min_strides, catalogue,
                        subject_height_m);
  for (const auto& [side, name] : {std::pair{&out.left, "too_few_strides_left"},
                                   std::pair{&out.right, "too_few_strides_right"}}) {
    // Any of the side's values null for lack of strides (a stride without its toe-offs counts
    // for its time but not its phases); each value's n says which.
    if (std::any_of(side->stats.begin(), side->stats.end(),
                    [&](const SideStat& st) { return st.n < config.min_strides; })) {
      out.warnings.emplace_back(name);
    }
  }

  out.cadence_steps_per_min = gait.cadence_steps_per_min;
  out.cadence_steps = gait.steps;
  out.cadence_method = gait.cadence_method;
  // Walking speed: the pelvis's travel over the passes' time (each pass's speed weighted by
  // its duration), in body heights per second.
  double travel = 0, duration = 0;
  int side_passes = 0;
  for (const WalkingPass& p : gait.passes) {
    // A pass seen from the front or back moves along the camera's axis, which one camera does
    // not measure (gait/frontal_events.h): no speed.
    if (p.view != PassView::kSide) continue;
    const double d = p.end_s - p.start_s;
    travel += p.speed_body_heights_per_s * d;
    duration += d;
    ++side_passes;
  }
  if (duration > 0 && !out.strides.empty()) {
    out.speed_body_heights_per_s = travel / duration;
    out.speed_m_per_s = in_metres(out.speed_body_heights_per_s, subject_height_m);
    out.speed_passes = side_passes;
  }

  out.symmetry_step_time = symmetry(out.left.at("step_time_s"), out.right.at("step_time_s"));
  out.symmetry_swing = symmetry(out.left.at("swing_s"), out.right.at("swing_s"));
  out.symmetry_step_length =
      symmetry(out.left.at("step_length_body_heights"), out.right.at("step_length_body_heights"));
  return out;
}

nlohmann::ordered_json to_json(const GaitTable& table) {
  nlohmann::ordered_json j;
  auto strides = nlohmann::ordered_json::array();
  for (const Stride& s : table.strides) {
    if (s.measures.size() != table.measures.size()) {
      throw std::logic_error("a stride's measures are not the table's catalogue");
    }
    nlohmann::ordered_json o;
    o["foot"] = to_string(s.foot);
    o["pass"] = s.pass;
    o["phase"] = to_string(s.phase);
    o["start_frame"] = s.start_frame;
    o["end_frame"] = s.end_frame;
    o["start_s"] = number(s.start_s);
    for (std::size_t i = 0; i < table.measures.size(); ++i) {
      o[std::string(table.measures[i].key)] = number(s.measures[i]);
    }
    strides.push_back(o);
  }
  j["strides"] = strides;
  nlohmann::ordered_json per_side;
  for (const auto& [name, side] : {std::pair{"left", &table.left}, {"right", &table.right}}) {
    nlohmann::ordered_json o;
    for (const StrideMeasure& m : table.measures) {
      const SideStat& st = side->at(m.key);
      o[std::string(m.key)] = {
          {"mean", number(st.mean)}, {"sd", number(st.sd)}, {"cv", number(st.cv, 10)}, {"n", st.n}};
    }
    per_side[name] = o;
  }
  j["per_side"] = per_side;
  j["cadence_steps_per_min"] = number(table.cadence_steps_per_min, 10);
  j["cadence_steps"] = table.cadence_steps;
  j["cadence_method"] = table.cadence_method.empty() ? nlohmann::ordered_json(nullptr)
                                                     : nlohmann::ordered_json(table.cadence_method);
  j["means_over"] = table.means_over;
  j["walking_speed"] = {{"body_heights_per_s", number(table.speed_body_heights_per_s)},
                        {"m_per_s", number(table.speed_m_per_s)},
                        {"passes", table.speed_passes}};
  // Each index with the strides its two means rest on.
  const auto index = [&](std::optional<double> value, const std::string& measure) {
    return nlohmann::ordered_json{{"pct", number(value, 10)},
                                  {"n_left", table.left.at(measure).n},
                                  {"n_right", table.right.at(measure).n}};
  };
  j["symmetry"] = {{"index", "robinson_1987"},
                   {"step_time", index(table.symmetry_step_time, "step_time_s")},
                   {"swing_time", index(table.symmetry_swing, "swing_s")},
                   {"step_length", index(table.symmetry_step_length, "step_length_body_heights")}};
  j["length_scaling"] = kLengthScaling;
  j["subject_height_m"] = number(table.subject_height_m);
  j["warnings"] = table.warnings;
  return j;
}

std::optional<std::size_t> measure_index(const GaitTable& table, std::string_view key) {
  for (std::size_t i = 0; i < table.measures.size(); ++i) {
    if (table.measures[i].key == key) return i;
  }
  return std::nullopt;
}

GaitTable without_measures(GaitTable table, const std::set<std::string, std::less<>>& keys) {
  if (keys.empty()) return table;
  for (std::size_t i = 0; i < table.measures.size(); ++i) {
    if (!keys.contains(table.measures[i].key)) continue;
    for (Stride& s : table.strides) {
      if (i < s.measures.size()) s.measures[i].reset();
    }
  }
  for (SideSummary* side : {&table.left, &table.right}) {
    for (std::size_t i = 0; i < side->names.size() && i < side->stats.size(); ++i) {
      if (keys.contains(side->names[i])) side->stats[i] = SideStat{};
    }
  }
  if (keys.contains("walking_speed")) {
    table.speed_body_heights_per_s.reset();
    table.speed_m_per_s.reset();
  }
  if (keys.contains("step_time_s")) table.symmetry_step_time.reset();
  if (keys.contains("swing_s")) table.symmetry_swing.reset();
  if (keys.contains("step_length_body_heights")) table.symmetry_step_length.reset();
  return table;
}

}  // namespace dancer::analysis

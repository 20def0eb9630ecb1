// Scoring of detected gait events against the hand-labelled development set
// (tests/data/gait_labels/events.csv): shared by bench/gait/pose_gait_accuracy (--dev-set) and
// the pose-gait accuracy test, so both count the same way.
//
// Each labelled event is matched to the nearest detected event of the same type (either foot).
// Error = detected frame - labelled frame. A label with no detected event of its type within
// kMissFrames is a miss; a detected event that is no label's match is an extra. The foot of a
// matched label is compared with the detected foot's name (both the subject's own side).
// Cadence from the labels: 120 / mean stride time over the labels' whole strides (a foot's
// contact to its next with exactly one contact of the other foot between, the contacts of one
// walking bout: a gap over 1.5 times the median step splits bouts).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace dancer::testing {

struct GaitLabel {
  std::string video;
  std::int64_t frame = 0;
  std::string foot;   // subject's own "left" / "right"
  std::string side;   // "near", "far", "na" (front view)
  std::string event;  // "initial_contact" / "toe_off"
  std::string context;
};

// The rows of events.csv (header: video,frame,time_s,foot,side_of_camera,event,context,...).
inline std::vector<GaitLabel> read_gait_labels(const std::filesystem::path& csv) {
  std::vector<GaitLabel> labels;
  std::ifstream in(csv);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::vector<std::string> cells;
    std::stringstream row(line);
    for (std::string cell; std::getline(row, cell, ',');) cells.push_back(cell);
    if (cells.size() < 7) continue;
    labels.push_back({cells[0], std::stoll(cells[1]), cells[3], cells[4], cells[5], cells[6]});
  }
  return labels;
}

inline constexpr std::int64_t kMissFrames = 4;
inline constexpr std::int64_t kIcWithin = 2;  // issue 18's tolerance for initial contacts
inline constexpr std::int64_t kToWithin = 3;  // and for toe-offs

struct TypeScore {
  int labels = 0;
  int within = 0;   // |error| <= kIcWithin (IC) or kToWithin (TO)
  int matched = 0;  // |error| <= kMissFrames
  double abs_sum = 0;
  double signed_sum = 0;
  int misses = 0;
  double mae() const { return matched ? abs_sum / matched : std::nan(""); }
  double bias() const { return matched ? signed_sum / matched : std::nan(""); }
  double within_pct() const { return labels ? 100.0 * within / labels : std::nan(""); }
  void add(const TypeScore& o) {
    labels += o.labels;
    within += o.within;
    matched += o.matched;
    abs_sum += o.abs_sum;
    signed_sum += o.signed_sum;
    misses += o.misses;
  }
};

struct MatchRow {
  GaitLabel label;
  std::optional<std::int64_t> detected_frame;  // nearest of the type, if any
  std::string detected_foot;
  std::int64_t error = 0;
  std::string detected_phase;  // events[].phase (results 1.8.0), empty before
};

struct ClipScore {
  TypeScore ic, to;
  int detected = 0;
  int extras = 0;           // detected events that are no label's match (within kMissFrames)
  int foot_mismatches = 0;  // matched labels whose detected foot has the other name
  int foot_compared = 0;
  std::optional<double> label_cadence;  // 120 / mean stride time of the labels
  int label_strides = 0;
  std::optional<double> detected_cadence;
  std::vector<MatchRow> rows;
  // The events' own confidence (results 1.7.0, events[].low_confidence): how many were marked
  // low, and how many of the marked and of the others were wrong (no label's match, or matched
  // beyond their type's tolerance). A useful mark holds a larger share of wrong events.
  int low_confidence = 0;
  int low_confidence_wrong = 0;
  int confident_wrong = 0;
  // The walk's phases (results 1.8.0, events[].phase) against the labels' context: a label of
  // gait initiation or termination should lie in that phase, every other (steady walking,
  // entering or leaving the picture while walking) in steady walking.
  int phase_compared = 0;
  int phase_agree = 0;
};

inline std::optional<double> label_cadence(const std::vector<GaitLabel>& labels, double fps,
                                           int* strides_out = nullptr) {
  std::vector<const GaitLabel*> ics;
  for (const GaitLabel& l : labels) {
    if (l.event == "initial_contact") ics.push_back(&l);
  }
  std::sort(ics.begin(), ics.end(),
            [](const GaitLabel* a, const GaitLabel* b) { return a->frame < b->frame; });
  std::vector<double> steps;
  for (std::size_t i = 1; i < ics.size(); ++i) {
    steps.push_back(static_cast<double>(ics[i]->frame - ics[i - 1]->frame));
  }
  if (steps.empty()) return std::nullopt;
  std::vector<double> sorted = steps;
  std::sort(sorted.begin(), sorted.end());
  const double typical = sorted[sorted.size() / 2];
  double sum = 0;
  int n = 0;
  for (std::size_t i = 2; i < ics.size(); ++i) {
    const bool whole = ics[i]->foot == ics[i - 2]->foot && ics[i - 1]->foot != ics[i]->foot &&
                       steps[i - 1] <= 1.5 * typical && steps[i - 2] <= 1.5 * typical;
    if (!whole) continue;
    sum += static_cast<double>(ics[i]->frame - ics[i - 2]->frame) / fps;
    ++n;
  }
  if (strides_out != nullptr) *strides_out = n;
  if (n == 0) return std::nullopt;
  return 120.0 / (sum / n);
}

// events: the results contract's event objects ({"foot","type","frame","time_s"}).
inline ClipScore score_clip(const std::vector<GaitLabel>& labels, const nlohmann::json& events,
                            double fps, std::optional<double> detected_cadence) {
  ClipScore out;
  out.detected = static_cast<int>(events.size());
  out.detected_cadence = detected_cadence;
  out.label_cadence = label_cadence(labels, fps, &out.label_strides);
  std::set<std::size_t> matched;
  std::map<std::size_t, std::int64_t> event_error;  // matched event -> its smallest |error|
  for (const GaitLabel& label : labels) {
    TypeScore& t = label.event == "initial_contact" ? out.ic : out.to;
    const std::int64_t tolerance = label.event == "initial_contact" ? kIcWithin : kToWithin;
    ++t.labels;
    std::optional<std::size_t> best;
    std::int64_t best_d = 0;
    for (std::size_t i = 0; i < events.size(); ++i) {
      if (events[i].at("type") != label.event) continue;
      const std::int64_t d = events[i].at("frame").get<std::int64_t>() - label.frame;
      if (!best || std::llabs(d) < std::llabs(best_d)) {
        best = i;
        best_d = d;
      }
    }
    MatchRow row{label, std::nullopt, "", 0, ""};
    if (best) {
      row.detected_frame = events[*best].at("frame").get<std::int64_t>();
      row.detected_foot = events[*best].at("foot").get<std::string>();
      row.error = best_d;
      row.detected_phase = events[*best].value("phase", "");
    }
    if (!best || std::llabs(best_d) > kMissFrames) {
      ++t.misses;
      out.rows.push_back(row);
      continue;
    }
    matched.insert(*best);
    // The event's closest label decides whether it was right (a label missed beyond
    // kMissFrames never judges it).
    const std::int64_t error = best_d < 0 ? -best_d : best_d;
    const auto [it, inserted] = event_error.emplace(*best, error);
    if (!inserted) it->second = std::min(it->second, error);
    ++t.matched;
    t.abs_sum += static_cast<double>(std::llabs(best_d));
    t.signed_sum += static_cast<double>(best_d);
    if (std::llabs(best_d) <= tolerance) ++t.within;
    ++out.foot_compared;
    if (row.detected_foot != label.foot) ++out.foot_mismatches;
    if (!row.detected_phase.empty()) {
      const bool start_or_stop = label.context == "initiation" || label.context == "termination";
      ++out.phase_compared;
      if (row.detected_phase == (start_or_stop ? label.context : std::string("steady"))) {
        ++out.phase_agree;
      }
    }
    out.rows.push_back(row);
  }
  out.extras = out.detected - static_cast<int>(matched.size());
  for (std::size_t i = 0; i < events.size(); ++i) {
    const bool low = events[i].contains("low_confidence") && events[i].at("low_confidence") == true;
    const auto judged = event_error.find(i);
    const bool ic = events[i].at("type") == "initial_contact";
    const bool wrong = judged == event_error.end() || judged->second > (ic ? kIcWithin : kToWithin);
    out.low_confidence += low ? 1 : 0;
    (low ? out.low_confidence_wrong : out.confident_wrong) += wrong ? 1 : 0;
  }
  return out;
}

}  // namespace dancer::testing

// The clinical report's Gait events section: each foot's stance and events over time, over
// the walking passes (written unrounded, as to_json(WalkingPass) writes their times).
#include "render/report_parts.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace dancer::analysis::report {

namespace {

struct Pass {
  double start_s = 0;
  double end_s = 0;
  std::string direction;
  bool backward = false;
};

std::vector<Pass> passes_of(const std::vector<WalkingPass>& passes) {
  std::vector<Pass> out;
  for (const WalkingPass& p : passes) {
    if (!std::isfinite(p.start_s) || !std::isfinite(p.end_s) || p.end_s < p.start_s) continue;
    out.push_back({p.start_s, p.end_s, p.direction, p.backward});
  }
  return out;
}

std::string pass_label(const Pass& p, std::size_t i) {
  std::string s = "Pass " + std::to_string(i + 1);
  if (p.direction == "left_to_right") s += " →";
  if (p.direction == "right_to_left") s += " ←";
  if (p.direction == "toward_camera") s += " (toward the camera)";
  if (p.direction == "away_from_camera") s += " (away from the camera)";
  if (p.backward) s += " (backward)";
  return s;
}

std::string hatch_defs() {
  return "<defs><pattern id=\"hatch-right\" width=\"5\" height=\"5\" "
         "patternUnits=\"userSpaceOnUse\" "
         "patternTransform=\"rotate(45)\"><rect width=\"5\" height=\"5\" fill=\"#fff\"/>"
         "<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"5\" stroke=\"" +
         std::string(kRightColour) + "\" stroke-width=\"2.2\"/></pattern></defs>";
}

// Names how many events rest on weak evidence, and what that means; nothing when none does.
std::string low_confidence_sentence(std::ptrdiff_t low, std::size_t total) {
  if (low <= 0) return "";
  return " <span data-low-confidence-events=\"" + std::to_string(low) + "\">" +
         std::to_string(low) + " of " + std::to_string(total) + (low == 1 ? " rests" : " rest") +
         " on weak evidence (ringed): the foot was hardly visible to the pose model, or its "
         "signal stood out less than half as far as the walker's usual one. Check "
         "these in the verification video before relying on the measures built on them.</span>";
}

}  // namespace

void timeline_section(std::string& out, const KeypointGait& gait, const Facts& facts) {
  const auto events = events_of(gait.events);
  const auto passes = passes_of(gait.passes);
  out += "<section id=\"timeline\"><h2>Gait events</h2>";
  if (events.empty()) {
    out += "<p>No foot events to show";
    if (!facts.no_strides_reason.empty()) out += ": " + facts.no_strides_reason;
    out += ".</p></section>";
    return;
  }
  double t0 = events.front().time_s;
  double t1 = events.back().time_s;
  for (const auto& p : passes) {
    t0 = std::min(t0, p.start_s);
    t1 = std::max(t1, p.end_s);
  }
  const double pad = std::max(0.05, (t1 - t0) * 0.02);
  constexpr double kW = 680;
  constexpr double kLabel = 58;
  const Axis ax{t0 - pad, t1 + pad, kLabel, kW - 10};
  const double row_y[2] = {44, 84};  // left, right: bar centres
  constexpr double kBarH = 16;
  constexpr double kAxisY = 104;
  const double height = 160;
  std::string s =
      "<svg class=\"plot\" data-figure=\"timeline\" width=\"" + svg_num(kW) + "\" height=\"" +
      svg_num(height) + "\" viewBox=\"0 0 " + svg_num(kW) + " " + svg_num(height) +
      "\" role=\"img\" aria-label=\"stance phases and foot events over time\">" + hatch_defs();
  for (std::size_t i = 0; i < passes.size(); ++i) {
    const double x0 = ax(passes[i].start_s);
    const double x1 = ax(passes[i].end_s);
    s += "<rect data-pass=\"" + std::to_string(i) + "\" x=\"" + svg_num(x0) +
         "\" y=\"18\" width=\"" + svg_num(x1 - x0) + "\" height=\"" + svg_num(kAxisY - 18) +
         "\" fill=\"#f1f1f1\" stroke=\"#bbb\" stroke-width=\"0.6\" stroke-dasharray=\"3 2\"/>";
    s += "<text x=\"" + svg_num(x0 + 3) + "\" y=\"14\" font-size=\"9\">" +
         pass_label(passes[i], i) + "</text>";
  }
  s += x_ticks(ax, 18, kAxisY, 10, "time (s)");
  const auto pass_end_after = [&](double t) {
    for (const auto& p : passes) {
      if (t >= p.start_s - 1e-6 && t <= p.end_s + 1e-6) return p.end_s;
    }
    return ax.hi;
  };
  const auto pass_start_before = [&](double t) {
    for (const auto& p : passes) {
      if (t >= p.start_s - 1e-6 && t <= p.end_s + 1e-6) return p.start_s;
    }
    return ax.lo;
  };
  for (int side = 0; side < 2; ++side) {
    const std::string foot = side == 0 ? "left" : "right";
    const double yc = row_y[side];
    const std::string fill = side == 0 ? kLeftColour : "url(#hatch-right)";
    const std::string stroke = side == 0 ? kLeftColour : kRightColour;
    s += "<text x=\"4\" y=\"" + svg_num(yc + 4) + "\" font-size=\"11\" font-weight=\"bold\">" +
         (side == 0 ? "Left" : "Right") + "</text>";
    const auto bar = [&](double a, double b, bool open) {
      s += "<rect class=\"stance\" data-foot=\"" + foot + "\" data-open=\"" +
           (open ? "true" : "false") + "\" x=\"" + svg_num(ax(a)) + "\" y=\"" +
           svg_num(yc - kBarH / 2) + "\" width=\"" + svg_num(std::max(1.0, ax(b) - ax(a))) +
           "\" height=\"" + svg_num(kBarH) + "\" fill=\"" + fill + "\" fill-opacity=\"" +
           (open ? "0.45" : "1") + "\" stroke=\"" + stroke + "\" stroke-width=\"1\"" +
           (open ? " stroke-dasharray=\"3 2\"" : "") + "/>";
    };
    std::optional<double> open_ic;
    for (const auto& e : events) {
      if (e.foot != foot) continue;
      if (e.type == "initial_contact") {
        // A second contact without a toe-off between: the toe-off was not found; the first
        // contact's stance is left undrawn rather than guessed.
        open_ic = e.time_s;
      } else if (open_ic) {
        bar(*open_ic, e.time_s, false);
        open_ic.reset();
      } else {
        bar(pass_start_before(e.time_s), e.time_s, true);
      }
    }
    if (open_ic) bar(*open_ic, pass_end_after(*open_ic), true);
    for (const auto& e : events) {
      if (e.foot != foot) continue;
      const double x = ax(e.time_s);
      const double y = e.type == "initial_contact" ? yc - kBarH / 2 - 5 : yc;
      s += event_group(
          e, e.type == "initial_contact" ? ic_marker(x, yc - kBarH / 2 - 1) : to_marker(x, yc), x,
          y);
    }
  }
  // Legend
  const double ly = 140;
  s += "<rect x=\"" + svg_num(kLabel) + "\" y=\"" + svg_num(ly - 8) +
       "\" width=\"18\" height=\"10\" fill=\"" + kLeftColour + "\"/>";
  s += "<text x=\"" + svg_num(kLabel + 22) + "\" y=\"" + svg_num(ly) +
       "\" font-size=\"9\">left stance</text>";
  s += "<rect x=\"" + svg_num(kLabel + 88) + "\" y=\"" + svg_num(ly - 8) +
       "\" width=\"18\" height=\"10\" fill=\"url(#hatch-right)\" stroke=\"" + kRightColour + "\"/>";
  s += "<text x=\"" + svg_num(kLabel + 110) + "\" y=\"" + svg_num(ly) +
       "\" font-size=\"9\">right stance</text>";
  s += ic_marker(kLabel + 190, ly + 1) + "<text x=\"" + svg_num(kLabel + 198) + "\" y=\"" +
       svg_num(ly) + "\" font-size=\"9\">initial contact</text>";
  s += to_marker(kLabel + 280, ly - 3) + "<text x=\"" + svg_num(kLabel + 288) + "\" y=\"" +
       svg_num(ly) + "\" font-size=\"9\">toe-off</text>";
  const auto low =
      std::count_if(events.begin(), events.end(), [](const Event& e) { return e.low_confidence; });
  if (low > 0) {
    s += low_confidence_ring(kLabel + 534, ly - 3) + "<text x=\"" + svg_num(kLabel + 545) +
         "\" y=\"" + svg_num(ly) + "\" font-size=\"9\">low confidence</text>";
  }
  s += "<rect x=\"" + svg_num(kLabel + 340) + "\" y=\"" + svg_num(ly - 8) +
       "\" width=\"18\" height=\"10\" fill=\"#888\" fill-opacity=\"0.45\" stroke=\"#333\" "
       "stroke-dasharray=\"3 2\"/><text x=\"" +
       svg_num(kLabel + 362) + "\" y=\"" + svg_num(ly) +
       "\" font-size=\"9\">stance continuing beyond the pass</text>";
  s += "</svg>";
  out += "<figure>" + s +
         "<figcaption>Each foot's stance (initial contact to toe-off) over time; the gaps are "
         "swing. Grey boxes are the walking passes analysed. " +
         std::to_string(events.size()) + " events." + low_confidence_sentence(low, events.size()) +
         "</figcaption></figure></section>";
}

}  // namespace dancer::analysis::report

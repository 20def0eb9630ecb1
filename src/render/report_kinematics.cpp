// The clinical report's joint-angle section: hip, knee and ankle over the gait cycle (mean ±
// SD of each side), the peak angles and the angle definitions, from the typed angles rounded as
// to_json(GaitKinematics) writes them (0.1 degree).
#include "render/report_parts.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dancer::analysis::report {

namespace {

// One side's 101-sample curve as written (to 0.1 degree), or nothing when unset or a sample is
// not finite (null in the JSON).
std::optional<std::vector<double>> curve(
    const std::optional<std::array<double, kCycleSamples>>& v) {
  if (!v) return std::nullopt;
  std::vector<double> out;
  out.reserve(v->size());
  for (const double x : *v) {
    const auto d = as_written(x, 10);
    if (!d) return std::nullopt;
    out.push_back(*d);
  }
  return out;
}

struct SideCurve {
  std::optional<std::vector<double>> mean;
  std::optional<std::vector<double>> sd;
  int n = 0;
};

// A side's statistics of the peak named `key` (kPeakNames), or null when it has none.
const PeakStat* peak_of(const SideKinematics& side, std::string_view key) {
  for (std::size_t i = 0; i < kPeakNames.size() && i < side.peaks.size(); ++i) {
    if (kPeakNames[i] == key) return &side.peaks[i];
  }
  return nullptr;
}

SideCurve side_curve(const SideKinematics& side, Joint joint) {
  const CycleCurve& c = side.curves[static_cast<std::size_t>(joint)];
  return {curve(c.mean), curve(c.sd), side.cycles};
}

std::string angle_panel(double x0, double width, const char* joint, const char* title,
                        const SideCurve& left, const SideCurve& right,
                        std::optional<double> to_left, std::optional<double> to_right) {
  constexpr double kTop = 22;
  constexpr double kBottom = 176;
  const double left_px = x0 + 32;
  const double right_px = x0 + width - 14;
  double lo = std::numeric_limits<double>::infinity();
  double hi = -lo;
  for (const SideCurve* c : {&left, &right}) {
    if (!c->mean) continue;
    for (std::size_t i = 0; i < c->mean->size(); ++i) {
      const double sd = c->sd ? (*c->sd)[i] : 0;
      lo = std::min(lo, (*c->mean)[i] - sd);
      hi = std::max(hi, (*c->mean)[i] + sd);
    }
  }
  lo = std::floor(lo / 10) * 10;
  hi = std::ceil(hi / 10) * 10;
  if (hi - lo < 20) hi = lo + 20;
  const Axis ax{0, 100, left_px, right_px};
  const Axis ay{lo, hi, kBottom, kTop};
  std::string s = "<g data-panel=\"" + std::string(joint) + "\">";
  s += "<text x=\"" + svg_num(left_px) + "\" y=\"14\" font-size=\"11\" font-weight=\"bold\">" +
       title + "</text>";
  s += y_ticks(ay, left_px, right_px, 5);
  s += x_ticks(ax, kTop, kBottom, 5, "% of gait cycle");
  s += "<rect x=\"" + svg_num(left_px) + "\" y=\"" + svg_num(kTop) + "\" width=\"" +
       svg_num(right_px - left_px) + "\" height=\"" + svg_num(kBottom - kTop) +
       "\" fill=\"none\" stroke=\"#333\" stroke-width=\"0.8\"/>";
  const auto to_line = [&](std::optional<double> pct, const char* label, double dy) {
    if (!pct) return;
    const double x = ax(*pct);
    s += "<line x1=\"" + svg_num(x) + "\" y1=\"" + svg_num(kTop) + "\" x2=\"" + svg_num(x) +
         "\" y2=\"" + svg_num(kBottom) +
         "\" stroke=\"#000\" stroke-width=\"0.8\" "
         "stroke-dasharray=\"1 2\"/><text x=\"" +
         svg_num(x + 2) + "\" y=\"" + svg_num(kTop + 10 + dy) + "\" font-size=\"8\">" + label +
         "</text>";
  };
  to_line(to_left, "TO L", 0);
  to_line(to_right, "TO R", 10);
  for (int side = 0; side < 2; ++side) {
    const SideCurve& c = side == 0 ? left : right;
    if (!c.mean) continue;
    const char* colour = side == 0 ? kLeftColour : kRightColour;
    const std::size_t n = c.mean->size();
    const auto xi = [&](std::size_t i) { return ax(100.0 * static_cast<double>(i) / (n - 1)); };
    if (c.sd) {
      std::string band = "M";
      for (std::size_t i = 0; i < n; ++i) {
        band += (i ? " L" : "") + svg_num(xi(i)) + "," + svg_num(ay((*c.mean)[i] + (*c.sd)[i]));
      }
      for (std::size_t i = n; i-- > 0;) {
        band += " L" + svg_num(xi(i)) + "," + svg_num(ay((*c.mean)[i] - (*c.sd)[i]));
      }
      s += "<path data-band=\"" + std::string(side == 0 ? "left." : "right.") + joint + "\" d=\"" +
           band + " Z\" fill=\"" + colour + "\" fill-opacity=\"" + (side == 0 ? "0.22" : "0.16") +
           "\" stroke=\"none\"/>";
    }
    std::string line = "M";
    for (std::size_t i = 0; i < n; ++i) {
      line += (i ? " L" : "") + svg_num(xi(i)) + "," + svg_num(ay((*c.mean)[i]));
    }
    s += "<path data-curve=\"" + std::string(side == 0 ? "left." : "right.") + joint +
         ".mean\" data-n=\"" + std::to_string(c.n) + "\" d=\"" + line +
         "\" fill=\"none\" stroke=\"" + colour + "\" stroke-width=\"1.8\"" +
         (side == 1 ? std::string(" stroke-dasharray=\"") + kRightDash + "\"" : "") + "/>";
  }
  if (!left.mean && !right.mean) {
    s += "<text x=\"" + svg_num((left_px + right_px) / 2) + "\" y=\"" +
         svg_num((kTop + kBottom) / 2) +
         "\" font-size=\"10\" text-anchor=\"middle\">not enough strides</text>";
  }
  return s + "</g>";
}

}  // namespace

void kinematics_section(std::string& out, const GaitKinematics& angles, const GaitTable& table,
                        const Facts& facts) {
  out += "<section id=\"kinematics\"><h2>Joint angles over the gait cycle</h2>";
  struct JointShown {
    Joint joint;
    const char* key;
    const char* title;
  };
  constexpr std::array<JointShown, 3> kJointsShown{
      {{Joint::kHip, "hip", "Hip (+ flexion)"},
       {Joint::kKnee, "knee", "Knee (+ flexion)"},
       {Joint::kAnkle, "ankle", "Ankle (+ dorsiflexion)"}}};
  bool any = false;
  std::array<SideCurve, 3> lefts;
  std::array<SideCurve, 3> rights;
  for (std::size_t j = 0; j < kJointsShown.size(); ++j) {
    lefts[j] = side_curve(angles.left, kJointsShown[j].joint);
    rights[j] = side_curve(angles.right, kJointsShown[j].joint);
    any = any || lefts[j].mean || rights[j].mean;
  }
  const int nl = lefts[0].n;
  const int nr = rights[0].n;
  const auto side_status = [&](const char* side, int n, bool has) {
    return std::string(side) + ": " +
           (has ? std::to_string(n) + (n == 1 ? " stride" : " strides")
                : "not enough strides (" + std::to_string(n) + "; " + std::to_string(kMinStrides) +
                      " needed)");
  };
  bool left_has = false;
  bool right_has = false;
  for (std::size_t j = 0; j < 3; ++j) {
    left_has = left_has || lefts[j].mean.has_value();
    right_has = right_has || rights[j].mean.has_value();
  }
  if (!any) {
    out += "<p data-kinematics=\"none\">No joint-angle curves: ";
    out += !facts.no_strides_reason.empty() && nl == 0 && nr == 0
               ? facts.no_strides_reason
               : "not enough strides (" + side_status("left", nl, false) + "; " +
                     side_status("right", nr, false) + ")";
    out += ".</p>";
  } else {
    // Each side's mean toe-off: per_side.<side>.stance_pct.mean.
    const auto stance = [&](const SideSummary& side) -> std::optional<double> {
      const SideStat* stat = side_stat(side, "stance_pct");
      return stat ? as_written(stat->mean) : std::nullopt;
    };
    constexpr double kW = 690;
    constexpr double kPanel = 230;
    constexpr double kH = 236;
    std::string s = "<svg class=\"plot\" data-figure=\"kinematics\" width=\"" + svg_num(kW) +
                    "\" height=\"" + svg_num(kH) + "\" viewBox=\"0 0 " + svg_num(kW) + " " +
                    svg_num(kH) +
                    "\" role=\"img\" aria-label=\"hip, knee and ankle angles over the gait "
                    "cycle, mean and SD per side\">";
    for (std::size_t j = 0; j < kJointsShown.size(); ++j) {
      s += angle_panel(static_cast<double>(j) * kPanel, kPanel, kJointsShown[j].key,
                       kJointsShown[j].title, lefts[j], rights[j], stance(table.left),
                       stance(table.right));
    }
    const double ly = 224;
    s += "<line x1=\"40\" y1=\"" + svg_num(ly - 3) + "\" x2=\"64\" y2=\"" + svg_num(ly - 3) +
         "\" stroke=\"" + kLeftColour + "\" stroke-width=\"1.8\"/>";
    s += "<text x=\"68\" y=\"" + svg_num(ly) + "\" font-size=\"9\">" +
         side_status("Left", nl, left_has) + "</text>";
    s += "<line x1=\"330\" y1=\"" + svg_num(ly - 3) + "\" x2=\"354\" y2=\"" + svg_num(ly - 3) +
         "\" stroke=\"" + kRightColour + "\" stroke-width=\"1.8\" stroke-dasharray=\"" +
         kRightDash + "\"/>";
    s += "<text x=\"358\" y=\"" + svg_num(ly) + "\" font-size=\"9\">" +
         side_status("Right (dashed)", nr, right_has) + "</text>";
    s += "</svg>";
    out += "<figure>" + s +
           "<figcaption>Mean (line) ± 1 SD (shaded) of each side's strides, from initial contact "
           "(0 %) to the next of the same foot (100 %). Left: solid line; right: dashed line. "
           "TO: mean toe-off of the side, where known. 2D angles in the image plane; no normal "
           "curves are drawn because published curves come from 3D motion capture with other "
           "angle definitions.</figcaption></figure>";
  }
  // Peaks
  if (any) {
    constexpr std::array<std::pair<const char*, const char*>, 9> kPeaks{{
        {"hip_flexion_max", "Hip flexion, maximum"},
        {"hip_extension_max", "Hip extension, maximum"},
        {"hip_rom", "Hip range of motion"},
        {"knee_flexion_loading_max", "Knee flexion in loading, maximum"},
        {"knee_flexion_swing_max", "Knee flexion in swing, maximum"},
        {"knee_rom", "Knee range of motion"},
        {"ankle_dorsiflexion_stance_max", "Ankle dorsiflexion in stance, maximum"},
        {"ankle_plantarflexion_max", "Ankle plantarflexion, maximum"},
        {"ankle_rom", "Ankle range of motion"},
    }};
    out +=
        "<h3>Peak angles (degrees)</h3><table class=\"compact\"><thead><tr><th>Angle</th>"
        "<th class=\"num\">Left mean ± SD</th><th class=\"num\">n</th>"
        "<th class=\"num\">Right mean ± SD</th><th class=\"num\">n</th></tr></thead><tbody>";
    for (const auto& [key, label] : kPeaks) {
      out += "<tr><th scope=\"row\">" + std::string(label) + "</th>";
      for (const auto& [side, kin] : {std::pair{"left", &angles.left}, {"right", &angles.right}}) {
        const PeakStat* p = peak_of(*kin, key);
        const std::string base = std::string("kinematics.peaks.") + side + "." + key;
        const auto mean = p ? as_written(p->mean, 10) : std::nullopt;
        const auto sd = p ? as_written(p->sd, 10) : std::nullopt;
        const int strides = p ? p->n : 0;
        out += "<td class=\"num\">";
        if (mean) {
          out += metric_span(base + ".mean", raw_value(mean), fixed(*mean, 1)) + " ± " +
                 (sd ? metric_span(base + ".sd", raw_value(sd), fixed(*sd, 1))
                     : null_span(base + ".sd", ""));
        } else {
          out += null_span(base + ".mean", few_strides_reason(strides));
        }
        out += "</td><td class=\"num\">" +
               (p ? metric_span(base + ".n", raw_count(strides), std::to_string(strides))
                  : std::string("—")) +
               "</td>";
      }
      out += "</tr>";
    }
    out += "</tbody></table>";
    out += "<p class=\"note\">Angle definitions: ";
    for (std::size_t j = 0; j < kJoints.size(); ++j) {
      out += (j == 0 ? "" : "; ") + std::string(to_string(kJoints[j])) + ": " +
             esc(kAngleConventions[j]);
    }
    out += ".</p>";
  }
  out += "</section>";
}

}  // namespace dancer::analysis::report

// The clinical report's Keypoint signals section: each heel ahead of the pelvis over time,
// with the events found in it.
#include "render/report_parts.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace dancer::analysis::report {

void signals_section(std::string& out, const std::vector<FootEvent>& gait_events,
                     const Facts& facts, const ReportSignals& signals) {
  const std::size_t n = signals.time_s.size();
  bool any = false;
  double ylo = std::numeric_limits<double>::infinity();
  double yhi = -ylo;
  double tlo = ylo;
  double thi = -ylo;
  for (const auto& series : signals.heel_ahead) {
    for (std::size_t i = 0; i < std::min(n, series.size()); ++i) {
      if (!std::isfinite(series[i]) || !std::isfinite(signals.time_s[i])) continue;
      any = true;
      ylo = std::min(ylo, series[i]);
      yhi = std::max(yhi, series[i]);
      tlo = std::min(tlo, signals.time_s[i]);
      thi = std::max(thi, signals.time_s[i]);
    }
  }
  out += "<section id=\"signals\"><h2>Keypoint signals</h2>";
  if (!any) {
    out += "<p data-signals=\"none\">No keypoint signal to show: ";
    if (!facts.no_strides_reason.empty()) {
      out += facts.no_strides_reason;
    } else if (n == 0) {
      out += "the signals were not supplied with this report";
    } else {
      out += "the feet were not tracked in any walking pass";
    }
    out += ".</p></section>";
    return;
  }
  const auto events = events_of(gait_events);
  for (const auto& e : events) {
    tlo = std::min(tlo, e.time_s);
    thi = std::max(thi, e.time_s);
  }
  const double tpad = std::max(0.05, (thi - tlo) * 0.02);
  const double ypad = std::max(0.02, (yhi - ylo) * 0.12);
  constexpr double kW = 680;
  constexpr double kTop = 12;
  constexpr double kBottom = 190;
  const Axis ax{tlo - tpad, thi + tpad, 46, kW - 10};
  const Axis ay{ylo - ypad, yhi + ypad, kBottom, kTop};
  std::string s = "<svg class=\"plot\" data-figure=\"signals\" width=\"" + svg_num(kW) +
                  "\" height=\"238\" viewBox=\"0 0 " + svg_num(kW) +
                  " 238\" role=\"img\" aria-label=\"heel ahead of the pelvis per foot over time, "
                  "with the detected events\">";
  s += y_ticks(ay, ax.px0, ax.px1, 5);
  s += x_ticks(ax, kTop, kBottom, 10, "time (s)");
  s += "<rect x=\"" + svg_num(ax.px0) + "\" y=\"" + svg_num(kTop) + "\" width=\"" +
       svg_num(ax.px1 - ax.px0) + "\" height=\"" + svg_num(kBottom - kTop) +
       "\" fill=\"none\" stroke=\"#333\" stroke-width=\"0.8\"/>";
  s += "<text x=\"8\" y=\"" + svg_num((kTop + kBottom) / 2) +
       "\" font-size=\"9\" text-anchor=\"middle\" transform=\"rotate(-90 8 " +
       svg_num((kTop + kBottom) / 2) + ")\">heel ahead of pelvis (body heights)</text>";
  const auto value_at = [&](int side, double t) -> std::optional<double> {
    const auto& y = signals.heel_ahead[static_cast<std::size_t>(side)];
    const std::size_t m = std::min(n, y.size());
    for (std::size_t i = 1; i < m; ++i) {
      const double a = signals.time_s[i - 1];
      const double b = signals.time_s[i];
      if (t < a || t > b) continue;
      if (!std::isfinite(y[i - 1]) || !std::isfinite(y[i])) {
        return std::isfinite(y[i])       ? std::optional<double>(y[i])
               : std::isfinite(y[i - 1]) ? std::optional<double>(y[i - 1])
                                         : std::nullopt;
      }
      const double w = b > a ? (t - a) / (b - a) : 0;
      return y[i - 1] + w * (y[i] - y[i - 1]);
    }
    return std::nullopt;
  };
  for (int side = 0; side < 2; ++side) {
    const auto& y = signals.heel_ahead[static_cast<std::size_t>(side)];
    const std::size_t m = std::min(n, y.size());
    std::string d;
    bool pen = false;
    for (std::size_t i = 0; i < m; ++i) {
      if (!std::isfinite(y[i]) || !std::isfinite(signals.time_s[i])) {
        pen = false;
        continue;
      }
      d += (pen ? " L" : " M") + svg_num(ax(signals.time_s[i])) + "," + svg_num(ay(y[i]));
      pen = true;
    }
    if (d.empty()) continue;
    s += "<path data-signal=\"" + std::string(side == 0 ? "left" : "right") + "\" d=\"" + d +
         "\" fill=\"none\" stroke=\"" + (side == 0 ? kLeftColour : kRightColour) +
         "\" stroke-width=\"1.5\"" +
         (side == 1 ? std::string(" stroke-dasharray=\"") + kRightDash + "\"" : "") + "/>";
  }
  for (const auto& e : events) {
    const int side = e.foot == "left" ? 0 : 1;
    const auto v = value_at(side, e.time_s);
    const double x = ax(e.time_s);
    const double yv = v ? ay(*v) : kTop + 6;
    const double ring_y = e.type == "initial_contact" ? yv - 6 : yv;
    s += event_group(e, e.type == "initial_contact" ? ic_marker(x, yv - 2) : to_marker(x, yv), x,
                     ring_y);
  }
  const double ly = 230;
  s += "<line x1=\"46\" y1=\"" + svg_num(ly - 3) + "\" x2=\"70\" y2=\"" + svg_num(ly - 3) +
       "\" stroke=\"" + kLeftColour + "\" stroke-width=\"1.5\"/><text x=\"74\" y=\"" + svg_num(ly) +
       "\" font-size=\"9\">left heel</text>";
  s += "<line x1=\"150\" y1=\"" + svg_num(ly - 3) + "\" x2=\"174\" y2=\"" + svg_num(ly - 3) +
       "\" stroke=\"" + kRightColour + "\" stroke-width=\"1.5\" stroke-dasharray=\"" + kRightDash +
       "\"/><text x=\"178\" y=\"" + svg_num(ly) + "\" font-size=\"9\">right heel (dashed)</text>";
  s += ic_marker(300, ly + 1) + "<text x=\"308\" y=\"" + svg_num(ly) +
       "\" font-size=\"9\">initial contact</text>";
  s += to_marker(400, ly - 3) + "<text x=\"408\" y=\"" + svg_num(ly) +
       "\" font-size=\"9\">toe-off</text>";
  s += "</svg>";
  out += "<figure>" + s +
         "<figcaption>How far each heel is ahead of the pelvis along the walking "
         "direction, after the 6 Hz low-pass. Initial contact is the heel's largest reach ahead "
         "(Zeni et al. " +
         cite("zeni2008") +
         "); toe-off is timed from the toe's largest reach behind, so it lies near, not at, the "
         "heel's lowest point.</figcaption></figure></section>";
}

}  // namespace dancer::analysis::report

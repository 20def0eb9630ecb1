// Axes of the clinical report's plots: tick steps, and the ticks, grid lines and labels of a
// horizontal or vertical axis.
#include "render/report_parts.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace dancer::analysis::report {

namespace {

double nice_step(double span, int target) {
  const double raw = span / std::max(1, target);
  const double p = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    if (m * p >= raw) return m * p;
  }
  return 10 * p;
}

int decimals_for(double step) {
  if (step >= 1) return 0;
  return static_cast<int>(std::ceil(-std::log10(step) - 1e-9));
}

}  // namespace

// Ticks and labels of a horizontal axis at y.
std::string x_ticks(const Axis& ax, double y_top, double y, int target, const std::string& unit) {
  std::string s;
  const double step = nice_step(ax.hi - ax.lo, target);
  const int dec = decimals_for(step);
  for (double t = std::ceil(ax.lo / step) * step; t <= ax.hi + 1e-9; t += step) {
    const double x = ax(t);
    s += "<line x1=\"" + svg_num(x) + "\" y1=\"" + svg_num(y_top) + "\" x2=\"" + svg_num(x) +
         "\" y2=\"" + svg_num(y) + "\" stroke=\"#e0e0e0\" stroke-width=\"0.6\"/>";
    s += "<line x1=\"" + svg_num(x) + "\" y1=\"" + svg_num(y) + "\" x2=\"" + svg_num(x) +
         "\" y2=\"" + svg_num(y + 4) + "\" stroke=\"#333\" stroke-width=\"0.8\"/>";
    s += "<text x=\"" + svg_num(x) + "\" y=\"" + svg_num(y + 14) +
         "\" font-size=\"10\" text-anchor=\"middle\">" + fixed(t, dec) + "</text>";
  }
  if (!unit.empty()) {
    s += "<text x=\"" + svg_num(ax.px1) + "\" y=\"" + svg_num(y + 26) +
         "\" font-size=\"9\" text-anchor=\"end\">" + unit + "</text>";
  }
  return s;
}

std::string y_ticks(const Axis& ay, double x_left, double x_right, int target) {
  std::string s;
  const double step = nice_step(ay.hi - ay.lo, target);
  const int dec = decimals_for(step);
  for (double t = std::ceil(ay.lo / step - 1e-9) * step; t <= ay.hi + 1e-9; t += step) {
    const double y = ay(t);
    const bool zero = std::abs(t) < step * 1e-6;
    s += "<line x1=\"" + svg_num(x_left) + "\" y1=\"" + svg_num(y) + "\" x2=\"" + svg_num(x_right) +
         "\" y2=\"" + svg_num(y) + "\" stroke=\"" + (zero ? "#777" : "#e0e0e0") +
         "\" stroke-width=\"" + (zero ? "0.8" : "0.6") + "\"/>";
    s += "<text x=\"" + svg_num(x_left - 3) + "\" y=\"" + svg_num(y + 3) +
         "\" font-size=\"10\" text-anchor=\"end\">" + fixed(t, dec) + "</text>";
  }
  return s;
}

}  // namespace dancer::analysis::report

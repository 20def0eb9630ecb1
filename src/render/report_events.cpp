// Foot events as the clinical report's plots draw them (Gait events, Keypoint signals): the
// gait's events as written, with their markers (initial contact, toe-off, low-confidence ring).
#include "render/report_parts.h"

#include <algorithm>
#include <string>
#include <vector>

namespace dancer::analysis::report {

std::vector<Event> events_of(const std::vector<FootEvent>& events) {
  std::vector<Event> out;
  for (const FootEvent& e : events) {
    // Rounded as to_json(FootEvent) writes them: ms, hundredths, thousandths of a body height.
    const auto t = as_written(e.time_s);
    if (!t) continue;
    out.push_back({to_string(e.foot), to_string(e.type), *t, e.frame, as_written(e.visibility, 100),
                   as_written(e.prominence_body_heights), e.low_confidence});
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const Event& a, const Event& b) { return a.time_s < b.time_s; });
  return out;
}

std::string ic_marker(double x, double y) {
  return "<path d=\"M" + svg_num(x - 4.5) + "," + svg_num(y - 8) + " L" + svg_num(x + 4.5) + "," +
         svg_num(y - 8) + " L" + svg_num(x) + "," + svg_num(y) +
         " Z\" fill=\"#000\" stroke=\"#fff\" stroke-width=\"0.6\"/>";
}

std::string to_marker(double x, double y) {
  return "<circle cx=\"" + svg_num(x) + "\" cy=\"" + svg_num(y) +
         "\" r=\"3.6\" fill=\"#fff\" stroke=\"#000\" stroke-width=\"1.4\"/>";
}

// An event of low confidence: a dashed ring around its marker.
std::string low_confidence_ring(double x, double y) {
  return "<circle class=\"low-confidence\" cx=\"" + svg_num(x) + "\" cy=\"" + svg_num(y) +
         "\" r=\"7.5\" fill=\"none\" stroke=\"#c00\" stroke-width=\"1.2\" "
         "stroke-dasharray=\"2 1.5\"/>";
}

std::string event_group(const Event& e, const std::string& shape, double x, double y) {
  const char* what = e.type == "initial_contact" ? "initial contact" : "toe-off";
  std::string title = e.foot + " " + what + ", " + fixed(e.time_s, 3) + " s (frame " +
                      std::to_string(e.frame) + ")";
  if (e.low_confidence) {
    title += "; low confidence";
    if (e.visibility) title += ", foot visibility " + fixed(*e.visibility, 2);
    if (e.prominence) title += ", signal " + fixed(*e.prominence, 3) + " body heights";
  }
  return "<g class=\"event\" data-event=\"" + e.type + "\" data-foot=\"" + e.foot +
         "\" data-time-s=\"" + raw_value(e.time_s) + "\" data-frame=\"" + std::to_string(e.frame) +
         "\"" + (e.low_confidence ? " data-low-confidence=\"true\"" : "") + "><title>" + title +
         "</title>" + shape + (e.low_confidence ? low_confidence_ring(x, y) : "") + "</g>";
}

}  // namespace dancer::analysis::report

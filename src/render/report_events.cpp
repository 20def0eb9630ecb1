// Foot events as the clinical report's plots draw them (Gait events, Keypoint signals): read
// from the results, with their markers (initial contact, toe-off, low-confidence ring).
#include "render/report_parts.h"

#include <algorithm>
#include <string>
#include <vector>

namespace dancer::analysis::report {

std::vector<Event> events_of(const json& analysis) {
  std::vector<Event> out;
  for (const auto& e : array_of(field(analysis, "events"))) {
    const auto t = number(field(e, "time_s"));
    const std::string foot = text_of(field(e, "foot"));
    const std::string type = text_of(field(e, "type"));
    if (!t || (foot != "left" && foot != "right") ||
        (type != "initial_contact" && type != "toe_off")) {
      continue;
    }
    const auto f = number(field(e, "frame"));
    const json& low = field(e, "low_confidence");
    out.push_back({foot, type, *t, f ? as_frame(*f) : 0, number(field(e, "visibility")),
                   number(field(e, "prominence_body_heights")),
                   low.is_boolean() && low.get<bool>()});
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

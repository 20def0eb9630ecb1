// The clinical report's Strides section: one row per stride, the catalogue's measures.
#include "render/report_parts.h"

#include <cstddef>
#include <string>
#include <vector>

namespace dancer::analysis::report {

void strides_section(std::string& out, const json& analysis, const Facts& facts) {
  const auto& strides = array_of(field(analysis, "strides"));
  out += "<section id=\"strides\"><h2>Strides</h2>";
  if (strides.empty()) {
    out += "<p>No stride was measured";
    if (!facts.no_strides_reason.empty()) out += ": " + facts.no_strides_reason;
    out += ".</p></section>";
    return;
  }
  // The stride's start, the catalogue's measures for this table, and its pass.
  struct Col {
    std::string key;
    std::string head;
    int decimals;
  };
  std::vector<Col> cols{{"start_s", "Start (s)", 3}};
  for (const StrideMeasure& m : facts.measures) {
    if (!m.stride_table || !shown_with_height(m, facts.lengths_in_m)) continue;
    cols.push_back({std::string(m.key),
                    std::string(m.label) + " (" + std::string(m.unit_short) + ")", m.decimals});
  }
  cols.push_back({"pass", "Pass", 0});
  out +=
      "<table class=\"compact\" id=\"stride-table\"><thead><tr><th class=\"num\">#</th>"
      "<th>Foot</th>";
  for (const auto& c : cols) out += "<th class=\"num\">" + c.head + "</th>";
  out += "</tr></thead><tbody>";
  bool phases_missing = false;
  for (std::size_t i = 0; i < strides.size(); ++i) {
    const auto& s = strides[i];
    const std::string foot = text_of(field(s, "foot"));
    out += "<tr data-stride=\"" + std::to_string(i) + "\"><td class=\"num\">" +
           std::to_string(i + 1) + "</td><td>" +
           (foot == "left"    ? "Left"
            : foot == "right" ? "Right"
                              : esc(foot)) +
           "</td>";
    for (const auto& c : cols) {
      const std::string path = "strides." + std::to_string(i) + "." + c.key;
      const auto& v = field(s, c.key);
      if (c.key == "pass") {
        const auto p = number(v);
        out += "<td class=\"num\">" +
               (p ? metric_span(path, raw_value(v), std::to_string(as_frame(*p) + 1))
                  : null_span(path, "")) +
               "</td>";
        continue;
      }
      if (!number(v)) phases_missing = true;
      out += "<td class=\"num\">" + value_or_null(path, v, c.decimals, "") + "</td>";
    }
    out += "</tr>";
  }
  out +=
      "</tbody></table><p class=\"note\">A stride runs from a foot's initial contact to its next. "
      "Step time and step length belong to the step that closes the stride.";
  if (phases_missing) {
    out +=
        " — in a phase column: the events of that stride did not come in gait's order "
        "(contact, other toe-off, other contact, own toe-off), so its phases were not "
        "measured.";
  }
  out += "</p></section>";
}

}  // namespace dancer::analysis::report

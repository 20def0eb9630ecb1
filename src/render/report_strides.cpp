// The clinical report's Strides section: one row per stride, the catalogue's measures.
#include "render/report_parts.h"

#include <cstddef>
#include <string>
#include <vector>

namespace dancer::analysis::report {

void strides_section(std::string& out, const GaitTable& table, const Facts& facts) {
  const std::vector<Stride>& strides = table.strides;
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
    const Stride& s = strides[i];
    out += "<tr data-stride=\"" + std::to_string(i) + "\"><td class=\"num\">" +
           std::to_string(i + 1) + "</td><td>" + (s.foot == Foot::kLeft ? "Left" : "Right") +
           "</td>";
    for (const auto& c : cols) {
      const std::string path = "strides." + std::to_string(i) + "." + c.key;
      if (c.key == "pass") {
        out += "<td class=\"num\">" +
               metric_span(path, raw_count(static_cast<long long>(s.pass)),
                           std::to_string(s.pass + 1)) +
               "</td>";
        continue;
      }
      const auto v = c.key == "start_s" ? as_written(s.start_s) : stride_value(table, s, c.key);
      if (!v) phases_missing = true;
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

// The clinical report's "Left and right" (each side's mean ± SD, CV and n per measure) and
// Symmetry sections.
#include "render/report_parts.h"

#include <array>
#include <string>
#include <utility>

namespace dancer::analysis::report {

void per_side_section(std::string& out, const json& analysis, const Facts& facts) {
  const auto& per_side = field(analysis, "per_side");
  out += "<section id=\"per-side\"><h2>Left and right</h2>";
  if (!per_side.is_object()) {
    out += "<p>— <span class=\"reason\">no per-side values in this result</span></p></section>";
    return;
  }
  if (array_of(field(analysis, "strides")).empty() && !facts.no_strides_reason.empty()) {
    out += "<p data-per-side=\"none\">No per-side values: " + facts.no_strides_reason +
           ".</p></section>";
    return;
  }
  out +=
      "<table class=\"compact group\"><thead><tr><th rowspan=\"2\">Measure</th>"
      "<th colspan=\"3\" class=\"grp sep\">Left</th><th colspan=\"3\" class=\"grp sep\">Right</th>"
      "</tr><tr><th class=\"num sep\">mean ± SD</th><th class=\"num\">CV %</th>"
      "<th class=\"num\">n</th><th class=\"num sep\">mean ± SD</th><th class=\"num\">CV %</th>"
      "<th class=\"num\">n</th></tr>"
      "</thead><tbody>";
  for (const StrideMeasure& m : facts.measures) {
    if (!shown_with_height(m, facts.lengths_in_m)) continue;
    out += "<tr><th scope=\"row\">" + std::string(m.label) + " <span class=\"unit\">(" +
           std::string(m.unit_report) + ")</span></th>";
    for (const char* side : {"left", "right"}) {
      const std::string key(m.key);
      const auto& stat = field(field(per_side, side), key);
      const std::string base = std::string("per_side.") + side + "." + key;
      const auto n = number(field(stat, "n"));
      const int strides = n ? as_count(*n) : 0;
      const auto mean = number(field(stat, "mean"));
      const auto sd = number(field(stat, "sd"));
      const auto cv = number(field(stat, "cv"));
      out += "<td class=\"num sep\">";
      if (mean) {
        out +=
            metric_span(base + ".mean", raw_value(field(stat, "mean")), fixed(*mean, m.decimals));
        out += " ± ";
        out += sd ? metric_span(base + ".sd", raw_value(field(stat, "sd")), fixed(*sd, m.decimals))
                  : null_span(base + ".sd", "");
      } else {
        out += null_span(base + ".mean", !facts.no_strides_reason.empty() && strides == 0
                                             ? "no strides"
                                             : few_strides_reason(strides));
      }
      out += "</td><td class=\"num\">";
      if (cv) {
        out += metric_span(base + ".cv", raw_value(field(stat, "cv")), fixed(*cv, 1));
        if (strides < kStableVariability) {
          out += "<span class=\"flag\" data-flag=\"few-strides\">few strides</span>";
        }
      } else {
        out += null_span(base + ".cv", "");
      }
      out += "</td><td class=\"num\">" +
             (n ? metric_span(base + ".n", raw_value(field(stat, "n")), std::to_string(strides))
                : null_span(base + ".n", "")) +
             "</td>";
    }
    out += "</tr>";
  }
  out += "</tbody></table>";
  const std::string lengths = facts.lengths_in_m ? "body heights × the subject's height"
                              : facts.has("subject_height_refused")
                                  ? "in body heights (the subject height sent was refused)"
                                  : "in body heights (no subject height was given)";
  out +=
      "<p class=\"note\">Mean ± sample SD over the side's strides; CV = 100 × SD / mean. "
      "Means need at least " +
      std::to_string(kMinStrides) + " strides (— otherwise). Variability resting on fewer than " +
      std::to_string(kStableVariability) +
      " strides is flagged “few strides”: such CVs are unstable. Length figures are " + lengths +
      ".</p></section>";
}

void symmetry_section(std::string& out, const json& analysis, const Facts& facts) {
  const auto& sym = field(analysis, "symmetry");
  out += "<section id=\"symmetry\"><h2>Symmetry</h2>";
  if (!sym.is_object()) {
    out += "<p>— <span class=\"reason\">no symmetry indices in this result</span></p></section>";
    return;
  }
  if (array_of(field(analysis, "strides")).empty() && !facts.no_strides_reason.empty()) {
    out += "<p data-symmetry=\"none\">No symmetry indices: " + facts.no_strides_reason +
           ".</p></section>";
    return;
  }
  out +=
      "<table class=\"compact\"><thead><tr><th>Measure</th><th class=\"num\">Symmetry index "
      "(%)</th><th class=\"num\">n left</th><th class=\"num\">n right</th></tr></thead><tbody>";
  const std::array<std::pair<const char*, const char*>, 3> kIndices{
      {{"step_time", "Step time"}, {"swing_time", "Swing time"}, {"step_length", "Step length"}}};
  for (const auto& [key, label] : kIndices) {
    const auto& s = field(sym, key);
    const std::string base = std::string("symmetry.") + key;
    const auto nl = number(field(s, "n_left"));
    const auto nr = number(field(s, "n_right"));
    std::string reason = facts.no_strides_reason;
    if (reason.empty()) {
      reason =
          "needs a mean on both sides (at least " + std::to_string(kMinStrides) + " strides each)";
    }
    out += "<tr><th scope=\"row\">" + std::string(label) + "</th><td class=\"num\">" +
           value_or_null(base + ".pct", field(s, "pct"), 1, reason) + "</td><td class=\"num\">" +
           (nl ? metric_span(base + ".n_left", raw_value(field(s, "n_left")), fixed(*nl, 0))
               : std::string("—")) +
           "</td><td class=\"num\">" +
           (nr ? metric_span(base + ".n_right", raw_value(field(s, "n_right")), fixed(*nr, 0))
               : std::string("—")) +
           "</td></tr>";
  }
  out += "</tbody></table><p class=\"note\">Symmetry index (Robinson et al. " +
         cite("robinson1987") +
         "): SI = 100 × |L − R| / (½ (L + R)) on the side means; 0 % is symmetric. No healthy "
         "cut-off is shown: none could be cited.</p></section>";
}

}  // namespace dancer::analysis::report

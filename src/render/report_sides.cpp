// The clinical report's "Left and right" (each side's mean ± SD, CV and n per measure) and
// Symmetry sections.
#include "render/report_parts.h"

#include <array>
#include <optional>
#include <string>
#include <utility>

namespace dancer::analysis::report {

void per_side_section(std::string& out, const GaitTable& table, const Facts& facts) {
  out += "<section id=\"per-side\"><h2>Left and right</h2>";
  if (table.strides.empty() && !facts.no_strides_reason.empty()) {
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
    for (const auto& [side, summary] : {std::pair{"left", &table.left}, {"right", &table.right}}) {
      // n is absent only when the table's catalogue lacks the measure.
      const SideStat* stat = side_stat(*summary, m.key);
      const std::string base = std::string("per_side.") + side + "." + std::string(m.key);
      const int strides = stat ? stat->n : 0;
      const auto mean = stat ? as_written(stat->mean) : std::nullopt;
      const auto sd = stat ? as_written(stat->sd) : std::nullopt;
      const auto cv = stat ? as_written(stat->cv, 10) : std::nullopt;
      out += "<td class=\"num sep\">";
      if (mean) {
        out += metric_span(base + ".mean", raw_value(mean), fixed(*mean, m.decimals));
        out += " ± ";
        out += sd ? metric_span(base + ".sd", raw_value(sd), fixed(*sd, m.decimals))
                  : null_span(base + ".sd", "");
      } else {
        out += null_span(base + ".mean", !facts.no_strides_reason.empty() && strides == 0
                                             ? "no strides"
                                             : few_strides_reason(strides));
      }
      out += "</td><td class=\"num\">";
      if (cv) {
        out += metric_span(base + ".cv", raw_value(cv), fixed(*cv, 1));
        if (strides < kStableVariability) {
          out += "<span class=\"flag\" data-flag=\"few-strides\">few strides</span>";
        }
      } else {
        out += null_span(base + ".cv", "");
      }
      out += "</td><td class=\"num\">" +
             (stat ? metric_span(base + ".n", raw_count(strides), std::to_string(strides))
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

void symmetry_section(std::string& out, const GaitTable& table, const Facts& facts) {
  out += "<section id=\"symmetry\"><h2>Symmetry</h2>";
  if (table.strides.empty() && !facts.no_strides_reason.empty()) {
    out += "<p data-symmetry=\"none\">No symmetry indices: " + facts.no_strides_reason +
           ".</p></section>";
    return;
  }
  out +=
      "<table class=\"compact\"><thead><tr><th>Measure</th><th class=\"num\">Symmetry index "
      "(%)</th><th class=\"num\">n left</th><th class=\"num\">n right</th></tr></thead><tbody>";
  // Each index, as to_json(GaitTable) writes it, with the measure its side means are of.
  struct Index {
    const char* key;
    const char* label;
    std::optional<double> pct;
    const char* measure;
  };
  const std::array<Index, 3> kIndices{
      {{"step_time", "Step time", table.symmetry_step_time, "step_time_s"},
       {"swing_time", "Swing time", table.symmetry_swing, "swing_s"},
       {"step_length", "Step length", table.symmetry_step_length, "step_length_body_heights"}}};
  for (const Index& index : kIndices) {
    const std::string base = std::string("symmetry.") + index.key;
    const SideStat* left = side_stat(table.left, index.measure);
    const SideStat* right = side_stat(table.right, index.measure);
    std::string reason = facts.no_strides_reason;
    if (reason.empty()) {
      reason =
          "needs a mean on both sides (at least " + std::to_string(kMinStrides) + " strides each)";
    }
    out += "<tr><th scope=\"row\">" + std::string(index.label) + "</th><td class=\"num\">" +
           value_or_null(base + ".pct", as_written(index.pct, 10), 1, reason) +
           "</td><td class=\"num\">" +
           (left ? metric_span(base + ".n_left", raw_count(left->n), fixed(left->n, 0))
                 : std::string("—")) +
           "</td><td class=\"num\">" +
           (right ? metric_span(base + ".n_right", raw_count(right->n), fixed(right->n, 0))
                  : std::string("—")) +
           "</td></tr>";
  }
  out += "</tbody></table><p class=\"note\">Symmetry index (Robinson et al. " +
         cite("robinson1987") +
         "): SI = 100 × |L − R| / (½ (L + R)) on the side means; 0 % is symmetric. No healthy "
         "cut-off is shown: none could be cited.</p></section>";
}

}  // namespace dancer::analysis::report

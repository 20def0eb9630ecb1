// The clinical report's Summary: speed, cadence, means over the strides and each side's
// variability, each against its cited healthy-adult range (range bar and verdict).
#include "render/report_parts.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dancer::analysis::report {

// A range bar: the reference band, its bounds, the source's mean if any, and the value.
// Bounds given as whole numbers are shown as such (60 %, not 60.0 %).
int bound_decimals(const ReferenceRange& r, int decimals) {
  return r.low == std::round(r.low) && r.high == std::round(r.high) ? 0 : decimals;
}

namespace {

std::string range_bar(const ReferenceRange& r, std::optional<double> value, int decimals) {
  const int bd = bound_decimals(r, decimals);
  constexpr double kW = 210;
  constexpr double kH = 40;
  double lo = r.low;
  double hi = r.high;
  if (value) {
    lo = std::min(lo, *value);
    hi = std::max(hi, *value);
  }
  const double pad = std::max((hi - lo) * 0.12, (r.high - r.low) * 0.3);
  lo -= pad;
  hi += pad;
  const auto x = [&](double v) { return 8 + (v - lo) / (hi - lo) * (kW - 16); };
  std::string s = "<svg class=\"range-bar\" width=\"" + svg_num(kW) + "\" height=\"" + svg_num(kH) +
                  "\" viewBox=\"0 0 " + svg_num(kW) + " " + svg_num(kH) +
                  "\" role=\"img\" aria-label=\"reference " + fixed(r.low, bd) + " to " +
                  fixed(r.high, bd) + " " + esc(r.unit) +
                  (value ? "; value " + fixed(*value, decimals) : std::string("; no value")) +
                  "\" data-low=\"" + raw_value(r.low) + "\" data-high=\"" + raw_value(r.high) +
                  "\">";
  s += "<line x1=\"4\" y1=\"22\" x2=\"" + svg_num(kW - 4) +
       "\" y2=\"22\" stroke=\"#9a9a9a\" stroke-width=\"0.8\"/>";
  s += "<rect x=\"" + svg_num(x(r.low)) + "\" y=\"16\" width=\"" + svg_num(x(r.high) - x(r.low)) +
       "\" height=\"12\" fill=\"#d9d9d9\" stroke=\"#333\" stroke-width=\"0.8\"/>";
  if (r.centre) {
    s += "<line x1=\"" + svg_num(x(*r.centre)) + "\" y1=\"16\" x2=\"" + svg_num(x(*r.centre)) +
         "\" y2=\"28\" stroke=\"#333\" stroke-width=\"0.8\"/>";
  }
  s += "<text x=\"" + svg_num(x(r.low)) + "\" y=\"38\" font-size=\"9\" text-anchor=\"middle\">" +
       fixed(r.low, bd) + "</text>";
  s += "<text x=\"" + svg_num(x(r.high)) + "\" y=\"38\" font-size=\"9\" text-anchor=\"middle\">" +
       fixed(r.high, bd) + "</text>";
  if (value) {
    const double vx = x(*value);
    s += "<line x1=\"" + svg_num(vx) + "\" y1=\"10\" x2=\"" + svg_num(vx) +
         "\" y2=\"30\" stroke=\"#000\" stroke-width=\"2\"/>";
    s += "<path d=\"M" + svg_num(vx - 5) + ",2 L" + svg_num(vx + 5) + ",2 L" + svg_num(vx) +
         ",10 Z\" fill=\"#000\"/>";
  }
  return s + "</svg>";
}

std::string verdict(const ReferenceRange& r, double v) {
  const char* where = v < r.low ? "below" : v > r.high ? "above" : "within";
  return "<span class=\"verdict\" data-verdict=\"" + std::string(where) + "\">" + where + "</span>";
}

struct SummaryRow {
  std::string label;
  std::string value_html;  // the figure (or null) with its unit
  std::string n_html;      // what it rests on
  std::optional<double> value;
  int decimals = 1;
  const ReferenceRange* range = nullptr;  // null: no cited range
  std::string no_range_reason;            // when range is null
};

SummaryRow walking_speed_row(const GaitTable& table, const Facts& facts) {
  SummaryRow r;
  r.label = "Walking speed";
  r.decimals = 2;
  const auto m_s = as_written(table.speed_m_per_s);
  const auto bh_s = as_written(table.speed_body_heights_per_s);
  const int passes = table.speed_passes;
  const std::string& absent = facts.short_reason;
  if (m_s) {
    r.value = m_s;
    r.value_html = metric_span("walking_speed.m_per_s", raw_value(m_s), fixed(*m_s, 2)) +
                   " <span class=\"unit\">m/s</span>";
    r.range = find_range("walking_speed_m_per_s");
  } else if (bh_s) {
    r.value_html =
        metric_span("walking_speed.body_heights_per_s", raw_value(bh_s), fixed(*bh_s, 2)) +
        " <span class=\"unit\">body heights/s</span>";
    r.no_range_reason = facts.has("subject_height_refused")
                            ? "The cited reference is in m/s; the subject height sent was "
                              "refused, so body heights cannot be converted."
                            : "The cited reference is in m/s; no subject height was given to "
                              "convert body heights.";
  } else {
    r.value_html = null_span("walking_speed.m_per_s", absent.empty() ? "not measured" : absent);
    r.range = find_range("walking_speed_m_per_s");
  }
  if (passes > 0) {
    r.n_html = metric_span("walking_speed.passes", raw_count(passes), fixed(passes, 0)) +
               (passes == 1 ? " pass" : " passes");
  }
  return r;
}

SummaryRow cadence_row(const GaitTable& table, const Facts& facts) {
  SummaryRow r;
  r.label = "Cadence";
  r.decimals = 1;
  const std::string& absent = facts.short_reason;
  r.value = as_written(table.cadence_steps_per_min, 10);
  r.value_html =
      r.value
          ? metric_span("cadence_steps_per_min", raw_value(r.value), fixed(*r.value, 1)) +
                " <span class=\"unit\">steps/min</span>"
          : null_span("cadence_steps_per_min", absent.empty() ? "no alternating steps" : absent);
  if (const int steps = table.cadence_steps; steps > 0) {
    r.n_html = metric_span("cadence_steps", raw_count(steps), fixed(steps, 0)) + " steps";
  }
  r.range = find_range("cadence_steps_per_min");
  return r;
}

// A mean over the strides of both feet, of a measure of the catalogue.
SummaryRow stride_mean_row(const GaitTable& table, const Facts& facts, std::string_view measure,
                           const char* range_key, const std::string& no_range_reason) {
  const StrideMeasure& sm = measure_of(facts, measure);
  const std::string key(sm.key);
  const std::string unit(sm.unit_report);
  const int decimals = sm.decimals;
  const std::string& absent = facts.short_reason;
  SummaryRow r;
  r.label = sm.label;
  r.decimals = decimals;
  const StrideMean m = stride_mean(table, key);
  const std::string path = "summary." + key;
  const std::string n_attr = " data-n=\"" + std::to_string(m.n) + "\" data-source=\"strides\"";
  r.value = m.mean;
  if (m.mean) {
    r.value_html = metric_span(path, raw_value(m.mean), fixed(*m.mean, decimals), n_attr) +
                   " <span class=\"unit\">" + unit + "</span>";
  } else {
    r.value_html = "<span class=\"null\" data-metric=\"" + path + "\" data-value=\"null\"" +
                   n_attr + ">—</span> <span class=\"reason\">" +
                   (!absent.empty() ? absent : few_strides_reason(m.n) + " with this measure") +
                   "</span>";
  }
  if (m.n > 0) {
    r.n_html =
        "mean of " + std::to_string(m.n) + (m.n == 1 ? " stride" : " strides") + ", both sides";
  }
  if (range_key) r.range = find_range(range_key);
  r.no_range_reason = no_range_reason;
  return r;
}

// One side's stride-time coefficient of variation.
SummaryRow variability_row(const GaitTable& table, const Facts& facts, const char* side) {
  SummaryRow r;
  r.label = std::string("Stride-time variability, ") + side + " (CV)";
  r.decimals = 1;
  const std::string& absent = facts.short_reason;
  const SideStat* stat =
      side_stat(std::string_view(side) == "left" ? table.left : table.right, "stride_time_s");
  const int strides = stat ? stat->n : 0;
  const std::string path = std::string("per_side.") + side + ".stride_time_s.cv";
  r.value = stat ? as_written(stat->cv, 10) : std::nullopt;
  r.value_html = r.value ? metric_span(path, raw_value(r.value), fixed(*r.value, 1)) +
                               " <span class=\"unit\">%</span>"
                         : null_span(path, !absent.empty() ? absent : few_strides_reason(strides));
  if (strides > 0) r.n_html = std::to_string(strides) + (strides == 1 ? " stride" : " strides");
  if (r.value && strides < kStableVariability) {
    r.n_html += " <span class=\"flag\" data-flag=\"few-strides\">few strides</span>";
  }
  r.range = find_range("stride_time_cv_pct");
  return r;
}

// One row of the summary table: the measure, its value, the cited range and where it falls.
std::string summary_row_html(const SummaryRow& r) {
  std::string out = "<tr><th scope=\"row\">" + r.label + "</th><td class=\"value\">" + r.value_html;
  if (!r.n_html.empty()) out += "<span class=\"n\">" + r.n_html + "</span>";
  out += "</td>";
  if (r.range) {
    const auto& g = *r.range;
    out += "<td><span class=\"range\" data-reference=\"" + std::string(g.metric) + "\">" +
           fixed(g.low, bound_decimals(g, r.decimals)) + "–" +
           fixed(g.high, bound_decimals(g, r.decimals)) + " " + std::string(g.unit) + "</span>" +
           cites(g) + "<span class=\"n\">" + std::string(g.label) +
           "</span></td><td class=\"bar\">" + range_bar(g, r.value, r.decimals);
    if (r.value) out += verdict(g, *r.value);
    out += "</td>";
  } else {
    out +=
        "<td colspan=\"2\" class=\"note\" data-reference=\"none\">" + r.no_range_reason + "</td>";
  }
  return out + "</tr>";
}

}  // namespace

// The summary: speed, cadence, the stride means of both feet and each side's variability, each
// against its cited healthy-adult range where one was checked.
void summary_section(std::string& out, const GaitTable& table, const Facts& facts) {
  const char* kNoLengthNorm =
      "No cited reference: step length scales with stature, and the normative tables located "
      "could not be checked against their sources.";
  const std::vector<SummaryRow> rows = {
      walking_speed_row(table, facts),
      cadence_row(table, facts),
      stride_mean_row(table, facts,
                      facts.lengths_in_m ? "step_length_m" : "step_length_body_heights", nullptr,
                      kNoLengthNorm),
      stride_mean_row(table, facts, "stride_time_s", nullptr,
                      "No cited reference: the normative tables located could not be checked "
                      "against their sources."),
      stride_mean_row(table, facts, "stance_pct", "stance_pct", ""),
      stride_mean_row(table, facts, "double_support_pct", "double_support_pct", ""),
      variability_row(table, facts, "left"),
      variability_row(table, facts, "right")};
  out += "<section id=\"summary\"><h2>Summary</h2>";
  out +=
      "<table class=\"summary\"><thead><tr><th>Measure</th><th>Value</th>"
      "<th>Healthy-adult reference</th><th>Where the value falls</th></tr></thead><tbody>";
  for (const auto& r : rows) out += summary_row_html(r);
  out += "</tbody></table>";
  out +=
      "<p class=\"note\">Step length, stride time, stance and double support are means over the "
      "strides of both feet (at least 3 needed); left and right are compared below. References "
      "were measured with walkways, timers or instruments, not with video; differences of method "
      "shift values, so a value outside a reference is a prompt to look closer, not a "
      "diagnosis.</p></section>";
}

}  // namespace dancer::analysis::report

#include "gait/measures.h"

#include "gait/gait_table.h"

namespace dancer::analysis {
namespace {

std::optional<double> percent(std::optional<double> part, double whole) {
  if (!part || !(whole > 0)) return std::nullopt;
  return 100 * *part / whole;
}

using enum MeasureScale;

// The four kinds of measure, each with its units (UCUM, beside a number, in the report's words,
// in a column head) and decimals: times to the millisecond the events' sub-frame timing can
// carry, percentages to a tenth, body heights to a thousandth (about 2 mm), metres to the
// centimetre. A measure without a FHIR code is not exported one by one.
struct Export {
  std::string_view code{};
  std::string_view display{};
};
constexpr StrideMeasure seconds(std::string_view key, std::string_view label,
                                std::optional<double> (*value)(const Stride&), Export fhir = {},
                                bool stride_table = false) {
  return {key,   label,     "s",          "s",          "s",   "s", 3,
          kTime, fhir.code, fhir.display, stride_table, value, {}};
}
constexpr StrideMeasure percent_of_stride(std::string_view key, std::string_view label,
                                          std::optional<double> (*value)(const Stride&),
                                          Export fhir) {
  return {key,          label, "%",   "%", "% of cycle", "%", 1, kPercentOfStride, fhir.code,
          fhir.display, true,  value, {}};
}
constexpr StrideMeasure body_heights(std::string_view key, std::string_view label,
                                     std::optional<double> (*value)(const Stride&), Export fhir) {
  return {key,          label,     "{body_height}", "body heights", "body heights", "BH", 3,
          kBodyHeights, fhir.code, fhir.display,    true,           value,          {}};
}
constexpr StrideMeasure metres(std::string_view key, std::string_view label,
                               std::string_view metres_of, Export fhir) {
  return {key,     label,     "m",          "m",  "m",     "m",      2,
          kMetres, fhir.code, fhir.display, true, nullptr, metres_of};
}

// A measure that a frontal view gives as well as a side view (StrideMeasure::frontal_view).
constexpr StrideMeasure any_view(StrideMeasure m) {
  m.frontal_view = true;
  return m;
}

// Phases follow Perry and Burnfield (Gait Analysis, 2nd ed., ch. 2); gait_table.h defines each.
constexpr StrideMeasure kCatalogue[] = {
    any_view(seconds(
        "stride_time_s", "Stride time",
        [](const Stride& s) { return std::optional<double>(s.stride_time_s); },
        {"stride-time", "Stride time"}, true)),
    any_view(seconds(
        "step_time_s", "Step time", [](const Stride& s) { return s.step_time_s; },
        {"step-time", "Step time"}, true)),
    seconds("stance_s", "Stance time", [](const Stride& s) { return s.stance_s; }),
    seconds("swing_s", "Swing time", [](const Stride& s) { return s.swing_s; }),
    seconds("single_support_s", "Single support time",
            [](const Stride& s) { return s.single_support_s; }),
    seconds("initial_double_support_s", "Initial double support time",
            [](const Stride& s) { return s.initial_double_support_s; }),
    seconds("terminal_double_support_s", "Terminal double support time",
            [](const Stride& s) { return s.terminal_double_support_s; }),
    seconds("double_support_s", "Double support time",
            [](const Stride& s) { return s.double_support_s; }),
    percent_of_stride("stance_pct", "Stance",
                      [](const Stride& s) { return percent(s.stance_s, s.stride_time_s); },
                      {"stance-pct", "Stance phase"}),
    percent_of_stride("swing_pct", "Swing",
                      [](const Stride& s) { return percent(s.swing_s, s.stride_time_s); },
                      {"swing-pct", "Swing phase"}),
    percent_of_stride("single_support_pct", "Single support",
                      [](const Stride& s) { return percent(s.single_support_s, s.stride_time_s); },
                      {"single-support-pct", "Single support"}),
    percent_of_stride("double_support_pct", "Double support",
                      [](const Stride& s) { return percent(s.double_support_s, s.stride_time_s); },
                      {"double-support-pct", "Double support"}),
    body_heights("step_length_body_heights", "Step length",
                 [](const Stride& s) { return s.step_length_body_heights; },
                 {"step-length-body-heights", "Step length in body heights"}),
    body_heights("stride_length_body_heights", "Stride length",
                 [](const Stride& s) { return s.stride_length_body_heights; },
                 {"stride-length-body-heights", "Stride length in body heights"}),
    metres("step_length_m", "Step length", "step_length_body_heights",
           {"step-length", "Step length"}),
    metres("stride_length_m", "Stride length", "stride_length_body_heights",
           {"stride-length", "Stride length"}),
};

}  // namespace

std::span<const StrideMeasure> stride_measures() { return kCatalogue; }

bool shown_with_height(const StrideMeasure& m, bool has_height) {
  if (m.scale == MeasureScale::kMetres) return has_height;
  if (m.scale == MeasureScale::kBodyHeights) return !has_height;
  return true;
}

}  // namespace dancer::analysis

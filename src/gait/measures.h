// The catalogue of stride measures: each measure of the spatio-temporal table is declared here
// once, with its key in the results contract (docs/results.md: the per-stride field, the
// per_side key and the strides.csv column), its name and unit for readers, the UCUM unit and
// FHIR code of the export (docs/fhir.md), the decimals the report shows and how a stride gives
// its value. The table (gait_table), the results JSON, the report, the CSV and the FHIR bundle
// all read it, so adding a measure is one entry here plus its computation.
#pragma once

#include <optional>
#include <span>
#include <string_view>

namespace dancer::analysis {

struct Stride;

// A side's mean, SD and CV need this many strides (fewer give null with the count): with 3 the
// SD has 2 degrees of freedom, the least a variability can be stated on (docs/results.md).
inline constexpr int kMinStridesForMean = 3;

// What a measure's number is; lengths come in two scales of which a reader sees one.
enum class MeasureScale {
  kTime,             // seconds
  kPercentOfStride,  // % of the stride (gait cycle)
  kBodyHeights,      // lengths in body heights (always measured)
  kMetres,           // lengths in metres: the body-height measure times the subject's height
};

struct StrideMeasure {
  std::string_view key{};          // results contract key (per stride, per_side, CSV column)
  std::string_view label{};        // in words, as the report names it
  std::string_view unit{};         // UCUM code (FHIR Quantity.code)
  std::string_view unit_text{};    // beside a number (FHIR Quantity.unit): "s", "%", "body heights"
  std::string_view unit_report{};  // in the report's words: "% of cycle" for a phase
  std::string_view unit_short{};   // in a table's column head: "s", "%", "BH", "m"
  int decimals = 3;                // shown in the report
  MeasureScale scale = MeasureScale::kTime;
  // The gait-metrics CodeSystem code and display of its FHIR Observation; "" when the measure is
  // not exported one by one.
  std::string_view fhir_code{};
  std::string_view fhir_display{};
  bool stride_table = false;  // a column of the report's table of every stride
  // The stride's value in body heights, seconds or %; null when the stride does not give it.
  // Null for kMetres measures, which scale `metres_of` instead.
  std::optional<double> (*value)(const Stride&) = nullptr;
  std::string_view metres_of{};  // kMetres: the kBodyHeights measure it scales
  // Valid also from a pass seen from the front, back or obliquely (gait/frontal_events.h): the
  // times of whole steps and strides. Not the phases (contacts timed too coarsely from there)
  // nor lengths (no depth scale); the table leaves those null for such passes. Every measure is
  // valid from the side.
  bool frontal_view = false;
};

// The catalogue, in the contract's order (docs/results.md).
std::span<const StrideMeasure> stride_measures();

// Whether a reader is shown `m` for a result with (or without) the subject's height: lengths in
// metres with a height, in body heights without; times and percentages always.
bool shown_with_height(const StrideMeasure& m, bool has_height);

}  // namespace dancer::analysis

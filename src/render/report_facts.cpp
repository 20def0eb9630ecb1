// What the analysis says about itself, as the clinical report's sections need it (Facts: its
// warnings, the subject height, why no stride was measured), the table's values as written, and
// means over the strides.
#include "render/report_parts.h"

#include <cstddef>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

namespace dancer::analysis::report {

// The catalogue's entry for `key` (the report names only measures the catalogue declares).
const StrideMeasure& measure_of(const Facts& facts, std::string_view key) {
  for (const StrideMeasure& m : facts.measures) {
    if (m.key == key) return m;
  }
  throw std::logic_error("the report names a measure the catalogue lacks: " + std::string(key));
}

Facts facts_of(const GaitResult& result, const GaitTable& table,
               std::span<const StrideMeasure> catalogue) {
  Facts f;
  f.measures = catalogue;
  for (const std::string& w : quality_warnings(result)) f.warnings.insert(w);
  f.height_m = as_written(table.subject_height_m);
  f.lengths_in_m = f.height_m.has_value();
  if (f.has("no_person")) {
    f.no_strides_reason = "nobody was seen in the video";
    f.short_reason = "no person";
  } else if (f.has("front_view")) {
    f.no_strides_reason =
        "front view: the person faced the camera and no step could be timed from the front";
    f.short_reason = "front view";
  } else if (f.has("no_walking_pass")) {
    f.no_strides_reason = "no stretch of steady walking across the image";
    f.short_reason = "no walking pass";
  } else if (f.has("no_walking_detected")) {
    f.no_strides_reason = "no walking was found";
    f.short_reason = "no walking";
  } else if (table.strides.empty()) {
    f.no_strides_reason = "no complete stride was measured";
    f.short_reason = "no stride";
  }
  return f;
}

std::string few_strides_reason(int n) {
  if (n == 0) return "no stride";
  return "fewer than " + std::to_string(kMinStrides) + " strides (n = " + std::to_string(n) + ")";
}

const SideStat* side_stat(const SideSummary& side, std::string_view key) {
  for (std::size_t i = 0; i < side.names.size() && i < side.stats.size(); ++i) {
    if (side.names[i] == key) return &side.stats[i];
  }
  return nullptr;
}

std::optional<double> stride_value(const GaitTable& table, const Stride& stride,
                                   std::string_view key) {
  const auto i = measure_index(table, key);
  if (!i || *i >= stride.measures.size()) return std::nullopt;
  return as_written(stride.measures[*i]);
}

StrideMean stride_mean(const GaitTable& table, std::string_view key) {
  StrideMean m;
  double sum = 0;
  for (const Stride& s : table.strides) {
    if (const auto v = stride_value(table, s, key)) {
      sum += *v;
      ++m.n;
    }
  }
  if (m.n >= kMinStrides) m.mean = sum / m.n;
  return m;
}

}  // namespace dancer::analysis::report

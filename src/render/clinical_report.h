// The clinical gait report of a pose-gait result: one self-contained HTML page (inline CSS,
// inline SVG, key frames as data: URIs; no script, nothing fetched) laid out as the reports
// of instrumented walkways and video gait tools are read: who and what was recorded, a summary
// of the spatio-temporal measures against cited healthy-adult references, left and right side
// by side, every stride, the event timeline, joint angles over the gait cycle, the keypoint
// signals the events were found in, key frames, what limited the recording and how to film
// better, the method and its limits, and the references.
//
// The report reads the typed result (gait/gait_result.h), not the JSON written from it: the
// table as reported (reported_table) and the warnings as listed (quality_warnings), as to_json
// does. Every figure drawn from the results carries `data-metric` (its path in results_json's
// `analysis`, e.g. "per_side.left.stride_time_s.mean", or "summary.<field>" for a mean over
// the strides) and `data-value` (the number as to_json writes that field: rounded as there and
// dumped as nlohmann::json dumps it, or "null"), so a test can compare the page with the
// results. A value the analysis left null is shown as "—" with the reason. The page prints on
// A4 (@page) without cutting tables or figures.
#pragma once

#include <array>
#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "gait/gait_result.h"
#include "gait/measures.h"
#include "render/report_types.h"

namespace dancer::analysis {

struct ReportContext {
  std::string object_name;  // the S3 key or the file name
  std::chrono::system_clock::time_point processed_at;
  // As the container states it (ISO 8601). Unset: the metadata's format.tags.creation_time.
  std::optional<std::string> recording_date;
  std::optional<std::string> job_id;
};

// A healthy-adult reference for one summary measure, with where it comes from. Only values
// read in the cited source itself or in a named secondary source that cites it are here.
struct ReferenceRange {
  // The summary row it belongs to: "walking_speed_m_per_s", "cadence_steps_per_min", ...
  std::string_view metric;
  std::string_view measure;  // its name in words
  double low = 0;
  double high = 0;
  std::optional<double> centre;  // the source's mean, marked on the bar
  std::string_view unit;
  std::string_view label;                     // what the bar shows, in a few words (the summary)
  std::string_view bounds;                    // what low and high are, in full (the reference list)
  std::string_view population;                // who was measured, how
  std::array<std::string_view, 2> citations;  // keys of report_citations(); "" when unused
  std::string_view evidence;  // where the numbers were read ("as reported in ..." if secondary)
};

struct ReportCitation {
  std::string_view key;
  std::string_view text;
};

// The one table of reference values the report shows, and the references it cites.
std::span<const ReferenceRange> reference_ranges();
std::span<const ReportCitation> report_citations();

// metadata (ffprobe-style JSON) format.tags.creation_time, when present.
std::optional<std::string> recording_date_from_metadata(const nlohmann::json& metadata);

// The report of `result` (a fresh analysis, or a stored one read back with from_json);
// `metadata` the job's metadata_json (ffprobe-style, from another process; may be null).
// `catalogue`: the measures the per-side and stride tables show (the result's table carries
// them). Never throws on unset, NaN or missing values: what is absent is shown as absent.
std::string render_clinical_report(const GaitResult& result, const nlohmann::json& metadata,
                                   const ReportContext& context,
                                   const std::vector<KeyFrameImage>& key_frames,
                                   const ReportSignals& signals,
                                   std::span<const StrideMeasure> catalogue = stride_measures());

}  // namespace dancer::analysis

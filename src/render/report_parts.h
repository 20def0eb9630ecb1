// Internals of the clinical report (render/clinical_report.h), written one file per section
// (report_<section>.cpp): the helpers the sections share, what the analysis says about itself
// (Facts), and the function of each section, each appending its HTML to `out`. The sections read
// the typed result (gait/gait_result.h), or the part of it they show: the table as reported
// (reported_table: what failing checks withhold is null), the gait's passes and events, the
// angles. Each number is rounded as to_json rounds the field it writes to the section's
// data-metric path (as_written), so the page shows what the results JSON says.
// render_clinical_report (clinical_report.cpp) calls the sections in the page's order.
#pragma once

#include <initializer_list>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "gait/gait_result.h"
#include "gait/measures.h"
#include "render/clinical_report.h"
#include "render/report_types.h"

namespace dancer::analysis::report {

using nlohmann::json;

// ---------------------------------------------------------------------------------------------
// Reference data and citations (report_references.cpp)

// The healthy-adult range of a summary row (ReferenceRange::metric), or null.
const ReferenceRange* find_range(std::string_view metric);
// The citation mark "[n]" of a key of report_citations(), linked to its reference.
std::string cite(std::string_view key);
// The citation marks of a range's sources.
std::string cites(const ReferenceRange& r);

// ---------------------------------------------------------------------------------------------
// Text (report_text.cpp)

std::string esc(std::string_view text);
std::string fixed(double v, int decimals);
std::string svg_num(double v);
// A number as the results JSON holds it: rounded to 1/scale as to_json rounds the field
// (common::json_number), null when absent or not finite.
std::optional<double> as_written(std::optional<double> v, double scale = 1000);
// data-value: a number as nlohmann::json dumps it (shortest round trip), or "null"; a count as
// JSON writes an integer.
std::string raw_value(double v);
std::string raw_value(std::optional<double> v);
std::string raw_count(long long n);
// A member of the job's metadata (ffprobe-style JSON from another process) by its path, or null.
const json& metadata_at(const json& metadata, std::initializer_list<const char*> path);
std::string metric_span(const std::string& path, const std::string& raw, const std::string& shown,
                        const std::string& extra_attrs = "");
std::string null_span(const std::string& path, const std::string& reason);
// `v` (already as_written) with `decimals`, or "—" and the reason.
std::string value_or_null(const std::string& path, std::optional<double> v, int decimals,
                          const std::string& reason);

// ---------------------------------------------------------------------------------------------
// What the analysis says about itself (report_facts.cpp)

constexpr int kMinStrides = kMinStridesForMean;  // the analyzer's minimum for a mean
constexpr int kStableVariability = 5;            // below this, a CV is flagged "few strides"

struct Facts {
  std::span<const StrideMeasure> measures;  // the catalogue (gait/measures.h)
  std::set<std::string> warnings;
  bool has(const char* w) const { return warnings.count(w) > 0; }
  std::optional<double> height_m;
  bool lengths_in_m = false;      // a subject height was given
  std::string no_strides_reason;  // why nothing was measured, "" when strides exist
  std::string short_reason;       // the same in two words, for table cells
};

const StrideMeasure& measure_of(const Facts& facts, std::string_view key);
// `table`: reported_table(result).
Facts facts_of(const GaitResult& result, const GaitTable& table,
               std::span<const StrideMeasure> catalogue);
std::string few_strides_reason(int n);
// A side's statistics of a measure, or null when the table's catalogue lacks it.
const SideStat* side_stat(const SideSummary& side, std::string_view key);
// A stride's value of a measure as written (strides[i].<key>), null when absent.
std::optional<double> stride_value(const GaitTable& table, const Stride& stride,
                                   std::string_view key);

// Mean of one stride field over every stride of both feet that has it, as long as at least
// kMinStrides do (the analyzer's own minimum for a mean).
struct StrideMean {
  std::optional<double> mean;
  int n = 0;
};

StrideMean stride_mean(const GaitTable& table, std::string_view key);

// ---------------------------------------------------------------------------------------------
// Page furniture (report_style.cpp)

// The page's style sheet (inline, admitted by its hash in the Content-Security-Policy).
extern const char* const kStyle;
std::string content_security_policy();

// ---------------------------------------------------------------------------------------------
// Plots: axes (report_axes.cpp), the sides' colours and the foot events (report_events.cpp)

struct Axis {
  double lo = 0;
  double hi = 1;
  double px0 = 0;
  double px1 = 1;
  double operator()(double v) const { return px0 + (v - lo) / (hi - lo) * (px1 - px0); }
};

std::string x_ticks(const Axis& ax, double y_top, double y, int target, const std::string& unit);
std::string y_ticks(const Axis& ay, double x_left, double x_right, int target);

constexpr const char* kLeftColour = "#1f4e9c";
constexpr const char* kRightColour = "#b3470c";
constexpr const char* kRightDash = "6 3";

// An event as written (events[i]): its time, visibility and prominence rounded as there.
struct Event {
  std::string foot;
  std::string type;
  double time_s = 0;
  long long frame = 0;
  // The foot's visibility and the signal's prominence at the event, and whether that evidence
  // is weak (docs/results.md, "Events").
  std::optional<double> visibility;
  std::optional<double> prominence;
  bool low_confidence = false;
};

// The gait's events in time order; one without a finite time is left out.
std::vector<Event> events_of(const std::vector<FootEvent>& events);
std::string ic_marker(double x, double y);
std::string to_marker(double x, double y);
std::string low_confidence_ring(double x, double y);
std::string event_group(const Event& e, const std::string& shape, double x, double y);

// ---------------------------------------------------------------------------------------------
// Sections, in the page's order

// `table` is reported_table(result) throughout.

// report_header.cpp
void header_section(std::string& out, const GaitResult& result, const json& metadata,
                    const ReportContext& context, const Facts& facts);
void limits_banner(std::string& out, const Facts& facts);
// report_summary.cpp
int bound_decimals(const ReferenceRange& r, int decimals);
void summary_section(std::string& out, const GaitTable& table, const Facts& facts);
// report_sides.cpp
void per_side_section(std::string& out, const GaitTable& table, const Facts& facts);
void symmetry_section(std::string& out, const GaitTable& table, const Facts& facts);
// report_timeline.cpp
void timeline_section(std::string& out, const KeypointGait& gait, const Facts& facts);
// report_kinematics.cpp
void kinematics_section(std::string& out, const GaitKinematics& angles, const GaitTable& table,
                        const Facts& facts);
// report_signals.cpp
void signals_section(std::string& out, const std::vector<FootEvent>& events, const Facts& facts,
                     const ReportSignals& signals);
// report_key_frames.cpp
void key_frames_section(std::string& out, const std::vector<KeyFrameImage>& frames);
// report_strides.cpp
void strides_section(std::string& out, const GaitTable& table, const Facts& facts);
// report_quality.cpp
void quality_section(std::string& out, const GaitResult& result);
// report_method.cpp
void method_section(std::string& out);
// report_references.cpp
void references_section(std::string& out);

}  // namespace dancer::analysis::report

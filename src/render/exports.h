// Exports of a pose-gait result for other systems, from the typed result (gait/gait_result.h;
// a stored `analysis` object is read back with from_json), as pure functions: the same result
// and context always give the same bytes. Every number is the one the results contract
// (docs/results.md) gives for it, rounded as there, with the measures a failing recording check
// withholds null (reported_table).
//
//   strides_csv  one CSV row per stride (docs/exports.md): for spreadsheets and statistics.
//   fhir_bundle  a FHIR R4 Bundle (docs/fhir.md): a DiagnosticReport with one Observation per
//                reported metric, the video as Media and the analyzer as Device, for an EHR.
//
// Neither computes a new figure: every number in them is a number of the analysis, and a null
// stays empty (CSV) or becomes a dataAbsentReason (FHIR), never a number. The measures are the
// catalogue the result's table was built with (GaitTable::measures).
#pragma once

#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "gait/gait_result.h"

namespace dancer::analysis {

// The result is not what an export needs (not pose-gait), or a FhirContext field is malformed.
// Always a fault of the caller, never of the recording.
class ExportError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// The strides as CSV (RFC 4180: CRLF line ends, a header row, fields quoted only when they must
// be): one row per stride in the table's order, '.' as the decimal point whatever the locale,
// numbers as the results JSON gives them (shortest round-trip form), an empty cell for null.
// Columns and units: docs/exports.md.
std::string strides_csv(const GaitResult& result);

// What the bundle needs that the analysis does not say. Dates are FHIR's formats (a partial
// date such as "2026-11" is a valid date; a date-time needs a time zone).
struct FhirContext {
  std::string job_id;     // seeds every id and fullUrl; DiagnosticReport.identifier
  std::string video_url;  // Media.content.url: where the analysed video is (s3://, https://)
  std::string video_content_type;  // Media.content.contentType, e.g. "video/mp4"
  std::string report_html;         // the HTML report's bytes: DiagnosticReport.presentedForm
  std::string recorded;            // date or dateTime of the recording; "" when unknown
  std::string issued;              // instant the analysis finished, e.g. "2026-11-28T07:10:00Z"
  std::string analyzer_name;       // Device name; "" takes result.analyzer.name
  std::string analyzer_version;    // Device version; "" takes result.analyzer.version
};

// Every subject reference in the bundle. The service does not know the patient: the backend
// replaces this reference with its own Patient's before it stores the resources.
inline constexpr std::string_view kFhirSubjectPlaceholder = "Patient/PLACEHOLDER";

// The project's CodeSystems (docs/fhir.md lists every code) and its job-id identifier system.
inline constexpr std::string_view kGaitMetricsSystem =
    "https://dancer.example/fhir/CodeSystem/gait-metrics";
inline constexpr std::string_view kGaitMethodsSystem =
    "https://dancer.example/fhir/CodeSystem/gait-methods";
inline constexpr std::string_view kJobIdSystem = "https://dancer.example/fhir/job-id";

// A Bundle of type "collection" (docs/fhir.md): the DiagnosticReport, its Observations, the
// video's Media and the analyzer's Device, each with fullUrl "urn:uuid:<id>" where the id is a
// name-based UUID (RFC 9562 version 5) of the job id and the resource's role. Observations whose
// metric the analysis left null carry a dataAbsentReason and a note saying why. Throws
// ExportError when the result is not pose-gait's (analyzer.name), or a context field is empty
// where required (job_id, video_url, video_content_type, issued) or not in FHIR's format.
nlohmann::json fhir_bundle(const GaitResult& result, const FhirContext& context);

}  // namespace dancer::analysis

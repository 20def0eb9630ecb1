// The subject's height in metres turns body heights into metres. It comes from four places,
// all parsed here: SUBJECT_HEIGHT_M, an upload's x-amz-meta-subject-height-m, `analyze
// --subject-height-m` and the analysis child's --subject-height-m.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace dancer::common {

// Plausible human statures. 0.5 m is below the shortest adult on record (0.55 m) and below
// any child old enough to walk (about 0.7 m at one year); 2.5 m is about the tallest living
// people (2.51 m). Anything outside is a unit mistake (170 meant in centimetres, 5.9 in feet)
// or not a height, and would publish absurd speeds and lengths.
inline constexpr double kMinSubjectHeightM = 0.5;
inline constexpr double kMaxSubjectHeightM = 2.5;

// The warning (results_json.analysis.quality.warnings) of a job whose per-object height was
// refused: its speed and lengths are in body heights only.
inline constexpr const char* kSubjectHeightRefusedWarning = "subject_height_refused";

// `text` as a height in metres: a plain decimal number ("1.72"), the whole text but for
// surrounding blanks, within [kMinSubjectHeightM, kMaxSubjectHeightM]. Anything else is
// nullopt: trailing characters ("1.7m"), exponents ("1e-9"), "nan", "inf", signs, commas,
// centimetres ("170"), and text longer than 32 characters.
std::optional<double> parse_subject_height_m(std::string_view text);

// What a refused height may show of itself in a log line or an error: at most 16 bytes,
// printable ASCII but '"' and '\' kept, every other byte as \xNN, "..." when cut.
std::string subject_height_excerpt(std::string_view text);

}  // namespace dancer::common

#include "render/clinical_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <limits>
#include <set>
#include <utility>

#include "common/sha256.h"
#include "common/strings.h"
#include "common/utf8.h"

namespace dancer::analysis {
namespace {

using nlohmann::json;

// ---------------------------------------------------------------------------------------------
// Reference data: the only healthy-adult values the report shows. Each was read in the cited
// paper's own abstract, or in a named secondary source that cites the original ("as reported
// in"). Values that could not be checked (textbook step length and stride time ranges, the
// decade CIs of Bohannon and Andrews, symmetry cut-offs, normal joint-angle curves) are
// deliberately absent: the report then shows the value without a range and says so.

constexpr std::array<ReportCitation, 9> kCitations{{
    {"bohannon2011",
     "Bohannon RW, Andrews AW. Normal walking speed: a descriptive meta-analysis. Physiotherapy. "
     "2011;97(3):182–189. doi:10.1016/j.physio.2010.12.004."},
    {"bae2024",
     "Bae WR, Seo Y, Yun S, Lee DT. Determination of moderate walking intensity using step rate "
     "and VO2 reserve in healthy men. BMC Public Health. 2024;24(1):403. "
     "doi:10.1186/s12889-024-17843-0."},
    {"perry",
     "Perry J. Gait Analysis: Normal and Pathological Function. Thorofare (NJ): SLACK; 1992 (2nd "
     "ed. with Burnfield JM, 2010). Phase durations as reported in Wikipedia, “Bipedal gait "
     "cycle”, which cites Perry 1992; the textbook itself was not consulted."},
    {"kirtley",
     "Kirtley C. Human Locomotion BE522: Gait Cycle Terminology. Course notes, "
     "clinicalgaitanalysis.com."},
    {"konig2016",
     "König N, Taylor WR, Baumann CR, Wenderoth N, Singh NB. Revealing the quality of movement: a "
     "meta-analysis review to quantify the thresholds to pathological variability during "
     "standing and walking. Neurosci Biobehav Rev. 2016;68:111. "
     "doi:10.1016/j.neubiorev.2016.03.035."},
    {"robinson1987",
     "Robinson RO, Herzog W, Nigg BM. Use of force platform variables to quantify the effects of "
     "chiropractic manipulation on gait symmetry. J Manipulative Physiol Ther. 1987;10:172."},
    {"zeni2008",
     "Zeni JA Jr, Richards JG, Higginson JS. Two simple methods for determining gait events "
     "during treadmill and overground walking using kinematic data. Gait Posture. "
     "2008;27:710."},
    {"stenum2021",
     "Stenum J, Rossi C, Roemmich RT. Two-dimensional video-based analysis of human gait using "
     "pose estimation. PLoS Comput Biol. 2021;17(4):e1008935."},
    {"bazarevsky2020",
     "Bazarevsky V, Grishchenko I, Raveendran K, Zhu T, Zhang F, Grundmann M. BlazePose: "
     "on-device real-time body pose tracking. arXiv:2006.10204; 2020."},
}};

constexpr std::array<ReferenceRange, 5> kRanges{{
    {.metric = "walking_speed_m_per_s",
     .measure = "walking speed",
     .low = 0.943,
     .high = 1.434,
     .centre = std::nullopt,
     .unit = "m/s",
     .label = "span of healthy adults' mean speeds by age and sex; not a normal range",
     .bounds = "span of the mean comfortable speeds by age decade and sex, from women aged 80–99 "
               "(0.943 m/s) to men aged 40–49 (1.434 m/s); these are group means, not the spread "
               "between people, and this person's age and sex are not known",
     .population = "healthy adults aged 20–99: 41 studies, 23,111 people, normal pace over 3–30 m",
     .citations = {"bohannon2011", ""},
     .evidence = "both bounds read in the paper's abstract (94.3 and 143.4 cm/s)"},
    {.metric = "cadence_steps_per_min",
     .measure = "cadence",
     .low = 98.4,
     .high = 135.6,
     .centre = 117.0,
     .unit = "steps/min",
     .label = "mean ± 2 SD of healthy young men (tick: mean)",
     .bounds = "mean ± 2 SD (117 ± 9.3 steps/min); the tick marks the mean",
     .population = "23 healthy young men, self-selected pace for 6 min on a 119 m oval track",
     .citations = {"bae2024", ""},
     .evidence = "read in the paper's abstract"},
    {.metric = "stance_pct",
     .measure = "stance",
     .low = 60,
     .high = 62,
     .centre = std::nullopt,
     .unit = "% of cycle",
     .label = "typical textbook values, not a between-person range",
     .bounds = "typical values: 60 % (Perry's phases) to about 62 % (Kirtley)",
     .population = "healthy adults at comfortable speed",
     .citations = {"perry", "kirtley"},
     .evidence = "as reported in Wikipedia, “Bipedal gait cycle” (Perry), and in Kirtley's "
                 "course notes"},
    {.metric = "double_support_pct",
     .measure = "double support",
     .low = 20,
     .high = 24,
     .centre = std::nullopt,
     .unit = "% of cycle",
     .label = "typical textbook values, not a between-person range",
     .bounds = "typical values of total double support: 20 % (two periods of about 10 %, "
               "Perry's phases) to about 24 % (two of about 12 %, Kirtley)",
     .population = "healthy adults at comfortable speed",
     .citations = {"perry", "kirtley"},
     .evidence = "as reported in Wikipedia, “Bipedal gait cycle” (Perry), and in Kirtley's "
                 "course notes"},
    {.metric = "stride_time_cv_pct",
     .measure = "stride-time variability",
     .low = 1.1,
     .high = 2.6,
     .centre = std::nullopt,
     .unit = "%",
     .label = "“window of healthy performance” (meta-analysis)",
     .bounds = "the “window of healthy performance”: thresholds of stride-time variability "
               "between healthy and pathological walking",
     .population = "meta-analysis of 109 studies: more than 3000 healthy people and 2775 patients",
     .citations = {"konig2016", ""},
     .evidence = "read in the paper's abstract"},
}};

const ReferenceRange* find_range(std::string_view metric) {
  for (const auto& r : kRanges) {
    if (r.metric == metric) return &r;
  }
  return nullptr;
}

int citation_number(std::string_view key) {
  for (std::size_t i = 0; i < kCitations.size(); ++i) {
    if (kCitations[i].key == key) return static_cast<int>(i) + 1;
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Text

// Everything that comes from outside (object names, tags, captions, warning names of an
// external analyzer) goes through here: made valid UTF-8 (the page declares UTF-8), then every
// character that could open markup or end an attribute value is escaped.
std::string esc(std::string_view text) {
  return common::escape_markup(common::to_valid_utf8(text));
}

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  std::string s = buf;
  // "-0.0" reads as a sign where there is none.
  if (s.front() == '-' && s.find_first_not_of("-0.") == std::string::npos) s.erase(0, 1);
  return s;
}

std::string svg_num(double v) { return fixed(v, 1); }

// The number as results_json writes it (shortest round trip), for data-value.
std::string raw_value(const json& v) {
  if (v.is_number()) return v.dump();
  return "null";
}

std::string raw_value(double v) { return std::isfinite(v) ? json(v).dump() : "null"; }
std::string raw_value(std::optional<double> v) { return v ? raw_value(*v) : "null"; }

const json& field(const json& j, const std::string& key) {
  static const json kNull;
  if (!j.is_object()) return kNull;
  const auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

std::optional<double> number(const json& v) {
  if (!v.is_number()) return std::nullopt;
  const double d = v.get<double>();
  return std::isfinite(d) ? std::optional<double>(d) : std::nullopt;
}

// A count from the JSON (strides, frames), clamped so that a foreign or corrupt value cannot
// overflow the conversion (undefined behaviour for out-of-range doubles).
int as_count(double v) { return static_cast<int>(std::clamp(v, -1e9, 1e9)); }
long long as_frame(double v) { return static_cast<long long>(std::clamp(v, -1e15, 1e15)); }

std::string text_of(const json& v) { return v.is_string() ? v.get<std::string>() : std::string(); }

const json& array_of(const json& v) {
  static const json kEmpty = json::array();
  return v.is_array() ? v : kEmpty;
}

std::string cite(std::string_view key) {
  const int n = citation_number(key);
  return "<a class=\"cite\" href=\"#ref-" + std::string(key) + "\">[" + std::to_string(n) + "]</a>";
}

std::string cites(const ReferenceRange& r) {
  std::string out;
  for (auto key : r.citations) {
    if (!key.empty()) out += cite(key);
  }
  return out;
}

// A figure drawn from the results: <span data-metric=path data-value=raw>shown</span>.
std::string metric_span(const std::string& path, const std::string& raw, const std::string& shown,
                        const std::string& extra_attrs = "") {
  return "<span data-metric=\"" + esc(path) + "\" data-value=\"" + esc(raw) + "\"" + extra_attrs +
         ">" + shown + "</span>";
}

// A null figure: "—" and why.
std::string null_span(const std::string& path, const std::string& reason) {
  std::string out = "<span class=\"null\" data-metric=\"" + esc(path) +
                    "\" data-value=\"null\" title=\"not measured\">—</span>";
  if (!reason.empty()) out += " <span class=\"reason\">" + reason + "</span>";
  return out;
}

std::string value_or_null(const std::string& path, const json& v, int decimals,
                          const std::string& reason) {
  const auto d = number(v);
  if (!d) return null_span(path, reason);
  return metric_span(path, raw_value(v), fixed(*d, decimals));
}

// ---------------------------------------------------------------------------------------------
// What the analysis says about itself

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

// The catalogue's entry for `key` (the report names only measures the catalogue declares).
const StrideMeasure& measure_of(const Facts& facts, std::string_view key) {
  for (const StrideMeasure& m : facts.measures) {
    if (m.key == key) return m;
  }
  throw std::logic_error("the report names a measure the catalogue lacks: " + std::string(key));
}

Facts facts_of(const json& analysis) {
  Facts f;
  for (const auto& w : array_of(field(field(analysis, "quality"), "warnings"))) {
    if (w.is_string()) f.warnings.insert(w.get<std::string>());
  }
  f.height_m = number(field(analysis, "subject_height_m"));
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
  } else if (array_of(field(analysis, "strides")).empty()) {
    f.no_strides_reason = "no complete stride was measured";
    f.short_reason = "no stride";
  }
  return f;
}

std::string few_strides_reason(int n) {
  if (n == 0) return "no stride";
  return "fewer than " + std::to_string(kMinStrides) + " strides (n = " + std::to_string(n) + ")";
}

// Mean of one stride field over every stride of both feet that has it, as long as at least
// kMinStrides do (the analyzer's own minimum for a mean).
struct StrideMean {
  std::optional<double> mean;
  int n = 0;
};

StrideMean stride_mean(const json& analysis, const std::string& key) {
  StrideMean m;
  double sum = 0;
  for (const auto& s : array_of(field(analysis, "strides"))) {
    if (const auto v = number(field(s, key))) {
      sum += *v;
      ++m.n;
    }
  }
  if (m.n >= kMinStrides) m.mean = sum / m.n;
  return m;
}

// ---------------------------------------------------------------------------------------------
// Page furniture

constexpr const char* kStyle = R"CSS(
:root{--ink:#111;--muted:#4a4a4a;--rule:#9a9a9a;--faint:#e4e4e4;--left:#1f4e9c;--right:#b3470c}
*{box-sizing:border-box}
html{font:10pt/1.4 "DejaVu Sans","Liberation Sans",Arial,Helvetica,sans-serif;color:var(--ink);background:#fff}
body{margin:0}
main{max-width:980px;margin:0 auto;padding:24px 28px}
h1{font-size:17pt;margin:0 0 2pt}
h2{font-size:12.5pt;margin:16pt 0 5pt;padding-bottom:2pt;border-bottom:1.2pt solid var(--ink);break-after:avoid;page-break-after:avoid}
h3{font-size:10.5pt;margin:10pt 0 4pt;break-after:avoid;page-break-after:avoid}
p{margin:4pt 0}
.sub{color:var(--muted);margin:0 0 8pt}
dl.meta{display:grid;grid-template-columns:max-content minmax(0,1fr) max-content minmax(0,1fr);gap:2pt 10pt;margin:6pt 0;padding:6pt 8pt;border:0.8pt solid var(--rule)}
dl.meta dt{font-weight:bold}
dl.meta dd{margin:0;overflow-wrap:anywhere}
table{border-collapse:collapse;width:100%;margin:4pt 0;font-variant-numeric:tabular-nums}
th,td{border-bottom:0.6pt solid var(--rule);padding:2pt 4pt;text-align:left;vertical-align:top}
thead th{border-bottom:1.2pt solid var(--ink);vertical-align:bottom}
thead{display:table-header-group}
td.num,th.num{text-align:right;white-space:nowrap}
table.compact{font-size:8.5pt}
table.compact th,table.compact td{padding:1.5pt 3pt}
.unit,.reason,.n,.note,.src{color:var(--muted)}
.reason{font-size:8.5pt}
.n{font-size:8.5pt;display:block}
.flag{display:inline-block;font-size:7.5pt;border:0.6pt solid var(--ink);padding:0 2pt;margin-left:2pt;white-space:nowrap}
.verdict{font-weight:bold}
.note{font-size:8.5pt}
.side-l{font-weight:bold}
a.cite{color:inherit;text-decoration:none;font-size:8pt;vertical-align:super;margin-left:1pt}
figure{margin:6pt 0 10pt;break-inside:avoid;page-break-inside:avoid}
figcaption{font-size:8.5pt;color:var(--muted);margin-top:2pt}
svg{display:block;max-width:100%;height:auto}
svg.plot{width:100%}
svg text{font-family:inherit}
img{max-width:100%;height:auto;display:block}
table,figure,.keep,dl.meta,.limits,tr{break-inside:avoid;page-break-inside:avoid}
.limits{border:1.2pt solid var(--ink);padding:5pt 8pt;margin:8pt 0}
.limits ul,.quality ul{margin:2pt 0;padding-left:14pt}
.frames{display:grid;grid-template-columns:repeat(3,minmax(0,1fr));gap:6pt}
.frames figure{margin:0}
.frames img{width:100%;border:0.6pt solid var(--rule)}
ol.refs{padding-left:18pt;font-size:8.5pt}
ol.refs li{margin-bottom:2pt;break-inside:avoid}
table.summary th:first-child{width:17%}
table.summary td.value{width:19%}
table.summary td.value > span:first-child{white-space:nowrap}
td.bar{width:222px}
table.group th.grp{text-align:center;border-bottom:0.6pt solid var(--rule)}
table.group .sep{border-left:0.8pt solid var(--rule)}
table.facts{width:auto;min-width:60%}
table.refvals td,table.refvals th{font-size:8.5pt}
#stride-table thead th{white-space:normal}
footer{margin-top:14pt;font-size:8pt;color:var(--muted)}
@page{size:A4;margin:14mm 14mm 16mm 14mm;@bottom-right{content:"page " counter(page) " of " counter(pages);font-size:8pt;color:#4a4a4a}@bottom-left{content:"Gait analysis report";font-size:8pt;color:#4a4a4a}}
@media print{
  html{font-size:9.5pt}
  main{max-width:none;padding:0}
  h2{margin-top:12pt}
  a{color:inherit;text-decoration:none}
}
)CSS";

// ---------------------------------------------------------------------------------------------
// Sections

std::string pretty_date(const std::string& iso) {
  // "2023-05-01T10:00:00.000000Z" -> "2023-05-01 10:00:00 UTC"; anything else as written.
  if (iso.size() >= 19 && iso[4] == '-' && iso[7] == '-' && (iso[10] == 'T' || iso[10] == ' ') &&
      iso[13] == ':' && iso[16] == ':') {
    std::string out = iso.substr(0, 10) + ' ' + iso.substr(11, 8);
    if (iso.back() == 'Z') out += " UTC";
    return out;
  }
  return iso;
}

std::string utc_text(std::chrono::system_clock::time_point tp) {
  const std::time_t t = std::chrono::system_clock::to_time_t(tp);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

std::string view_text(const json& analysis, const Facts& facts) {
  if (facts.has("no_person")) return "no person detected";
  if (facts.has("front_view")) return "front view (walking toward or away from the camera)";
  const auto& passes = array_of(field(analysis, "passes"));
  if (passes.empty()) return "not determined (no walking pass)";
  // Passes seen from the front or back (results 1.5.0 `view`) name their own views.
  std::set<std::string> frontal;
  for (const auto& p : passes) {
    const std::string v = text_of(field(p, "view"));
    const std::string d = text_of(field(p, "direction"));
    if (v == "front" || v == "back" || v == "oblique") {
      frontal.insert(v + " view, " + (d == "away_from_camera" ? "away from" : "toward") +
                     " the camera");
    }
  }
  if (!frontal.empty()) {
    std::string out;
    for (const auto& v : frontal) out += (out.empty() ? "" : "; ") + v;
    return out + " (timing only)";
  }
  std::string out = "side view, " + std::to_string(passes.size()) +
                    (passes.size() == 1 ? " pass" : " passes") + " across the image";
  std::set<std::string> directions;
  for (const auto& p : passes) {
    const std::string d = text_of(field(p, "direction"));
    if (d == "left_to_right") directions.insert("left to right");
    if (d == "right_to_left") directions.insert("right to left");
  }
  if (!directions.empty()) {
    out += " (";
    bool first = true;
    for (const auto& d : directions) {
      out += (first ? "" : ", ") + d;
      first = false;
    }
    out += ")";
  }
  return out;
}

void header_section(std::string& out, const json& analysis, const json& metadata,
                    const ReportContext& context, const Facts& facts) {
  const auto& analyzer = field(analysis, "analyzer");
  const auto& quality = field(analysis, "quality");
  out += "<header id=\"report-header\"><h1>Gait analysis report</h1>";
  out += "<p class=\"sub\">Video gait analysis from body keypoints</p>";
  out += "<dl class=\"meta\">";
  const auto row = [&out](const char* id, const char* label, const std::string& html) {
    out += "<dt>" + std::string(label) + "</dt><dd id=\"" + id + "\">" + html + "</dd>";
  };
  row("meta-object", "Recording", esc(context.object_name.empty() ? "—" : context.object_name));
  std::optional<std::string> recorded = context.recording_date;
  if (!recorded) recorded = recording_date_from_metadata(metadata);
  row("meta-recorded", "Recorded",
      recorded ? esc(pretty_date(*recorded))
               : "— <span class=\"reason\">the video states no creation time</span>");
  std::optional<double> duration = number(field(quality, "duration_s"));
  std::string duration_path = "quality.duration_s";
  if (!duration) {
    const auto& d = field(field(metadata, "format"), "duration");
    if (d.is_string()) {
      char* end = nullptr;
      const std::string s = d.get<std::string>();
      const double v = std::strtod(s.c_str(), &end);
      if (end != s.c_str() && std::isfinite(v)) duration = v;
    } else {
      duration = number(d);
    }
    duration_path = "metadata.format.duration";
  }
  row("meta-duration", "Duration",
      duration ? metric_span(duration_path, raw_value(duration), fixed(*duration, 2)) + " s"
               : std::string("—"));
  row("meta-view", "View", esc(view_text(analysis, facts)));
  std::string analyzer_text = esc(text_of(field(analyzer, "name")));
  if (const auto v = text_of(field(analyzer, "version")); !v.empty()) {
    analyzer_text += " " + esc(v);
  }
  row("meta-analyzer", "Analyzer", analyzer_text.empty() ? "—" : analyzer_text);
  std::string model = esc(text_of(field(analyzer, "pose_model")));
  if (const auto src = text_of(field(analyzer, "model_source")); !src.empty()) {
    model += " <span class=\"note\">(" + esc(src) + ")</span>";
  }
  row("meta-model", "Pose model", model.empty() ? "—" : model);
  row("meta-processed", "Processed", esc(utc_text(context.processed_at)));
  row("meta-height", "Subject height",
      facts.height_m
          ? metric_span("subject_height_m", raw_value(facts.height_m), fixed(*facts.height_m, 2)) +
                " m"
          : null_span("subject_height_m",
                      facts.has("subject_height_refused")
                          ? "refused (not a height in metres between 0.5 and 2.5): lengths in "
                            "body heights, speed in body heights/s"
                          : "not given: lengths in body heights, speed in body heights/s"));
  if (context.job_id) row("meta-job", "Job", esc(*context.job_id));
  out += "</dl></header>";
}

// Warnings that change what the numbers can be trusted for, shown before the numbers.
void limits_banner(std::string& out, const Facts& facts) {
  std::vector<std::string> items;
  if (facts.has("no_person")) items.push_back("Nobody was seen: there are no gait measures.");
  if (facts.has("front_view")) {
    items.push_back(
        "The video is a front view and no step could be timed from it: lengths and joint angles "
        "need a side view, so none is reported.");
  }
  if (facts.has("frontal_view_timing_only")) {
    items.push_back(
        "Walked toward or away from the camera: step timing and cadence are measured; step "
        "length, speed, stance and swing phases and joint angles need a side view and are not "
        "reported.");
  }
  if (facts.has("no_walking_pass")) {
    items.push_back("No steady walking across the image was found: no gait measures.");
  }
  if (facts.has("too_few_strides")) {
    items.push_back("Fewer than 3 strides in all: averages are missing or unreliable.");
  }
  if (facts.has("too_few_strides_left") || facts.has("too_few_strides_right")) {
    std::string sides = facts.has("too_few_strides_left") && facts.has("too_few_strides_right")
                            ? "both sides"
                        : facts.has("too_few_strides_left") ? "the left side"
                                                            : "the right side";
    items.push_back("Some values of " + sides +
                    " rest on fewer than 3 strides and are not reported (—).");
  }
  if (facts.has("backward_walking")) {
    items.push_back(
        "A pass was walked backward: the event method is validated for forward walking only.");
  }
  if (items.empty()) return;
  out += "<div class=\"limits\" id=\"limits\"><strong>Limits of this analysis</strong><ul>";
  for (const auto& i : items) out += "<li>" + i + "</li>";
  out +=
      "</ul><span class=\"note\">Details and how to film better: see Recording quality.</span>"
      "</div>";
}

// A range bar: the reference band, its bounds, the source's mean if any, and the value.
// Bounds given as whole numbers are shown as such (60 %, not 60.0 %).
int bound_decimals(const ReferenceRange& r, int decimals) {
  return r.low == std::round(r.low) && r.high == std::round(r.high) ? 0 : decimals;
}

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

SummaryRow walking_speed_row(const json& analysis, const Facts& facts) {
  SummaryRow r;
  r.label = "Walking speed";
  r.decimals = 2;
  const auto& ws = field(analysis, "walking_speed");
  const auto m_s = number(field(ws, "m_per_s"));
  const auto bh_s = number(field(ws, "body_heights_per_s"));
  const auto passes = number(field(ws, "passes"));
  const std::string& absent = facts.short_reason;
  if (m_s) {
    r.value = m_s;
    r.value_html =
        metric_span("walking_speed.m_per_s", raw_value(field(ws, "m_per_s")), fixed(*m_s, 2)) +
        " <span class=\"unit\">m/s</span>";
    r.range = find_range("walking_speed_m_per_s");
  } else if (bh_s) {
    r.value_html = metric_span("walking_speed.body_heights_per_s",
                               raw_value(field(ws, "body_heights_per_s")), fixed(*bh_s, 2)) +
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
  if (passes && *passes > 0) {
    r.n_html =
        metric_span("walking_speed.passes", raw_value(field(ws, "passes")), fixed(*passes, 0)) +
        (*passes == 1 ? " pass" : " passes");
  }
  return r;
}

SummaryRow cadence_row(const json& analysis, const Facts& facts) {
  SummaryRow r;
  r.label = "Cadence";
  r.decimals = 1;
  const std::string& absent = facts.short_reason;
  const auto& c = field(analysis, "cadence_steps_per_min");
  r.value = number(c);
  r.value_html = r.value ? metric_span("cadence_steps_per_min", raw_value(c), fixed(*r.value, 1)) +
                               " <span class=\"unit\">steps/min</span>"
                         : null_span("cadence_steps_per_min",
                                     absent.empty() ? "no alternating steps" : absent);
  if (const auto steps = number(field(analysis, "cadence_steps")); steps && *steps > 0) {
    r.n_html = metric_span("cadence_steps", raw_value(field(analysis, "cadence_steps")),
                           fixed(*steps, 0)) +
               " steps";
  }
  r.range = find_range("cadence_steps_per_min");
  return r;
}

// A mean over the strides of both feet, of a measure of the catalogue.
SummaryRow stride_mean_row(const json& analysis, const Facts& facts, std::string_view measure,
                           const char* range_key, const std::string& no_range_reason) {
  const StrideMeasure& sm = measure_of(facts, measure);
  const std::string key(sm.key);
  const std::string unit(sm.unit_report);
  const int decimals = sm.decimals;
  const std::string& absent = facts.short_reason;
  SummaryRow r;
  r.label = sm.label;
  r.decimals = decimals;
  const StrideMean m = stride_mean(analysis, key);
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
SummaryRow variability_row(const json& analysis, const Facts& facts, const char* side) {
  SummaryRow r;
  r.label = std::string("Stride-time variability, ") + side + " (CV)";
  r.decimals = 1;
  const std::string& absent = facts.short_reason;
  const auto& stat = field(field(field(analysis, "per_side"), side), "stride_time_s");
  const auto n = number(field(stat, "n"));
  const int strides = n ? as_count(*n) : 0;
  const std::string path = std::string("per_side.") + side + ".stride_time_s.cv";
  r.value = number(field(stat, "cv"));
  r.value_html = r.value ? metric_span(path, raw_value(field(stat, "cv")), fixed(*r.value, 1)) +
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

// The summary: speed, cadence, the stride means of both feet and each side's variability, each
// against its cited healthy-adult range where one was checked.
void summary_section(std::string& out, const json& analysis, const Facts& facts) {
  const char* kNoLengthNorm =
      "No cited reference: step length scales with stature, and the normative tables located "
      "could not be checked against their sources.";
  const std::vector<SummaryRow> rows = {
      walking_speed_row(analysis, facts),
      cadence_row(analysis, facts),
      stride_mean_row(analysis, facts,
                      facts.lengths_in_m ? "step_length_m" : "step_length_body_heights", nullptr,
                      kNoLengthNorm),
      stride_mean_row(analysis, facts, "stride_time_s", nullptr,
                      "No cited reference: the normative tables located could not be checked "
                      "against their sources."),
      stride_mean_row(analysis, facts, "stance_pct", "stance_pct", ""),
      stride_mean_row(analysis, facts, "double_support_pct", "double_support_pct", ""),
      variability_row(analysis, facts, "left"),
      variability_row(analysis, facts, "right")};
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

// ---------------------------------------------------------------------------------------------
// Plots

double nice_step(double span, int target) {
  const double raw = span / std::max(1, target);
  const double p = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    if (m * p >= raw) return m * p;
  }
  return 10 * p;
}

int decimals_for(double step) {
  if (step >= 1) return 0;
  return static_cast<int>(std::ceil(-std::log10(step) - 1e-9));
}

struct Axis {
  double lo = 0;
  double hi = 1;
  double px0 = 0;
  double px1 = 1;
  double operator()(double v) const { return px0 + (v - lo) / (hi - lo) * (px1 - px0); }
};

// Ticks and labels of a horizontal axis at y.
std::string x_ticks(const Axis& ax, double y_top, double y, int target, const std::string& unit) {
  std::string s;
  const double step = nice_step(ax.hi - ax.lo, target);
  const int dec = decimals_for(step);
  for (double t = std::ceil(ax.lo / step) * step; t <= ax.hi + 1e-9; t += step) {
    const double x = ax(t);
    s += "<line x1=\"" + svg_num(x) + "\" y1=\"" + svg_num(y_top) + "\" x2=\"" + svg_num(x) +
         "\" y2=\"" + svg_num(y) + "\" stroke=\"#e0e0e0\" stroke-width=\"0.6\"/>";
    s += "<line x1=\"" + svg_num(x) + "\" y1=\"" + svg_num(y) + "\" x2=\"" + svg_num(x) +
         "\" y2=\"" + svg_num(y + 4) + "\" stroke=\"#333\" stroke-width=\"0.8\"/>";
    s += "<text x=\"" + svg_num(x) + "\" y=\"" + svg_num(y + 14) +
         "\" font-size=\"10\" text-anchor=\"middle\">" + fixed(t, dec) + "</text>";
  }
  if (!unit.empty()) {
    s += "<text x=\"" + svg_num(ax.px1) + "\" y=\"" + svg_num(y + 26) +
         "\" font-size=\"9\" text-anchor=\"end\">" + unit + "</text>";
  }
  return s;
}

std::string y_ticks(const Axis& ay, double x_left, double x_right, int target) {
  std::string s;
  const double step = nice_step(ay.hi - ay.lo, target);
  const int dec = decimals_for(step);
  for (double t = std::ceil(ay.lo / step - 1e-9) * step; t <= ay.hi + 1e-9; t += step) {
    const double y = ay(t);
    const bool zero = std::abs(t) < step * 1e-6;
    s += "<line x1=\"" + svg_num(x_left) + "\" y1=\"" + svg_num(y) + "\" x2=\"" + svg_num(x_right) +
         "\" y2=\"" + svg_num(y) + "\" stroke=\"" + (zero ? "#777" : "#e0e0e0") +
         "\" stroke-width=\"" + (zero ? "0.8" : "0.6") + "\"/>";
    s += "<text x=\"" + svg_num(x_left - 3) + "\" y=\"" + svg_num(y + 3) +
         "\" font-size=\"10\" text-anchor=\"end\">" + fixed(t, dec) + "</text>";
  }
  return s;
}

constexpr const char* kLeftColour = "#1f4e9c";
constexpr const char* kRightColour = "#b3470c";
constexpr const char* kRightDash = "6 3";

struct Event {
  std::string foot;
  std::string type;
  double time_s = 0;
  long long frame = 0;
  // Since results 1.7.0: the foot's visibility and the signal's prominence at the event, and
  // whether that evidence is weak (docs/results.md, "Events").
  std::optional<double> visibility;
  std::optional<double> prominence;
  bool low_confidence = false;
};

std::vector<Event> events_of(const json& analysis) {
  std::vector<Event> out;
  for (const auto& e : array_of(field(analysis, "events"))) {
    const auto t = number(field(e, "time_s"));
    const std::string foot = text_of(field(e, "foot"));
    const std::string type = text_of(field(e, "type"));
    if (!t || (foot != "left" && foot != "right") ||
        (type != "initial_contact" && type != "toe_off")) {
      continue;
    }
    const auto f = number(field(e, "frame"));
    const json& low = field(e, "low_confidence");
    out.push_back({foot, type, *t, f ? as_frame(*f) : 0, number(field(e, "visibility")),
                   number(field(e, "prominence_body_heights")),
                   low.is_boolean() && low.get<bool>()});
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const Event& a, const Event& b) { return a.time_s < b.time_s; });
  return out;
}

struct Pass {
  double start_s = 0;
  double end_s = 0;
  std::string direction;
  bool backward = false;
};

std::vector<Pass> passes_of(const json& analysis) {
  std::vector<Pass> out;
  for (const auto& p : array_of(field(analysis, "passes"))) {
    const auto a = number(field(p, "start_s"));
    const auto b = number(field(p, "end_s"));
    if (!a || !b || *b < *a) continue;
    out.push_back(
        {*a, *b, text_of(field(p, "direction")), text_of(field(p, "facing")) == "backward"});
  }
  return out;
}

std::string pass_label(const Pass& p, std::size_t i) {
  std::string s = "Pass " + std::to_string(i + 1);
  if (p.direction == "left_to_right") s += " →";
  if (p.direction == "right_to_left") s += " ←";
  if (p.direction == "toward_camera") s += " (toward the camera)";
  if (p.direction == "away_from_camera") s += " (away from the camera)";
  if (p.backward) s += " (backward)";
  return s;
}

std::string ic_marker(double x, double y) {
  return "<path d=\"M" + svg_num(x - 4.5) + "," + svg_num(y - 8) + " L" + svg_num(x + 4.5) + "," +
         svg_num(y - 8) + " L" + svg_num(x) + "," + svg_num(y) +
         " Z\" fill=\"#000\" stroke=\"#fff\" stroke-width=\"0.6\"/>";
}

std::string to_marker(double x, double y) {
  return "<circle cx=\"" + svg_num(x) + "\" cy=\"" + svg_num(y) +
         "\" r=\"3.6\" fill=\"#fff\" stroke=\"#000\" stroke-width=\"1.4\"/>";
}

// An event of low confidence: a dashed ring around its marker.
std::string low_confidence_ring(double x, double y) {
  return "<circle class=\"low-confidence\" cx=\"" + svg_num(x) + "\" cy=\"" + svg_num(y) +
         "\" r=\"7.5\" fill=\"none\" stroke=\"#c00\" stroke-width=\"1.2\" "
         "stroke-dasharray=\"2 1.5\"/>";
}

std::string event_group(const Event& e, const std::string& shape, double x, double y) {
  const char* what = e.type == "initial_contact" ? "initial contact" : "toe-off";
  std::string title = e.foot + " " + what + ", " + fixed(e.time_s, 3) + " s (frame " +
                      std::to_string(e.frame) + ")";
  if (e.low_confidence) {
    title += "; low confidence";
    if (e.visibility) title += ", foot visibility " + fixed(*e.visibility, 2);
    if (e.prominence) title += ", signal " + fixed(*e.prominence, 3) + " body heights";
  }
  return "<g class=\"event\" data-event=\"" + e.type + "\" data-foot=\"" + e.foot +
         "\" data-time-s=\"" + raw_value(e.time_s) + "\" data-frame=\"" + std::to_string(e.frame) +
         "\"" + (e.low_confidence ? " data-low-confidence=\"true\"" : "") + "><title>" + title +
         "</title>" + shape + (e.low_confidence ? low_confidence_ring(x, y) : "") + "</g>";
}

std::string hatch_defs() {
  return "<defs><pattern id=\"hatch-right\" width=\"5\" height=\"5\" "
         "patternUnits=\"userSpaceOnUse\" "
         "patternTransform=\"rotate(45)\"><rect width=\"5\" height=\"5\" fill=\"#fff\"/>"
         "<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"5\" stroke=\"" +
         std::string(kRightColour) + "\" stroke-width=\"2.2\"/></pattern></defs>";
}

// Names how many events rest on weak evidence, and what that means; nothing when none does.
std::string low_confidence_sentence(std::ptrdiff_t low, std::size_t total) {
  if (low <= 0) return "";
  return " <span data-low-confidence-events=\"" + std::to_string(low) + "\">" +
         std::to_string(low) + " of " + std::to_string(total) + (low == 1 ? " rests" : " rest") +
         " on weak evidence (ringed): the foot was hardly visible to the pose model, or its "
         "signal stood out less than half as far as the walker's usual one. Check "
         "these in the verification video before relying on the measures built on them.</span>";
}

void timeline_section(std::string& out, const json& analysis, const Facts& facts) {
  const auto events = events_of(analysis);
  const auto passes = passes_of(analysis);
  out += "<section id=\"timeline\"><h2>Gait events</h2>";
  if (events.empty()) {
    out += "<p>No foot events to show";
    if (!facts.no_strides_reason.empty()) out += ": " + facts.no_strides_reason;
    out += ".</p></section>";
    return;
  }
  double t0 = events.front().time_s;
  double t1 = events.back().time_s;
  for (const auto& p : passes) {
    t0 = std::min(t0, p.start_s);
    t1 = std::max(t1, p.end_s);
  }
  const double pad = std::max(0.05, (t1 - t0) * 0.02);
  constexpr double kW = 680;
  constexpr double kLabel = 58;
  const Axis ax{t0 - pad, t1 + pad, kLabel, kW - 10};
  const double row_y[2] = {44, 84};  // left, right: bar centres
  constexpr double kBarH = 16;
  constexpr double kAxisY = 104;
  const double height = 160;
  std::string s =
      "<svg class=\"plot\" data-figure=\"timeline\" width=\"" + svg_num(kW) + "\" height=\"" +
      svg_num(height) + "\" viewBox=\"0 0 " + svg_num(kW) + " " + svg_num(height) +
      "\" role=\"img\" aria-label=\"stance phases and foot events over time\">" + hatch_defs();
  for (std::size_t i = 0; i < passes.size(); ++i) {
    const double x0 = ax(passes[i].start_s);
    const double x1 = ax(passes[i].end_s);
    s += "<rect data-pass=\"" + std::to_string(i) + "\" x=\"" + svg_num(x0) +
         "\" y=\"18\" width=\"" + svg_num(x1 - x0) + "\" height=\"" + svg_num(kAxisY - 18) +
         "\" fill=\"#f1f1f1\" stroke=\"#bbb\" stroke-width=\"0.6\" stroke-dasharray=\"3 2\"/>";
    s += "<text x=\"" + svg_num(x0 + 3) + "\" y=\"14\" font-size=\"9\">" +
         pass_label(passes[i], i) + "</text>";
  }
  s += x_ticks(ax, 18, kAxisY, 10, "time (s)");
  const auto pass_end_after = [&](double t) {
    for (const auto& p : passes) {
      if (t >= p.start_s - 1e-6 && t <= p.end_s + 1e-6) return p.end_s;
    }
    return ax.hi;
  };
  const auto pass_start_before = [&](double t) {
    for (const auto& p : passes) {
      if (t >= p.start_s - 1e-6 && t <= p.end_s + 1e-6) return p.start_s;
    }
    return ax.lo;
  };
  for (int side = 0; side < 2; ++side) {
    const std::string foot = side == 0 ? "left" : "right";
    const double yc = row_y[side];
    const std::string fill = side == 0 ? kLeftColour : "url(#hatch-right)";
    const std::string stroke = side == 0 ? kLeftColour : kRightColour;
    s += "<text x=\"4\" y=\"" + svg_num(yc + 4) + "\" font-size=\"11\" font-weight=\"bold\">" +
         (side == 0 ? "Left" : "Right") + "</text>";
    const auto bar = [&](double a, double b, bool open) {
      s += "<rect class=\"stance\" data-foot=\"" + foot + "\" data-open=\"" +
           (open ? "true" : "false") + "\" x=\"" + svg_num(ax(a)) + "\" y=\"" +
           svg_num(yc - kBarH / 2) + "\" width=\"" + svg_num(std::max(1.0, ax(b) - ax(a))) +
           "\" height=\"" + svg_num(kBarH) + "\" fill=\"" + fill + "\" fill-opacity=\"" +
           (open ? "0.45" : "1") + "\" stroke=\"" + stroke + "\" stroke-width=\"1\"" +
           (open ? " stroke-dasharray=\"3 2\"" : "") + "/>";
    };
    std::optional<double> open_ic;
    for (const auto& e : events) {
      if (e.foot != foot) continue;
      if (e.type == "initial_contact") {
        // A second contact without a toe-off between: the toe-off was not found; the first
        // contact's stance is left undrawn rather than guessed.
        open_ic = e.time_s;
      } else if (open_ic) {
        bar(*open_ic, e.time_s, false);
        open_ic.reset();
      } else {
        bar(pass_start_before(e.time_s), e.time_s, true);
      }
    }
    if (open_ic) bar(*open_ic, pass_end_after(*open_ic), true);
    for (const auto& e : events) {
      if (e.foot != foot) continue;
      const double x = ax(e.time_s);
      const double y = e.type == "initial_contact" ? yc - kBarH / 2 - 5 : yc;
      s += event_group(
          e, e.type == "initial_contact" ? ic_marker(x, yc - kBarH / 2 - 1) : to_marker(x, yc), x,
          y);
    }
  }
  // Legend
  const double ly = 140;
  s += "<rect x=\"" + svg_num(kLabel) + "\" y=\"" + svg_num(ly - 8) +
       "\" width=\"18\" height=\"10\" fill=\"" + kLeftColour + "\"/>";
  s += "<text x=\"" + svg_num(kLabel + 22) + "\" y=\"" + svg_num(ly) +
       "\" font-size=\"9\">left stance</text>";
  s += "<rect x=\"" + svg_num(kLabel + 88) + "\" y=\"" + svg_num(ly - 8) +
       "\" width=\"18\" height=\"10\" fill=\"url(#hatch-right)\" stroke=\"" + kRightColour + "\"/>";
  s += "<text x=\"" + svg_num(kLabel + 110) + "\" y=\"" + svg_num(ly) +
       "\" font-size=\"9\">right stance</text>";
  s += ic_marker(kLabel + 190, ly + 1) + "<text x=\"" + svg_num(kLabel + 198) + "\" y=\"" +
       svg_num(ly) + "\" font-size=\"9\">initial contact</text>";
  s += to_marker(kLabel + 280, ly - 3) + "<text x=\"" + svg_num(kLabel + 288) + "\" y=\"" +
       svg_num(ly) + "\" font-size=\"9\">toe-off</text>";
  const auto low =
      std::count_if(events.begin(), events.end(), [](const Event& e) { return e.low_confidence; });
  if (low > 0) {
    s += low_confidence_ring(kLabel + 534, ly - 3) + "<text x=\"" + svg_num(kLabel + 545) +
         "\" y=\"" + svg_num(ly) + "\" font-size=\"9\">low confidence</text>";
  }
  s += "<rect x=\"" + svg_num(kLabel + 340) + "\" y=\"" + svg_num(ly - 8) +
       "\" width=\"18\" height=\"10\" fill=\"#888\" fill-opacity=\"0.45\" stroke=\"#333\" "
       "stroke-dasharray=\"3 2\"/><text x=\"" +
       svg_num(kLabel + 362) + "\" y=\"" + svg_num(ly) +
       "\" font-size=\"9\">stance continuing beyond the pass</text>";
  s += "</svg>";
  out += "<figure>" + s +
         "<figcaption>Each foot's stance (initial contact to toe-off) over time; the gaps are "
         "swing. Grey boxes are the walking passes analysed. " +
         std::to_string(events.size()) + " events." + low_confidence_sentence(low, events.size()) +
         "</figcaption></figure></section>";
}

// One side's 101-sample curve, or nothing.
std::optional<std::vector<double>> curve(const json& v) {
  if (!v.is_array() || v.size() < 2) return std::nullopt;
  std::vector<double> out;
  out.reserve(v.size());
  for (const auto& x : v) {
    const auto d = number(x);
    if (!d) return std::nullopt;
    out.push_back(*d);
  }
  return out;
}

struct SideCurve {
  std::optional<std::vector<double>> mean;
  std::optional<std::vector<double>> sd;
  int n = 0;
};

SideCurve side_curve(const json& cycles, const char* side, const char* joint) {
  SideCurve c;
  const auto& s = field(cycles, side);
  c.mean = curve(field(field(s, joint), "mean"));
  c.sd = curve(field(field(s, joint), "sd"));
  if (c.sd && c.mean && c.sd->size() != c.mean->size()) c.sd.reset();
  const auto n = number(field(s, "n"));
  c.n = n ? as_count(*n) : 0;
  return c;
}

std::string angle_panel(double x0, double width, const char* joint, const char* title,
                        const SideCurve& left, const SideCurve& right,
                        std::optional<double> to_left, std::optional<double> to_right) {
  constexpr double kTop = 22;
  constexpr double kBottom = 176;
  const double left_px = x0 + 32;
  const double right_px = x0 + width - 14;
  double lo = std::numeric_limits<double>::infinity();
  double hi = -lo;
  for (const SideCurve* c : {&left, &right}) {
    if (!c->mean) continue;
    for (std::size_t i = 0; i < c->mean->size(); ++i) {
      const double sd = c->sd ? (*c->sd)[i] : 0;
      lo = std::min(lo, (*c->mean)[i] - sd);
      hi = std::max(hi, (*c->mean)[i] + sd);
    }
  }
  lo = std::floor(lo / 10) * 10;
  hi = std::ceil(hi / 10) * 10;
  if (hi - lo < 20) hi = lo + 20;
  const Axis ax{0, 100, left_px, right_px};
  const Axis ay{lo, hi, kBottom, kTop};
  std::string s = "<g data-panel=\"" + std::string(joint) + "\">";
  s += "<text x=\"" + svg_num(left_px) + "\" y=\"14\" font-size=\"11\" font-weight=\"bold\">" +
       title + "</text>";
  s += y_ticks(ay, left_px, right_px, 5);
  s += x_ticks(ax, kTop, kBottom, 5, "% of gait cycle");
  s += "<rect x=\"" + svg_num(left_px) + "\" y=\"" + svg_num(kTop) + "\" width=\"" +
       svg_num(right_px - left_px) + "\" height=\"" + svg_num(kBottom - kTop) +
       "\" fill=\"none\" stroke=\"#333\" stroke-width=\"0.8\"/>";
  const auto to_line = [&](std::optional<double> pct, const char* label, double dy) {
    if (!pct) return;
    const double x = ax(*pct);
    s += "<line x1=\"" + svg_num(x) + "\" y1=\"" + svg_num(kTop) + "\" x2=\"" + svg_num(x) +
         "\" y2=\"" + svg_num(kBottom) +
         "\" stroke=\"#000\" stroke-width=\"0.8\" "
         "stroke-dasharray=\"1 2\"/><text x=\"" +
         svg_num(x + 2) + "\" y=\"" + svg_num(kTop + 10 + dy) + "\" font-size=\"8\">" + label +
         "</text>";
  };
  to_line(to_left, "TO L", 0);
  to_line(to_right, "TO R", 10);
  for (int side = 0; side < 2; ++side) {
    const SideCurve& c = side == 0 ? left : right;
    if (!c.mean) continue;
    const char* colour = side == 0 ? kLeftColour : kRightColour;
    const std::size_t n = c.mean->size();
    const auto xi = [&](std::size_t i) { return ax(100.0 * static_cast<double>(i) / (n - 1)); };
    if (c.sd) {
      std::string band = "M";
      for (std::size_t i = 0; i < n; ++i) {
        band += (i ? " L" : "") + svg_num(xi(i)) + "," + svg_num(ay((*c.mean)[i] + (*c.sd)[i]));
      }
      for (std::size_t i = n; i-- > 0;) {
        band += " L" + svg_num(xi(i)) + "," + svg_num(ay((*c.mean)[i] - (*c.sd)[i]));
      }
      s += "<path data-band=\"" + std::string(side == 0 ? "left." : "right.") + joint + "\" d=\"" +
           band + " Z\" fill=\"" + colour + "\" fill-opacity=\"" + (side == 0 ? "0.22" : "0.16") +
           "\" stroke=\"none\"/>";
    }
    std::string line = "M";
    for (std::size_t i = 0; i < n; ++i) {
      line += (i ? " L" : "") + svg_num(xi(i)) + "," + svg_num(ay((*c.mean)[i]));
    }
    s += "<path data-curve=\"" + std::string(side == 0 ? "left." : "right.") + joint +
         ".mean\" data-n=\"" + std::to_string(c.n) + "\" d=\"" + line +
         "\" fill=\"none\" stroke=\"" + colour + "\" stroke-width=\"1.8\"" +
         (side == 1 ? std::string(" stroke-dasharray=\"") + kRightDash + "\"" : "") + "/>";
  }
  if (!left.mean && !right.mean) {
    s += "<text x=\"" + svg_num((left_px + right_px) / 2) + "\" y=\"" +
         svg_num((kTop + kBottom) / 2) +
         "\" font-size=\"10\" text-anchor=\"middle\">not enough strides</text>";
  }
  return s + "</g>";
}

void kinematics_section(std::string& out, const json& analysis, const Facts& facts) {
  const auto& kin = field(analysis, "kinematics");
  const auto& cycles = field(kin, "cycles");
  out += "<section id=\"kinematics\"><h2>Joint angles over the gait cycle</h2>";
  constexpr std::array<std::pair<const char*, const char*>, 3> kJointsShown{
      {{"hip", "Hip (+ flexion)"},
       {"knee", "Knee (+ flexion)"},
       {"ankle", "Ankle (+ dorsiflexion)"}}};
  bool any = false;
  std::array<SideCurve, 3> lefts;
  std::array<SideCurve, 3> rights;
  for (std::size_t j = 0; j < kJointsShown.size(); ++j) {
    lefts[j] = side_curve(cycles, "left", kJointsShown[j].first);
    rights[j] = side_curve(cycles, "right", kJointsShown[j].first);
    any = any || lefts[j].mean || rights[j].mean;
  }
  const int nl = lefts[0].n;
  const int nr = rights[0].n;
  const auto side_status = [&](const char* side, int n, bool has) {
    return std::string(side) + ": " +
           (has ? std::to_string(n) + (n == 1 ? " stride" : " strides")
                : "not enough strides (" + std::to_string(n) + "; " + std::to_string(kMinStrides) +
                      " needed)");
  };
  bool left_has = false;
  bool right_has = false;
  for (std::size_t j = 0; j < 3; ++j) {
    left_has = left_has || lefts[j].mean.has_value();
    right_has = right_has || rights[j].mean.has_value();
  }
  if (!any) {
    out += "<p data-kinematics=\"none\">No joint-angle curves: ";
    out += !facts.no_strides_reason.empty() && nl == 0 && nr == 0
               ? facts.no_strides_reason
               : "not enough strides (" + side_status("left", nl, false) + "; " +
                     side_status("right", nr, false) + ")";
    out += ".</p>";
  } else {
    const auto stance = [&](const char* side) {
      return number(field(field(field(field(analysis, "per_side"), side), "stance_pct"), "mean"));
    };
    constexpr double kW = 690;
    constexpr double kPanel = 230;
    constexpr double kH = 236;
    std::string s = "<svg class=\"plot\" data-figure=\"kinematics\" width=\"" + svg_num(kW) +
                    "\" height=\"" + svg_num(kH) + "\" viewBox=\"0 0 " + svg_num(kW) + " " +
                    svg_num(kH) +
                    "\" role=\"img\" aria-label=\"hip, knee and ankle angles over the gait "
                    "cycle, mean and SD per side\">";
    for (std::size_t j = 0; j < kJointsShown.size(); ++j) {
      s += angle_panel(j * kPanel, kPanel, kJointsShown[j].first, kJointsShown[j].second, lefts[j],
                       rights[j], stance("left"), stance("right"));
    }
    const double ly = 224;
    s += "<line x1=\"40\" y1=\"" + svg_num(ly - 3) + "\" x2=\"64\" y2=\"" + svg_num(ly - 3) +
         "\" stroke=\"" + kLeftColour + "\" stroke-width=\"1.8\"/>";
    s += "<text x=\"68\" y=\"" + svg_num(ly) + "\" font-size=\"9\">" +
         side_status("Left", nl, left_has) + "</text>";
    s += "<line x1=\"330\" y1=\"" + svg_num(ly - 3) + "\" x2=\"354\" y2=\"" + svg_num(ly - 3) +
         "\" stroke=\"" + kRightColour + "\" stroke-width=\"1.8\" stroke-dasharray=\"" +
         kRightDash + "\"/>";
    s += "<text x=\"358\" y=\"" + svg_num(ly) + "\" font-size=\"9\">" +
         side_status("Right (dashed)", nr, right_has) + "</text>";
    s += "</svg>";
    out += "<figure>" + s +
           "<figcaption>Mean (line) ± 1 SD (shaded) of each side's strides, from initial contact "
           "(0 %) to the next of the same foot (100 %). Left: solid line; right: dashed line. "
           "TO: mean toe-off of the side, where known. 2D angles in the image plane; no normal "
           "curves are drawn because published curves come from 3D motion capture with other "
           "angle definitions.</figcaption></figure>";
  }
  // Peaks
  const auto& peaks = field(kin, "peaks");
  if (peaks.is_object() && any) {
    constexpr std::array<std::pair<const char*, const char*>, 9> kPeaks{{
        {"hip_flexion_max", "Hip flexion, maximum"},
        {"hip_extension_max", "Hip extension, maximum"},
        {"hip_rom", "Hip range of motion"},
        {"knee_flexion_loading_max", "Knee flexion in loading, maximum"},
        {"knee_flexion_swing_max", "Knee flexion in swing, maximum"},
        {"knee_rom", "Knee range of motion"},
        {"ankle_dorsiflexion_stance_max", "Ankle dorsiflexion in stance, maximum"},
        {"ankle_plantarflexion_max", "Ankle plantarflexion, maximum"},
        {"ankle_rom", "Ankle range of motion"},
    }};
    out +=
        "<h3>Peak angles (degrees)</h3><table class=\"compact\"><thead><tr><th>Angle</th>"
        "<th class=\"num\">Left mean ± SD</th><th class=\"num\">n</th>"
        "<th class=\"num\">Right mean ± SD</th><th class=\"num\">n</th></tr></thead><tbody>";
    for (const auto& [key, label] : kPeaks) {
      out += "<tr><th scope=\"row\">" + std::string(label) + "</th>";
      for (const char* side : {"left", "right"}) {
        const auto& p = field(field(peaks, side), key);
        const std::string base = std::string("kinematics.peaks.") + side + "." + key;
        const auto mean = number(field(p, "mean"));
        const auto sd = number(field(p, "sd"));
        const auto n = number(field(p, "n"));
        const int strides = n ? as_count(*n) : 0;
        out += "<td class=\"num\">";
        if (mean) {
          out += metric_span(base + ".mean", raw_value(field(p, "mean")), fixed(*mean, 1)) + " ± " +
                 (sd ? metric_span(base + ".sd", raw_value(field(p, "sd")), fixed(*sd, 1))
                     : null_span(base + ".sd", ""));
        } else {
          out += null_span(base + ".mean", few_strides_reason(strides));
        }
        out += "</td><td class=\"num\">" +
               (n ? metric_span(base + ".n", raw_value(field(p, "n")), std::to_string(strides))
                  : std::string("—")) +
               "</td>";
      }
      out += "</tr>";
    }
    out += "</tbody></table>";
  }
  const auto& conv = field(kin, "conventions");
  if (conv.is_object() && any) {
    out += "<p class=\"note\">Angle definitions: ";
    bool first = true;
    for (const char* j : {"hip", "knee", "ankle"}) {
      const std::string t = text_of(field(conv, j));
      if (t.empty()) continue;
      out += (first ? "" : "; ") + std::string(j) + ": " + esc(t);
      first = false;
    }
    out += ".</p>";
  }
  out += "</section>";
}

void signals_section(std::string& out, const json& analysis, const Facts& facts,
                     const ReportSignals& signals) {
  const std::size_t n = signals.time_s.size();
  bool any = false;
  double ylo = std::numeric_limits<double>::infinity();
  double yhi = -ylo;
  double tlo = ylo;
  double thi = -ylo;
  for (const auto& series : signals.heel_ahead) {
    for (std::size_t i = 0; i < std::min(n, series.size()); ++i) {
      if (!std::isfinite(series[i]) || !std::isfinite(signals.time_s[i])) continue;
      any = true;
      ylo = std::min(ylo, series[i]);
      yhi = std::max(yhi, series[i]);
      tlo = std::min(tlo, signals.time_s[i]);
      thi = std::max(thi, signals.time_s[i]);
    }
  }
  out += "<section id=\"signals\"><h2>Keypoint signals</h2>";
  if (!any) {
    out += "<p data-signals=\"none\">No keypoint signal to show: ";
    if (!facts.no_strides_reason.empty()) {
      out += facts.no_strides_reason;
    } else if (n == 0) {
      out += "the signals were not supplied with this report";
    } else {
      out += "the feet were not tracked in any walking pass";
    }
    out += ".</p></section>";
    return;
  }
  const auto events = events_of(analysis);
  for (const auto& e : events) {
    tlo = std::min(tlo, e.time_s);
    thi = std::max(thi, e.time_s);
  }
  const double tpad = std::max(0.05, (thi - tlo) * 0.02);
  const double ypad = std::max(0.02, (yhi - ylo) * 0.12);
  constexpr double kW = 680;
  constexpr double kTop = 12;
  constexpr double kBottom = 190;
  const Axis ax{tlo - tpad, thi + tpad, 46, kW - 10};
  const Axis ay{ylo - ypad, yhi + ypad, kBottom, kTop};
  std::string s = "<svg class=\"plot\" data-figure=\"signals\" width=\"" + svg_num(kW) +
                  "\" height=\"238\" viewBox=\"0 0 " + svg_num(kW) +
                  " 238\" role=\"img\" aria-label=\"heel ahead of the pelvis per foot over time, "
                  "with the detected events\">";
  s += y_ticks(ay, ax.px0, ax.px1, 5);
  s += x_ticks(ax, kTop, kBottom, 10, "time (s)");
  s += "<rect x=\"" + svg_num(ax.px0) + "\" y=\"" + svg_num(kTop) + "\" width=\"" +
       svg_num(ax.px1 - ax.px0) + "\" height=\"" + svg_num(kBottom - kTop) +
       "\" fill=\"none\" stroke=\"#333\" stroke-width=\"0.8\"/>";
  s += "<text x=\"8\" y=\"" + svg_num((kTop + kBottom) / 2) +
       "\" font-size=\"9\" text-anchor=\"middle\" transform=\"rotate(-90 8 " +
       svg_num((kTop + kBottom) / 2) + ")\">heel ahead of pelvis (body heights)</text>";
  const auto value_at = [&](int side, double t) -> std::optional<double> {
    const auto& y = signals.heel_ahead[static_cast<std::size_t>(side)];
    const std::size_t m = std::min(n, y.size());
    for (std::size_t i = 1; i < m; ++i) {
      const double a = signals.time_s[i - 1];
      const double b = signals.time_s[i];
      if (t < a || t > b) continue;
      if (!std::isfinite(y[i - 1]) || !std::isfinite(y[i])) {
        return std::isfinite(y[i])       ? std::optional<double>(y[i])
               : std::isfinite(y[i - 1]) ? std::optional<double>(y[i - 1])
                                         : std::nullopt;
      }
      const double w = b > a ? (t - a) / (b - a) : 0;
      return y[i - 1] + w * (y[i] - y[i - 1]);
    }
    return std::nullopt;
  };
  for (int side = 0; side < 2; ++side) {
    const auto& y = signals.heel_ahead[static_cast<std::size_t>(side)];
    const std::size_t m = std::min(n, y.size());
    std::string d;
    bool pen = false;
    for (std::size_t i = 0; i < m; ++i) {
      if (!std::isfinite(y[i]) || !std::isfinite(signals.time_s[i])) {
        pen = false;
        continue;
      }
      d += (pen ? " L" : " M") + svg_num(ax(signals.time_s[i])) + "," + svg_num(ay(y[i]));
      pen = true;
    }
    if (d.empty()) continue;
    s += "<path data-signal=\"" + std::string(side == 0 ? "left" : "right") + "\" d=\"" + d +
         "\" fill=\"none\" stroke=\"" + (side == 0 ? kLeftColour : kRightColour) +
         "\" stroke-width=\"1.5\"" +
         (side == 1 ? std::string(" stroke-dasharray=\"") + kRightDash + "\"" : "") + "/>";
  }
  for (const auto& e : events) {
    const int side = e.foot == "left" ? 0 : 1;
    const auto v = value_at(side, e.time_s);
    const double x = ax(e.time_s);
    const double yv = v ? ay(*v) : kTop + 6;
    const double ring_y = e.type == "initial_contact" ? yv - 6 : yv;
    s += event_group(e, e.type == "initial_contact" ? ic_marker(x, yv - 2) : to_marker(x, yv), x,
                     ring_y);
  }
  const double ly = 230;
  s += "<line x1=\"46\" y1=\"" + svg_num(ly - 3) + "\" x2=\"70\" y2=\"" + svg_num(ly - 3) +
       "\" stroke=\"" + kLeftColour + "\" stroke-width=\"1.5\"/><text x=\"74\" y=\"" + svg_num(ly) +
       "\" font-size=\"9\">left heel</text>";
  s += "<line x1=\"150\" y1=\"" + svg_num(ly - 3) + "\" x2=\"174\" y2=\"" + svg_num(ly - 3) +
       "\" stroke=\"" + kRightColour + "\" stroke-width=\"1.5\" stroke-dasharray=\"" + kRightDash +
       "\"/><text x=\"178\" y=\"" + svg_num(ly) + "\" font-size=\"9\">right heel (dashed)</text>";
  s += ic_marker(300, ly + 1) + "<text x=\"308\" y=\"" + svg_num(ly) +
       "\" font-size=\"9\">initial contact</text>";
  s += to_marker(400, ly - 3) + "<text x=\"408\" y=\"" + svg_num(ly) +
       "\" font-size=\"9\">toe-off</text>";
  s += "</svg>";
  out += "<figure>" + s +
         "<figcaption>How far each heel is ahead of the pelvis along the walking "
         "direction, after the 6 Hz low-pass. Initial contact is the heel's largest reach ahead "
         "(Zeni et al. " +
         cite("zeni2008") +
         "); toe-off is timed from the toe's largest reach behind, so it lies near, not at, the "
         "heel's lowest point.</figcaption></figure></section>";
}

// ---------------------------------------------------------------------------------------------
// Key frames

// The image type from its signature (PNG, RFC 2083 section 3.1; JPEG SOI marker), so the data:
// URI never claims a type the bytes are not.
const char* image_type(const std::string& bytes) {
  if (bytes.size() >= 8 && bytes.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0) return "image/png";
  if (bytes.size() >= 3 && bytes.compare(0, 3, "\xff\xd8\xff") == 0) return "image/jpeg";
  return nullptr;
}

void key_frames_section(std::string& out, const std::vector<KeyFrameImage>& frames) {
  if (frames.empty()) return;
  out += "<section id=\"key-frames\"><h2>Key frames at initial contact</h2><div class=\"frames\">";
  for (const auto& k : frames) {
    const std::string caption =
        esc(k.caption) + " — " + fixed(k.time_s, 2) + " s (frame " + std::to_string(k.frame) + ")";
    out += "<figure class=\"key-frame\" data-frame=\"" + std::to_string(k.frame) +
           "\" data-time-s=\"" + raw_value(k.time_s) + "\">";
    if (const char* type = image_type(k.png)) {
      out += "<img alt=\"" + caption + "\" src=\"data:" + type + ";base64," +
             common::base64_encode(k.png) + "\">";
    } else {
      out += "<p class=\"reason\">image not in a format the report can show</p>";
    }
    out += "<figcaption>" + caption + "</figcaption></figure>";
  }
  out += "</div></section>";
}

// ---------------------------------------------------------------------------------------------
// Strides

void strides_section(std::string& out, const json& analysis, const Facts& facts) {
  const auto& strides = array_of(field(analysis, "strides"));
  out += "<section id=\"strides\"><h2>Strides</h2>";
  if (strides.empty()) {
    out += "<p>No stride was measured";
    if (!facts.no_strides_reason.empty()) out += ": " + facts.no_strides_reason;
    out += ".</p></section>";
    return;
  }
  // The stride's start, the catalogue's measures for this table, and its pass.
  struct Col {
    std::string key;
    std::string head;
    int decimals;
  };
  std::vector<Col> cols{{"start_s", "Start (s)", 3}};
  for (const StrideMeasure& m : facts.measures) {
    if (!m.stride_table || !shown_with_height(m, facts.lengths_in_m)) continue;
    cols.push_back({std::string(m.key),
                    std::string(m.label) + " (" + std::string(m.unit_short) + ")", m.decimals});
  }
  cols.push_back({"pass", "Pass", 0});
  out +=
      "<table class=\"compact\" id=\"stride-table\"><thead><tr><th class=\"num\">#</th>"
      "<th>Foot</th>";
  for (const auto& c : cols) out += "<th class=\"num\">" + c.head + "</th>";
  out += "</tr></thead><tbody>";
  bool phases_missing = false;
  for (std::size_t i = 0; i < strides.size(); ++i) {
    const auto& s = strides[i];
    const std::string foot = text_of(field(s, "foot"));
    out += "<tr data-stride=\"" + std::to_string(i) + "\"><td class=\"num\">" +
           std::to_string(i + 1) + "</td><td>" +
           (foot == "left"    ? "Left"
            : foot == "right" ? "Right"
                              : esc(foot)) +
           "</td>";
    for (const auto& c : cols) {
      const std::string path = "strides." + std::to_string(i) + "." + c.key;
      const auto& v = field(s, c.key);
      if (c.key == "pass") {
        const auto p = number(v);
        out += "<td class=\"num\">" +
               (p ? metric_span(path, raw_value(v), std::to_string(as_frame(*p) + 1))
                  : null_span(path, "")) +
               "</td>";
        continue;
      }
      if (!number(v)) phases_missing = true;
      out += "<td class=\"num\">" + value_or_null(path, v, c.decimals, "") + "</td>";
    }
    out += "</tr>";
  }
  out +=
      "</tbody></table><p class=\"note\">A stride runs from a foot's initial contact to its next. "
      "Step time and step length belong to the step that closes the stride.";
  if (phases_missing) {
    out +=
        " — in a phase column: the events of that stride did not come in gait's order "
        "(contact, other toe-off, other contact, own toe-off), so its phases were not "
        "measured.";
  }
  out += "</p></section>";
}

// ---------------------------------------------------------------------------------------------
// Quality

struct WarningText {
  const char* name;
  const char* what;    // what limited the analysis
  const char* better;  // how to film better ("" when nothing to do)
};

// Sized by its entries, so adding a warning is one entry.
constexpr WarningText kWarnings[] = {
    {"no_person", "Nobody was seen in the video long enough to analyse.",
     "Film the whole body, head to feet, from the side, in good light."},
    {"front_view",
     "The person faced the camera, and no step could be timed from the front either. Step "
     "length and joint angles need a side view.",
     "Place the camera at the side of the walkway, at hip height, square to the walking "
     "direction, so the person crosses the picture."},
    {"frontal_view_timing_only",
     "Walked toward or away from the camera: the steps were timed from the front (cadence, "
     "step and stride times), but step length, walking speed, stance and swing phases and joint "
     "angles need a side view and were not measured.",
     "For lengths, speed and joint angles, place the camera at the side of the walkway, at hip "
     "height, square to the walking direction."},
    {"no_walking_pass", "A person was seen, but no stretch of steady walking across the picture.",
     "Ask for steady walking across the whole picture: start walking before entering it and "
     "keep going until after leaving it."},
    {"too_few_strides",
     "Fewer than 3 complete strides were measured in all: averages are missing or rest on very "
     "few strides.",
     "Record at least 3 strides per side (5 or more is better): walk several times across the "
     "picture, or use a longer walkway with the camera further back."},
    {"too_few_strides_left",
     "Some left-side values rest on fewer than 3 strides and are not reported; symmetry indices "
     "that need them are missing too.",
     "Record more passes so that each side has at least 3 (better 5 or more) strides."},
    {"too_few_strides_right",
     "Some right-side values rest on fewer than 3 strides and are not reported; symmetry indices "
     "that need them are missing too.",
     "Record more passes so that each side has at least 3 (better 5 or more) strides."},
    {"backward_walking",
     "A pass was walked backward. Its events are the feet's extremes as in forward walking, "
     "which no published validation covers.",
     "Ask the person to walk forward across the picture, turning outside it."},
    {"overlay_failed",
     "The skeleton could not be drawn on this video (no verification video and no key frames); "
     "the measurements are not affected.",
     "Record with a common phone or camera setting (H.264, 720p or 1080p)."},
    {"low_frame_rate",
     "The video has too few frames per second: the timing of each foot event is uncertain by "
     "half a frame, more than video methods' agreement with motion capture.",
     "Record at 30 frames per second or more (60 is better)."},
    {"no_walking_detected", "A person was seen, but no regular walking was found.",
     "Ask for steady walking across the picture, several strides long."},
    {"too_few_steps", "Walking was found, but too few steps for step statistics.",
     "Record a longer walk: at least 3 strides per side."},
    {"too_short", "The video lasts less than a second.",
     "Record the whole walk, from before the first step to after the last."},
    {"low_resolution", "The picture is small (its short side below 240 pixels).",
     "Record at 720p or more, with the person filling most of the picture's height."},
    {"too_dark", "The video is too dark for the body to be seen reliably.",
     "Film in good, even light; switch on room lights and avoid filming into shadow."},
    {"overexposed", "The video is overexposed: much of the picture is washed out.",
     "Avoid filming against a window or bright light; reduce exposure."},
    {"camera_moving", "The camera moved during the recording.",
     "Keep the camera still: use a tripod or rest it on a stable surface; do not pan or zoom."},
    {"multiple_people", "More than one person was in view much of the time.",
     "Only the person being assessed should be in the picture; others stay behind the camera."},
    {"person_cut_by_frame_edge",
     "The person was cut by the top or bottom of the picture much of the time.",
     "Keep the whole body, head to feet, in the picture throughout: step back or zoom out."},
    {"rotation_applied",
     "The video was recorded rotated; the rotation it states was applied before analysis.", ""},
    {"non_monotonic_timestamps",
     "The video's clock went backward (for example, a recording joined to itself); the frames "
     "from that point were not analysed again.",
     "Upload the original recording from the phone or camera, not an edited copy."},
    {"frame_rate_sampled",
     "The video was recorded at a high frame rate and analysed at 60 frames per second.", ""},
    {"subject_height_refused",
     "The subject height sent with the video was not a height in metres between 0.5 and 2.5, so "
     "it was not used: speed and lengths are in body heights only.",
     "Send the height in metres, for example 1.72 (not centimetres or feet)."},
    {"measures_withheld",
     "A recording check failed, so the measures it names are not reported (see the checks "
     "below): no numbers are better than wrong numbers.",
     "Follow the advice of the failed check when filming next time."},
    {"blurred", "The picture of the person is blurred: heels and toes cannot be placed precisely.",
     "Film in more light, with a clean lens and the focus on the person."},
    {"subject_too_small", "The person is small in the picture: too few pixels for heels and toes.",
     "Move the camera closer so the person fills most of the picture's height."},
};

// The recording checks' names and units in words.
struct CheckText {
  const char* name;
  const char* label;
  const char* unit;
  int decimals;
};
constexpr CheckText kChecks[] = {
    {"frame_rate", "Frame rate", "frames/s", 1},
    {"resolution", "Picture size (short side)", "pixels", 0},
    {"subject_size", "Person's height in the picture", "pixels", 0},
    {"exposure", "Brightness on the person", "of 255", 0},
    {"sharpness", "Sharpness of the person", "", 2},
    {"camera_motion", "Camera movement", "picture widths/s", 3},
    {"feet_in_frame", "Feet in the picture", "% of the frames", 0},
    {"duration", "Strides measured", "", 0},
};

// The named checks: what was measured, the verdict, and what to do about a warn or fail.
void quality_checks(std::string& out, const json& q) {
  const auto& checks = array_of(field(q, "checks"));
  if (checks.empty()) return;
  out +=
      "<table id=\"checks\" class=\"compact\"><thead><tr><th scope=\"col\">Check</th>"
      "<th scope=\"col\">Result</th><th scope=\"col\">Measured</th><th scope=\"col\">What "
      "to do</th></tr></thead><tbody>";
  for (const auto& c : checks) {
    const std::string name = text_of(field(c, "name"));
    const std::string verdict = text_of(field(c, "verdict"));
    const CheckText* known = nullptr;
    for (const auto& k : kChecks) {
      if (name == k.name) known = &k;
    }
    std::string measured = "not measured";
    if (auto v = number(field(c, "value"))) {
      if (name == "feet_in_frame") *v *= 100;
      measured = fixed(*v, known ? known->decimals : 2);
      if (known && *known->unit) measured += std::string(" ") + known->unit;
    }
    std::string advice = esc(text_of(field(c, "advice")));
    const auto& withholds = array_of(field(c, "withholds"));
    std::vector<std::string> kept_out;
    for (const auto& w : withholds) {
      const std::string key = text_of(w);
      if (key == "walking_speed") kept_out.emplace_back("walking speed, step and stride lengths");
      if (key == "stance_s") kept_out.emplace_back("stance, swing and support phases");
    }
    if (!kept_out.empty()) {
      advice += " <em>Not reported:</em> " + kept_out.front();
      if (kept_out.size() > 1) advice += "; " + kept_out.back();
      advice += ".";
    }
    out += "<tr data-check=\"" + esc(name) + "\" data-check-verdict=\"" + esc(verdict) +
           "\"><th scope=\"row\">" + esc(known ? known->label : name) + "</th><td>" +
           (verdict == "pass"   ? "passed"
            : verdict == "warn" ? "<strong>warning</strong>"
                                : "<strong>failed</strong>") +
           "</td><td class=\"num\">" + measured + "</td><td>" + advice + "</td></tr>";
  }
  out += "</tbody></table>";
}

void quality_section(std::string& out, const json& analysis) {
  const auto& q = field(analysis, "quality");
  out += "<section id=\"quality\" class=\"quality\"><h2>Recording quality</h2>";
  const auto& warnings = array_of(field(q, "warnings"));
  if (warnings.empty()) {
    out += "<p id=\"no-warnings\">No problem with the recording was detected.</p>";
  } else {
    out += "<ul id=\"warnings\">";
    for (const auto& w : warnings) {
      const std::string name = text_of(w);
      const WarningText* known = nullptr;
      for (const auto& k : kWarnings) {
        if (name == k.name) known = &k;
      }
      out += "<li data-warning=\"" + esc(name) + "\">";
      if (known) {
        out += known->what;
        if (*known->better) out += " <em>Next time:</em> " + std::string(known->better);
      } else {
        out += "The analyzer reported “" + esc(name) + "”.";
      }
      out += "</li>";
    }
    out += "</ul>";
  }
  quality_checks(out, q);
  // The recording in figures.
  out += "<table class=\"compact facts\"><tbody>";
  const auto qrow = [&](const char* label, const char* key, int decimals, const char* unit) {
    const auto v = number(field(q, key));
    if (!v) return;
    out +=
        "<tr><th scope=\"row\">" + std::string(label) + "</th><td class=\"num\">" +
        metric_span(std::string("quality.") + key, raw_value(field(q, key)), fixed(*v, decimals)) +
        (*unit ? std::string(" ") + unit : std::string()) + "</td></tr>";
  };
  qrow("Frames decoded", "frames", 0, "");
  qrow("Frames with the person", "frames_with_person", 0, "");
  qrow("Frames where the hips or feet were too uncertain", "frames_low_visibility", 0, "");
  qrow("Frames with joint angles", "frames_with_angles", 0, "");
  qrow("Frame rate", "fps", 2, "frames/s");
  const auto& res = field(q, "resolution");
  if (const auto w = number(field(res, "width")), h = number(field(res, "height")); w && h) {
    out += "<tr><th scope=\"row\">Picture size</th><td class=\"num\">" +
           metric_span("quality.resolution.width", raw_value(field(res, "width")), fixed(*w, 0)) +
           " × " +
           metric_span("quality.resolution.height", raw_value(field(res, "height")), fixed(*h, 0)) +
           " pixels</td></tr>";
  }
  qrow("Steps found", "steps", 0, "");
  qrow("Strides measured", "strides", 0, "");
  qrow("Times tracking moved to another person", "walker_switches", 0, "");
  out += "</tbody></table>";
  out +=
      "<h3>Filming for gait analysis</h3><ul id=\"filming\">"
      "<li>Side view: the camera square to the walkway, at about hip height.</li>"
      "<li>The whole body visible, head to feet, throughout the walk.</li>"
      "<li>The camera still (tripod); no panning or zooming.</li>"
      "<li>Several strides: at least 3 per side, better 5 or more (several passes).</li>"
      "<li>Good, even light; nobody else in the picture.</li>"
      "<li>30 frames per second or more.</li></ul></section>";
}

void method_section(std::string& out, const json& analysis) {
  const auto& kin = field(analysis, "kinematics");
  out +=
      "<section id=\"method\"><h2>Method and limitations</h2><p>Body keypoints were located "
      "in every frame by BlazePose " +
      cite("bazarevsky2020") +
      ". Walking passes across the picture were found from the pelvis's steady travel. Initial "
      "contact is the heel's largest reach ahead of the pelvis and toe-off the toe's largest "
      "reach behind it (Zeni et al. " +
      cite("zeni2008") +
      "), after a 6 Hz zero-phase low-pass, as validated on side-view video against motion "
      "capture by Stenum et al. " +
      cite("stenum2021") +
      ", who found event timing within about 0.02 s. Lengths are measured in body heights "
      "(nose to heel in the picture divided by 0.87) and converted to metres with the "
      "subject's height when it is given. Joint angles are projected 2D angles in the image "
      "plane.</p><p>Limitations: one camera sees one plane. Out-of-plane motion, a walker not "
      "square to the camera, lens distortion and the far leg hidden behind the near one "
      "distort angles and lengths; frontal- and transverse-plane measures cannot be made. "
      "Events are accurate to about one frame. A few strides give uncertain means and very "
      "uncertain variability.";
  if (const auto limits = text_of(field(kin, "limits")); !limits.empty()) {
    out += " <span class=\"note\">" + esc(limits) + "</span>";
  }
  out += "</p></section>";
}

void references_section(std::string& out) {
  out += "<section id=\"references\"><h2>References</h2>";
  out +=
      "<h3>Reference values used in this report</h3><table class=\"compact refvals\" "
      "id=\"reference-values\"><thead><tr><th>Measure</th><th>Values</th><th>What they "
      "are</th><th>Measured in</th><th>Source</th></tr></thead><tbody>";
  for (const auto& r : kRanges) {
    const int d = bound_decimals(r, 2);
    out += "<tr data-reference=\"" + std::string(r.metric) + "\"><td>" + std::string(r.measure) +
           "</td><td class=\"num\">" + fixed(r.low, d) + "–" + fixed(r.high, d) + " " +
           std::string(r.unit) + "</td><td>" + std::string(r.bounds) + "</td><td>" +
           std::string(r.population) + "</td><td>" + cites(r) + " " + std::string(r.evidence) +
           "</td></tr>";
  }
  out +=
      "</tbody></table><p class=\"note\">No reference is shown for step length, stride "
      "time, symmetry or joint angles: no value could be traced to a source that was "
      "checked.</p><h3>Literature</h3><ol class=\"refs\">";
  for (const auto& c : kCitations) {
    out += "<li id=\"ref-" + std::string(c.key) + "\">" + std::string(c.text) + "</li>";
  }
  out += "</ol></section>";
}

}  // namespace

std::span<const ReferenceRange> reference_ranges() { return kRanges; }
std::span<const ReportCitation> report_citations() { return kCitations; }

std::optional<std::string> recording_date_from_metadata(const nlohmann::json& metadata) {
  const auto& t = field(field(field(metadata, "format"), "tags"), "creation_time");
  if (!t.is_string() || t.get<std::string>().empty()) return std::nullopt;
  return t.get<std::string>();
}

namespace {

// The page's Content-Security-Policy: it may run no script, load nothing and submit nothing.
// Only its own style sheet applies (by its hash, so neither an injected <style> nor a style
// attribute would) and images only from data: URLs (the key frames). No frame-ancestors: a
// <meta> policy cannot carry it.
std::string content_security_policy() {
  const std::string hex = common::sha256_hex(kStyle);
  std::string digest;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    digest.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return "default-src 'none'; style-src 'sha256-" + common::base64_encode(digest) +
         "'; img-src data:; base-uri 'none'; form-action 'none'";
}

}  // namespace

std::string render_clinical_report(const nlohmann::json& analysis, const nlohmann::json& metadata,
                                   const ReportContext& context,
                                   const std::vector<KeyFrameImage>& key_frames,
                                   const ReportSignals& signals,
                                   std::span<const StrideMeasure> catalogue) {
  Facts facts = facts_of(analysis);
  facts.measures = catalogue;
  std::string out;
  out.reserve(64 * 1024);
  out +=
      "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta http-equiv=\"Content-Security-Policy\" content=\"" +
      content_security_policy() +
      "\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
      "<title>Gait analysis report — " +
      esc(context.object_name) + "</title><style>" + kStyle + "</style></head><body><main>";
  header_section(out, analysis, metadata, context, facts);
  limits_banner(out, facts);
  summary_section(out, analysis, facts);
  per_side_section(out, analysis, facts);
  symmetry_section(out, analysis, facts);
  timeline_section(out, analysis, facts);
  kinematics_section(out, analysis, facts);
  signals_section(out, analysis, facts, signals);
  key_frames_section(out, key_frames);
  strides_section(out, analysis, facts);
  quality_section(out, analysis);
  method_section(out, analysis);
  references_section(out);
  out +=
      "<footer>Generated by dancer-analysis from the stored analysis. Figures are the "
      "analysis's values rounded for display; the summary's means over strides are computed "
      "from the stride table.</footer></main></body></html>\n";
  return out;
}

}  // namespace dancer::analysis

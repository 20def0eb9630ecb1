// The clinical report's reference data: the healthy-adult ranges and the literature they come
// from, the citation marks ([n]) that point to them, and the References section.
#include "render/report_parts.h"

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

namespace dancer::analysis::report {

namespace {

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

int citation_number(std::string_view key) {
  for (std::size_t i = 0; i < kCitations.size(); ++i) {
    if (kCitations[i].key == key) return static_cast<int>(i) + 1;
  }
  return 0;
}

}  // namespace

const ReferenceRange* find_range(std::string_view metric) {
  for (const auto& r : kRanges) {
    if (r.metric == metric) return &r;
  }
  return nullptr;
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

}  // namespace dancer::analysis::report

namespace dancer::analysis {

std::span<const ReferenceRange> reference_ranges() { return report::kRanges; }
std::span<const ReportCitation> report_citations() { return report::kCitations; }

}  // namespace dancer::analysis

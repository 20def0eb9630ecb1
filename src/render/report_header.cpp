// The clinical report's header (recording, dates, duration, view, analyzer, subject height)
// and the banner of the limits that change what its numbers can be trusted for.
#include "render/report_parts.h"

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace dancer::analysis::report {

namespace {

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

std::string view_text(const std::vector<WalkingPass>& passes, const Facts& facts) {
  if (facts.has("no_person")) return "no person detected";
  if (facts.has("front_view")) return "front view (walking toward or away from the camera)";
  if (passes.empty()) return "not determined (no walking pass)";
  // Passes seen from the front or back (results 1.5.0 `view`) name their own views.
  std::set<std::string> frontal;
  for (const WalkingPass& p : passes) {
    if (p.view != PassView::kSide) {
      frontal.insert(std::string(to_string(p.view)) + " view, " +
                     (p.direction == "away_from_camera" ? "away from" : "toward") + " the camera");
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
  for (const WalkingPass& p : passes) {
    if (p.direction == "left_to_right") directions.insert("left to right");
    if (p.direction == "right_to_left") directions.insert("right to left");
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

}  // namespace

void header_section(std::string& out, const GaitResult& result, const json& metadata,
                    const ReportContext& context, const Facts& facts) {
  const AnalyzerIdentity& analyzer = result.analyzer;
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
  std::optional<double> duration = as_written(result.video.info.duration_s);
  std::string duration_path = "quality.duration_s";
  std::string duration_raw = raw_value(duration);
  if (!duration) {
    const auto& d = metadata_at(metadata, {"format", "duration"});
    if (d.is_string()) {
      char* end = nullptr;
      const std::string s = d.get<std::string>();
      const double v = std::strtod(s.c_str(), &end);
      if (end != s.c_str() && std::isfinite(v)) duration = v;
      duration_raw = raw_value(duration);
    } else if (d.is_number() && std::isfinite(d.get<double>())) {
      duration = d.get<double>();
      duration_raw = d.dump();  // as the metadata writes it
    }
    duration_path = "metadata.format.duration";
  }
  row("meta-duration", "Duration",
      duration ? metric_span(duration_path, duration_raw, fixed(*duration, 2)) + " s"
               : std::string("—"));
  row("meta-view", "View", esc(view_text(result.gait.passes, facts)));
  std::string analyzer_text = esc(analyzer.name);
  if (!analyzer.version.empty()) analyzer_text += " " + esc(analyzer.version);
  row("meta-analyzer", "Analyzer", analyzer_text.empty() ? "—" : analyzer_text);
  std::string model = esc(analyzer.pose_model);
  if (!analyzer.model_source.empty()) {
    model += " <span class=\"note\">(" + esc(analyzer.model_source) + ")</span>";
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

}  // namespace dancer::analysis::report

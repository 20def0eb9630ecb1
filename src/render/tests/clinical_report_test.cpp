// The clinical HTML report: the documented pose-gait example rendered with its figures carried
// as data attributes equal to the result's, hostile strings escaped, nulls shown as "—" with
// their reason, a front view without empty plots, and every reference cited.
#include "render/clinical_report.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <numbers>
#include <set>

#include "common/sha256.h"
#include "common/strings.h"
#include "common/utf8.h"
#include "gait/gait_kinematics.h"
#include "gait/gait_table.h"
#include "gait/recording_quality.h"
#include "silhouette/gait_report.h"
#include "support/results_schema.h"
#include "support/test_support.h"

namespace dancer::analysis {
namespace {

nlohmann::json load_example() {
  return nlohmann::json::parse(
      dancer::testing::read_file(std::string(DANCER_SOURCE_DIR) + "/docs/results.example.json"));
}

ReportContext context() {
  ReportContext c;
  c.object_name = "uploads/patient-0042/walk-side.mp4";
  c.processed_at = std::chrono::system_clock::time_point(std::chrono::seconds(1764316800));
  return c;
}

std::string render(const GaitResult& result, const ReportContext& c = context(),
                   const std::vector<KeyFrameImage>& frames = {}, const ReportSignals& signals = {},
                   const nlohmann::json& metadata = {}) {
  return render_clinical_report(result, metadata, c, frames, signals);
}

// The report of a stored analysis: read back into the typed result at the test's boundary.
std::string render(const nlohmann::json& analysis, const ReportContext& c = context(),
                   const std::vector<KeyFrameImage>& frames = {}, const ReportSignals& signals = {},
                   const nlohmann::json& metadata = {}) {
  return render(from_json(analysis), c, frames, signals, metadata);
}

// data-value of the element whose data-metric is `metric`, if there is one.
std::optional<std::string> data_value(const std::string& html, const std::string& metric) {
  const std::string key = "data-metric=\"" + metric + "\" data-value=\"";
  const auto p = html.find(key);
  if (p == std::string::npos) return std::nullopt;
  const auto start = p + key.size();
  return html.substr(start, html.find('"', start) - start);
}

double value_of(const std::string& html, const std::string& metric) {
  const auto v = data_value(html, metric);
  if (!v || *v == "null") return std::nan("");
  return std::stod(*v);
}

// What follows the element of `metric` (its reason, when null), up to the end of its cell.
std::string text_after(const std::string& html, const std::string& metric) {
  const auto p = html.find("data-metric=\"" + metric + "\"");
  if (p == std::string::npos) return "";
  return html.substr(p, html.find("</td>", p) - p);
}

std::string section(const std::string& html, const std::string& id) {
  const auto p = html.find("<section id=\"" + id + "\"");
  if (p == std::string::npos) return "";
  return html.substr(p, html.find("</section>", p) - p);
}

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
  return n;
}

double stride_mean(const nlohmann::json& a, const char* key, int* n) {
  double sum = 0;
  *n = 0;
  for (const auto& s : a["strides"]) {
    if (!s[key].is_number()) continue;
    sum += s[key].get<double>();
    ++*n;
  }
  return sum / *n;
}

TEST(ClinicalReport, CarriesTheExampleFiguresAsTheResultStatesThem) {
  const auto a = load_example()["analysis"];
  const std::string html = render(a);
  EXPECT_EQ(data_value(html, "cadence_steps_per_min"), "103.9");
  EXPECT_EQ(data_value(html, "walking_speed.m_per_s"), "1.306");
  EXPECT_EQ(data_value(html, "subject_height_m"), "1.8");
  EXPECT_EQ(data_value(html, "per_side.left.stride_time_s.mean"), "1.155");
  EXPECT_EQ(data_value(html, "per_side.left.stride_time_s.sd"), "0.015");
  EXPECT_EQ(data_value(html, "per_side.left.stride_time_s.cv"), "1.3");
  EXPECT_EQ(data_value(html, "per_side.left.stride_time_s.n"), "3");
  EXPECT_EQ(data_value(html, "per_side.left.step_length_m.mean"), "0.675");
  EXPECT_EQ(data_value(html, "kinematics.peaks.left.hip_rom.mean"), "43.0");
  EXPECT_EQ(data_value(html, "quality.duration_s"), "6.933");
  // Every stride's every shown field, as stored.
  for (std::size_t i = 0; i < a["strides"].size(); ++i) {
    for (const char* key : {"stride_time_s", "step_time_s", "stance_pct", "double_support_pct",
                            "step_length_m", "stride_length_m"}) {
      const auto& v = a["strides"][i][key];
      const std::string metric = "strides." + std::to_string(i) + "." + key;
      EXPECT_EQ(data_value(html, metric), v.is_null() ? "null" : v.dump()) << metric;
    }
  }
  // The summary's means over both feet's strides.
  int n = 0;
  EXPECT_NEAR(value_of(html, "summary.stride_time_s"), stride_mean(a, "stride_time_s", &n), 1e-9);
  EXPECT_EQ(n, 5);
  EXPECT_NEAR(value_of(html, "summary.step_length_m"), stride_mean(a, "step_length_m", &n), 1e-9);
  EXPECT_NEAR(value_of(html, "summary.double_support_pct"),
              stride_mean(a, "double_support_pct", &n), 1e-9);
  EXPECT_EQ(n, 4);
  EXPECT_NE(html.find("mean of 4 strides, both sides"), std::string::npos);

  EXPECT_NE(html.find("uploads/patient-0042/walk-side.mp4"), std::string::npos);
  EXPECT_NE(html.find("side view, 1 pass across the image (left to right)"), std::string::npos);
  EXPECT_NE(html.find("pose-gait 1.0.0"), std::string::npos);
  EXPECT_NE(html.find("blazepose-full"), std::string::npos);
  EXPECT_NE(html.find("2025-11-28 08:00:00 UTC"), std::string::npos);
  // One event marker per event in the timeline; plots of each joint for the left side only.
  EXPECT_EQ(count(section(html, "timeline"), "data-event="), a["events"].size());
  EXPECT_EQ(count(section(html, "timeline"), "data-event=\"initial_contact\""), 7u);
  for (const char* joint : {"hip", "knee", "ankle"}) {
    EXPECT_NE(html.find(std::string("data-curve=\"left.") + joint + ".mean\""), std::string::npos);
    EXPECT_EQ(html.find(std::string("data-curve=\"right.") + joint), std::string::npos);
  }
  EXPECT_NE(html.find("Right (dashed): not enough strides (2; 3 needed)"), std::string::npos);
  // Self-contained: no script, nothing fetched.
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("http://"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_NE(html.find("@page{size:A4"), std::string::npos);
}

// A result as the analyzer holds it before writing: its numbers unrounded (a steady walk whose
// times and lengths have more digits than the contract keeps), and a failing check that
// withholds the spatial measures.
GaitResult fresh_result() {
  GaitResult r = from_json(load_example()["analysis"]);
  KeypointGait g;
  WalkingPass pass;
  pass.last_frame = 240;
  pass.start_s = 0.0123456789;
  pass.end_s = 7.7654321987;
  pass.direction = "left_to_right";
  pass.speed_body_heights_per_s = 0.72345678;
  pass.body_height_px = 612.345678;
  g.passes.push_back(pass);
  const auto event = [&](Foot foot, FootEventType type, double t, std::optional<double> length) {
    FootEvent e;
    e.foot = foot;
    e.type = type;
    e.time_s = t;
    e.frame = std::lround(t * 30);
    e.step_length_body_heights = length;
    e.visibility = 0.876543;
    e.prominence_body_heights = 0.2345678;
    g.events.push_back(e);
  };
  for (int k = 0; k <= 5; ++k) {
    const double t = 0.1 + 1.1234567891 * k + 0.0031 * (k % 2);
    event(Foot::kLeft, FootEventType::kInitialContact, t, 0.40123456 + 0.001 * k);
    if (k == 5) break;
    event(Foot::kRight, FootEventType::kToeOff, t + 0.1234567, std::nullopt);
    event(Foot::kRight, FootEventType::kInitialContact, t + 0.5612345, 0.41234567);
    event(Foot::kLeft, FootEventType::kToeOff, t + 0.6712345 + 0.002 * k, std::nullopt);
  }
  g.events.back().low_confidence = true;
  r.gait.passes = g.passes;
  r.gait.events = g.events;
  r.table = build_gait_table(g, 1.7654321);
  r.angles.left.peaks.at(2).mean = 43.04567;
  r.video.info.fps = 29.97002997;
  r.video.info.duration_s = 8.0080080;
  return r;
}

// Every figure of the page is the value to_json writes at its data-metric path, byte for byte:
// the report rounds each typed number as the results JSON does.
TEST(ClinicalReport, FiguresOfAFreshResultAreTheResultsJsons) {
  GaitResult r = fresh_result();
  QualityCheck size;
  size.name = "subject_size";
  size.value = 101.23456789;
  size.verdict = QualityVerdict::kFail;
  size.withholds = kSpatialMeasures;
  r.checks.push_back(size);
  const std::string html = render(r);
  const nlohmann::json j = to_json(r);
  std::size_t compared = 0;
  std::size_t summary = 0;
  const std::string key = "data-metric=\"";
  for (auto p = html.find(key); p != std::string::npos; p = html.find(key, p + 1)) {
    const auto start = p + key.size();
    const std::string metric = html.substr(start, html.find('"', start) - start);
    const auto value = data_value(html.substr(p), metric);
    ASSERT_TRUE(value.has_value()) << metric;
    if (metric.rfind("summary.", 0) == 0) {
      ++summary;  // means over the strides: not in the JSON
      continue;
    }
    std::string pointer = "/" + metric;
    std::replace(pointer.begin(), pointer.end(), '.', '/');
    const nlohmann::json& v = j.at(nlohmann::json::json_pointer(pointer));
    EXPECT_EQ(*value, v.is_null() ? "null" : v.dump()) << metric;
    ++compared;
  }
  EXPECT_GT(compared, 150u);
  EXPECT_EQ(summary, 4u);  // step length, stride time, stance, double support
  // Unrounded numbers were there to round, and what the check withholds is null in both.
  ASSERT_TRUE(r.table.strides.at(0).measures.at(0).has_value());
  EXPECT_NE(*r.table.strides[0].measures[0], j["strides"][0]["stride_time_s"].get<double>());
  EXPECT_EQ(data_value(html, "walking_speed.m_per_s"), "null");
  EXPECT_EQ(data_value(html, "strides.0.step_length_m"), "null");
  EXPECT_EQ(data_value(html, "per_side.left.step_length_m.mean"), "null");
  EXPECT_EQ(data_value(html, "quality.fps"), "29.97");
  EXPECT_EQ(data_value(html, "kinematics.peaks.left.hip_rom.mean"), "43.0");
  EXPECT_NE(data_value(html, "strides.0.stride_time_s"), "null");
  EXPECT_NE(section(html, "quality").find("data-warning=\"subject_too_small\""), std::string::npos);
  // The events at the times the JSON gives them.
  std::multiset<std::string> times;
  for (const auto& e : j.at("events")) times.insert(e.at("time_s").dump());
  const std::string timeline = section(html, "timeline");
  std::multiset<std::string> drawn;
  const std::string time_key = "data-time-s=\"";
  for (auto p = timeline.find(time_key); p != std::string::npos;
       p = timeline.find(time_key, p + 1)) {
    const auto start = p + time_key.size();
    drawn.insert(timeline.substr(start, timeline.find('"', start) - start));
  }
  EXPECT_EQ(drawn, times);
  EXPECT_NE(timeline.find("foot visibility 0.88, signal 0.235 body heights"), std::string::npos);
}

TEST(ClinicalReport, PlacesEachValueAgainstItsCitedReference) {
  const std::string html = render(load_example()["analysis"]);
  const std::string summary = section(html, "summary");
  const auto row = [&](const std::string& metric) {
    const auto p = summary.find("data-metric=\"" + metric + "\"");
    EXPECT_NE(p, std::string::npos) << metric;
    return summary.substr(p, summary.find("</tr>", p) - p);
  };
  // 1.306 m/s within the span of Bohannon and Andrews' decade means (0.943-1.434).
  EXPECT_NE(row("walking_speed.m_per_s").find("data-verdict=\"within\""), std::string::npos);
  EXPECT_NE(row("walking_speed.m_per_s").find("#ref-bohannon2011"), std::string::npos);
  EXPECT_NE(row("cadence_steps_per_min").find("data-verdict=\"within\""), std::string::npos);
  // Double support 26.1 % of the cycle: above Perry's 20 % and Kirtley's 24 %.
  EXPECT_NE(row("summary.double_support_pct").find("data-verdict=\"above\""), std::string::npos);
  EXPECT_NE(row("per_side.left.stride_time_s.cv").find("data-verdict=\"within\""),
            std::string::npos);
  // Few strides behind a variability figure are said.
  EXPECT_NE(row("per_side.left.stride_time_s.cv").find("few strides"), std::string::npos);
  // No range where none can be cited.
  EXPECT_NE(row("summary.step_length_m").find("data-reference=\"none\""), std::string::npos);
  EXPECT_NE(row("summary.step_length_m").find("No cited reference"), std::string::npos);
  EXPECT_EQ(row("summary.stride_time_s").find("range-bar"), std::string::npos);
}

TEST(ClinicalReport, EveryReferenceValueIsCitedInTheReferenceList) {
  const std::string html = render(load_example()["analysis"]);
  const std::string refs = section(html, "references");
  std::set<std::string_view> keys;
  for (const auto& c : report_citations()) keys.insert(c.key);
  ASSERT_FALSE(reference_ranges().empty());
  for (const auto& r : reference_ranges()) {
    EXPECT_LT(r.low, r.high) << r.metric;
    EXPECT_FALSE(r.evidence.empty()) << r.metric;
    EXPECT_FALSE(r.citations[0].empty()) << r.metric;
    for (auto key : r.citations) {
      if (key.empty()) continue;
      EXPECT_TRUE(keys.count(key)) << r.metric << " cites " << key;
      EXPECT_NE(refs.find("id=\"ref-" + std::string(key) + "\""), std::string::npos) << key;
    }
    EXPECT_NE(refs.find("data-reference=\"" + std::string(r.metric) + "\""), std::string::npos);
  }
  // The method's sources are cited in the text and listed.
  const std::string method = section(html, "method");
  for (const char* key : {"zeni2008", "stenum2021", "bazarevsky2020"}) {
    EXPECT_NE(method.find(std::string("#ref-") + key), std::string::npos) << key;
  }
}

TEST(ClinicalReport, EscapesHostileStrings) {
  auto a = load_example()["analysis"];
  a["quality"]["warnings"].push_back("<b>bold</b>");
  a["analyzer"]["version"] = "1\"><script>alert(2)</script>";
  // The angle definitions are the analyzer's own text (kAngleConventions); a check's name and
  // advice are strings a stored result carries.
  a["quality"]["checks"].push_back({{"name", "<iframe src=x>"},
                                    {"value", nullptr},
                                    {"unit", ""},
                                    {"threshold", nlohmann::json::object()},
                                    {"verdict", "warn"},
                                    {"advice", "<iframe src=y>"},
                                    {"withholds", nlohmann::json::array()},
                                    {"details", nlohmann::json::object()}});
  ReportContext c = context();
  c.object_name = "uploads/<script>alert(1)</script>\"'&\xff.mp4";
  c.job_id = "<img src=x onerror=alert(3)>";
  KeyFrameImage frame;
  frame.caption = "<svg onload=alert(4)>";
  frame.png = encode_png(cv::Mat(8, 8, CV_8UC1, cv::Scalar(128)));
  const nlohmann::json metadata = {
      {"format", {{"tags", {{"creation_time", "<script>alert(5)</script>"}}}}}};
  const std::string html = render(a, c, {frame}, {}, metadata);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<b>bold"), std::string::npos);
  EXPECT_EQ(html.find("<iframe"), std::string::npos);
  EXPECT_EQ(html.find("<img src=x"), std::string::npos);
  EXPECT_EQ(html.find("<svg onload"), std::string::npos);
  EXPECT_NE(html.find("uploads/&lt;script&gt;alert(1)&lt;/script&gt;&quot;&apos;&amp;"),
            std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(5)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(html.find("The analyzer reported “&lt;b&gt;bold&lt;/b&gt;”."), std::string::npos);
  EXPECT_NE(html.find("data-check=\"&lt;iframe src=x&gt;\""), std::string::npos);
  EXPECT_NE(html.find("&lt;iframe src=y&gt;"), std::string::npos);
  // Invalid UTF-8 from outside is replaced, so the page is what it declares.
  EXPECT_TRUE(common::is_valid_utf8(html));
  EXPECT_EQ(count(html, "<img "), 1u);
}

TEST(ClinicalReport, NullsShowADashAndTheReason) {
  auto a = load_example()["analysis"];
  std::string html = render(a);
  EXPECT_EQ(data_value(html, "per_side.right.stride_time_s.mean"), "null");
  EXPECT_NE(text_after(html, "per_side.right.stride_time_s.mean").find(">—<"), std::string::npos);
  EXPECT_NE(
      text_after(html, "per_side.right.stride_time_s.mean").find("fewer than 3 strides (n = 2)"),
      std::string::npos);
  EXPECT_EQ(data_value(html, "symmetry.step_time.pct"), "null");
  EXPECT_NE(text_after(html, "symmetry.step_time.pct").find("needs a mean on both sides"),
            std::string::npos);
  EXPECT_NE(text_after(html, "strides.0.stance_pct").find(">—<"), std::string::npos);
  EXPECT_NE(html.find("did not come in gait's order"), std::string::npos);
  EXPECT_NE(text_after(html, "summary.stride_time_s").find("1.151"), std::string::npos);

  a["cadence_steps_per_min"] = nullptr;
  html = render(a);
  EXPECT_EQ(data_value(html, "cadence_steps_per_min"), "null");
  EXPECT_NE(text_after(html, "cadence_steps_per_min").find("no alternating steps"),
            std::string::npos);
  // A recording without a creation time says so.
  EXPECT_NE(html.find("the video states no creation time"), std::string::npos);
}

nlohmann::json front_view_analysis() {
  auto a = load_example()["analysis"];
  // The shapes the analyzer writes when it measured nothing: its own serialisers on empty input.
  const KeypointGait gait;
  const GaitTable table = build_gait_table(gait, 1.8);
  nlohmann::json fields = nlohmann::json::parse(to_json(table).dump());
  fields.erase("warnings");  // the analyzer moves them into quality
  a.update(fields);
  const KinematicsConfig config;
  a["kinematics"] = nlohmann::json::parse(
      to_json(KinematicsBuilder(config).finish(gait, table, 30.0), config).dump());
  a["events"] = nlohmann::json::array();
  a["passes"] = nlohmann::json::array();
  a["strides"] = nlohmann::json::array();
  a["quality"]["warnings"] = {"front_view"};
  a["quality"]["steps"] = 0;
  a["quality"]["strides"] = 0;
  a["quality"]["frames_with_angles"] = 0;
  return a;
}

TEST(ClinicalReport, FrontViewDrawsNoPlotsOfNothing) {
  const auto a = front_view_analysis();
  ASSERT_TRUE(dancer::testing::matches_analysis_schema(a));
  const std::string html = render(a);
  EXPECT_NE(html.find("front view (walking toward or away from the camera)"), std::string::npos);
  EXPECT_EQ(html.find("data-figure="), std::string::npos);  // no timeline, angles or signals
  EXPECT_EQ(count(html, "; value "), 0u);  // the reference bars carry no value marker
  EXPECT_GT(count(html, "; no value"), 0u);
  EXPECT_NE(section(html, "timeline").find("No foot events to show: front view"),
            std::string::npos);
  EXPECT_NE(section(html, "kinematics").find("No joint-angle curves: front view"),
            std::string::npos);
  EXPECT_NE(section(html, "signals").find("No keypoint signal to show: front view"),
            std::string::npos);
  EXPECT_NE(section(html, "strides").find("No stride was measured: front view"), std::string::npos);
  EXPECT_EQ(data_value(html, "cadence_steps_per_min"), "null");
  EXPECT_NE(text_after(html, "cadence_steps_per_min").find("front view"), std::string::npos);
  EXPECT_NE(text_after(html, "summary.step_length_m").find("front view"), std::string::npos);
  EXPECT_EQ(count(html, "data-verdict="), 0u);
  // One sentence instead of tables of dashes.
  EXPECT_NE(section(html, "per-side").find("No per-side values: front view"), std::string::npos);
  EXPECT_EQ(section(html, "per-side").find("<table"), std::string::npos);
  EXPECT_NE(section(html, "symmetry").find("No symmetry indices: front view"), std::string::npos);
  EXPECT_NE(section(html, "quality").find("data-warning=\"front_view\""), std::string::npos);
  EXPECT_NE(html.find("id=\"limits\""), std::string::npos);
  EXPECT_EQ(html.find("id=\"key-frames\""), std::string::npos);
}

TEST(ClinicalReport, EveryWarningOfTheContractHasASentence) {
  const auto schema =
      nlohmann::json::parse(dancer::testing::read_file(dancer::testing::results_schema_path()));
  const auto& names = schema["definitions"]["builtin_warning"]["enum"];
  ASSERT_GE(names.size(), 18u);
  auto a = load_example()["analysis"];
  for (const auto& name : names) {
    a["quality"]["warnings"] = {name};
    const std::string quality = section(render(a), "quality");
    const std::string tag = "data-warning=\"" + name.get<std::string>() + "\">";
    const auto p = quality.find(tag);
    ASSERT_NE(p, std::string::npos) << name;
    const std::string item = quality.substr(p, quality.find("</li>", p) - p);
    EXPECT_EQ(item.find("The analyzer reported"), std::string::npos) << name;
    EXPECT_GT(item.size(), tag.size() + 30) << name;
  }
}

// The report had no Content-Security-Policy: a script that slipped past the escaping would run.
// The policy comes first in <head>, allows no script at all, and lets through only what the page
// uses: its own style sheet (by hash) and data: images (the key frames).
TEST(ClinicalReport, CarriesAStrictContentSecurityPolicyBeforeAnythingElse) {
  KeyFrameImage frame;
  frame.caption = "left initial contact";
  frame.png = encode_png(cv::Mat(8, 8, CV_8UC1, cv::Scalar(128)));
  const std::string html = render(load_example()["analysis"], context(), {frame});
  const std::string key = "<meta http-equiv=\"Content-Security-Policy\" content=\"";
  const auto p = html.find(key);
  ASSERT_NE(p, std::string::npos);
  // Only the charset may come before it; the title, the style and the body follow it.
  EXPECT_LT(html.find("<meta charset=\"utf-8\">"), p);
  EXPECT_LT(p, html.find("<title>"));
  EXPECT_LT(p, html.find("<style>"));
  EXPECT_EQ(count(html, "Content-Security-Policy"), 1u);
  const std::string policy =
      html.substr(p + key.size(), html.find('"', p + key.size()) - p - key.size());
  std::map<std::string, std::string> directives;
  for (std::size_t start = 0; start < policy.size();) {
    auto end = policy.find(';', start);
    if (end == std::string::npos) end = policy.size();
    std::string d = policy.substr(start, end - start);
    d.erase(0, d.find_first_not_of(' '));
    const auto space = d.find(' ');
    directives[d.substr(0, space)] = space == std::string::npos ? "" : d.substr(space + 1);
    start = end + 1;
  }
  EXPECT_EQ(directives["default-src"], "'none'") << policy;
  EXPECT_EQ(directives.count("script-src"), 0u) << policy;  // default-src 'none' covers scripts
  EXPECT_EQ(directives["img-src"], "data:") << policy;
  EXPECT_EQ(directives["base-uri"], "'none'") << policy;
  EXPECT_EQ(directives["form-action"], "'none'") << policy;
  EXPECT_EQ(policy.find("unsafe"), std::string::npos) << policy;
  // The style sheet is allowed by the SHA-256 of exactly what the <style> element holds.
  const auto style_start = html.find("<style>") + 7;
  const std::string style = html.substr(style_start, html.find("</style>") - style_start);
  const std::string hex = common::sha256_hex(style);
  std::string digest;
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    digest.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  EXPECT_EQ(directives["style-src"], "'sha256-" + common::base64_encode(digest) + "'") << policy;
  EXPECT_EQ(count(html, "<style"), 1u);
  EXPECT_EQ(html.find(" style=\""), std::string::npos);  // the hash does not cover attributes
  // What the page embeds fits the policy: data: images only, nothing fetched.
  EXPECT_EQ(count(html, "src=\""), count(html, "src=\"data:image/"));
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
}

// A subject height the service refused is named, and the figures say why they are in body heights.
TEST(ClinicalReport, ARefusedSubjectHeightIsExplained) {
  auto a = load_example()["analysis"];
  a["subject_height_m"] = nullptr;
  a["walking_speed"]["m_per_s"] = nullptr;
  a["quality"]["warnings"] = {"subject_height_refused"};
  const std::string html = render(a);
  const std::string quality = section(html, "quality");
  const auto p = quality.find("data-warning=\"subject_height_refused\">");
  ASSERT_NE(p, std::string::npos);
  const std::string item = quality.substr(p, quality.find("</li>", p) - p);
  EXPECT_NE(item.find("not a height in metres between 0.5 and 2.5"), std::string::npos) << item;
  EXPECT_NE(item.find("body heights only"), std::string::npos) << item;
  EXPECT_NE(text_after(html, "subject_height_m").find("refused"), std::string::npos);
  const std::string summary = section(html, "summary");
  const auto row = summary.find("walking_speed.body_heights_per_s");
  ASSERT_NE(row, std::string::npos);
  EXPECT_NE(summary.substr(row, summary.find("</tr>", row) - row).find("refused"),
            std::string::npos);
}

TEST(ClinicalReport, KeyFramesAreEmbeddedWithTheirCaptionsOrLeftOut) {
  const auto a = load_example()["analysis"];
  EXPECT_EQ(render(a).find("id=\"key-frames\""), std::string::npos);
  KeyFrameImage ic;
  ic.frame = 69;
  ic.time_s = 2.301;
  ic.caption = "left initial contact";
  ic.png = encode_png(cv::Mat(12, 16, CV_8UC1, cv::Scalar(40)));
  KeyFrameImage broken = ic;
  broken.frame = 86;
  broken.png = "not an image";
  const std::string html = render(a, context(), {ic, broken});
  const std::string frames = section(html, "key-frames");
  EXPECT_EQ(count(frames, "<figure class=\"key-frame\""), 2u);
  EXPECT_NE(frames.find("src=\"data:image/png;base64,iVBORw0KGgo"), std::string::npos);
  EXPECT_NE(frames.find("left initial contact — 2.30 s (frame 69)"), std::string::npos);
  EXPECT_EQ(count(frames, "<img "), 1u);  // bytes that are no image are not passed off as one
}

TEST(ClinicalReport, SignalsAreDrawnWithTheDetectedEventsOnThem) {
  const auto a = load_example()["analysis"];
  ReportSignals signals;
  for (int f = 0; f < 208; ++f) {
    const double t = f / 30.0;
    signals.time_s.push_back(t);
    const bool in_pass = t >= 2.27 && t <= 6.2;
    const double nan = std::nan("");
    signals.heel_ahead[0].push_back(
        in_pass ? 0.2 * std::cos(2 * std::numbers::pi * (t - 2.301) / 1.15) : nan);
    signals.heel_ahead[1].push_back(
        in_pass ? 0.2 * std::cos(2 * std::numbers::pi * (t - 2.872) / 1.15) : nan);
  }
  const std::string html = render(a, context(), {}, signals);
  const std::string s = section(html, "signals");
  EXPECT_NE(s.find("data-figure=\"signals\""), std::string::npos);
  EXPECT_NE(s.find("data-signal=\"left\""), std::string::npos);
  EXPECT_NE(s.find("data-signal=\"right\""), std::string::npos);
  EXPECT_EQ(count(s, "data-event="), a["events"].size());
  // The pen lifts where the signal is NaN: one stretch per foot.
  EXPECT_EQ(count(s, " M"), 2u);

  ReportSignals untracked;
  untracked.time_s = {0, 0.1};
  untracked.heel_ahead = {std::vector<double>{std::nan(""), std::nan("")},
                          std::vector<double>{std::nan(""), std::nan("")}};
  EXPECT_NE(section(render(a, context(), {}, untracked), "signals")
                .find("the feet were not tracked in any walking pass"),
            std::string::npos);
}

TEST(ClinicalReport, EventsOnWeakEvidenceAreRingedAndCounted) {
  auto a = load_example()["analysis"];
  for (auto& e : a["events"]) {
    e["visibility"] = 0.93;
    e["prominence_body_heights"] = 0.3;
    e["low_confidence"] = false;
  }
  std::string timeline = section(render(a), "timeline");
  EXPECT_EQ(count(timeline, "data-low-confidence=\"true\""), 0u);
  EXPECT_EQ(count(timeline, "class=\"low-confidence\""), 0u);
  EXPECT_EQ(timeline.find("weak evidence"), std::string::npos);

  a["events"][1]["visibility"] = 0.31;
  a["events"][1]["low_confidence"] = true;
  a["events"][4]["prominence_body_heights"] = 0.07;
  a["events"][4]["low_confidence"] = true;
  timeline = section(render(a), "timeline");
  EXPECT_EQ(count(timeline, "data-low-confidence=\"true\""), 2u);
  // Two rings on the events, one in the legend.
  EXPECT_EQ(count(timeline, "class=\"low-confidence\""), 3u);
  EXPECT_NE(timeline.find("data-low-confidence-events=\"2\">2 of " +
                          std::to_string(a["events"].size()) + " rest on weak evidence"),
            std::string::npos);
  EXPECT_NE(timeline.find("; low confidence, foot visibility 0.31, signal 0.300 body heights"),
            std::string::npos);

  // Results before 1.7.0 carry no evidence: nothing is marked.
  for (auto& e : a["events"]) {
    e.erase("visibility");
    e.erase("prominence_body_heights");
    e.erase("low_confidence");
  }
  EXPECT_EQ(count(section(render(a), "timeline"), "data-low-confidence=\"true\""), 0u);
}

TEST(ClinicalReport, WithoutAHeightShowsBodyHeightsAndNoMetricRange) {
  auto a = load_example()["analysis"];
  a["subject_height_m"] = nullptr;
  a["walking_speed"]["m_per_s"] = nullptr;
  for (auto& s : a["strides"]) {
    s["step_length_m"] = nullptr;
    s["stride_length_m"] = nullptr;
  }
  const std::string html = render(a);
  EXPECT_EQ(data_value(html, "walking_speed.body_heights_per_s"), "0.726");
  EXPECT_FALSE(data_value(html, "walking_speed.m_per_s").has_value());
  EXPECT_NE(text_after(html, "walking_speed.body_heights_per_s").find("body heights/s"),
            std::string::npos);
  const std::string summary = section(html, "summary");
  const auto p = summary.find("walking_speed.body_heights_per_s");
  const std::string row = summary.substr(p, summary.find("</tr>", p) - p);
  EXPECT_NE(row.find("no subject height was given"), std::string::npos);
  EXPECT_EQ(row.find("range-bar"), std::string::npos);
  int n = 0;
  EXPECT_NEAR(value_of(html, "summary.step_length_body_heights"),
              stride_mean(a, "step_length_body_heights", &n), 1e-9);
  EXPECT_TRUE(data_value(html, "per_side.left.step_length_body_heights.mean").has_value());
  EXPECT_FALSE(data_value(html, "per_side.left.step_length_m.mean").has_value());
}

TEST(ClinicalReport, RecordingDateComesFromTheVideoUnlessGiven) {
  const auto a = load_example()["analysis"];
  const nlohmann::json metadata = {
      {"format",
       {{"duration", "6.934"}, {"tags", {{"creation_time", "2024-03-05T10:20:30.000000Z"}}}}}};
  EXPECT_EQ(recording_date_from_metadata(metadata), "2024-03-05T10:20:30.000000Z");
  EXPECT_EQ(recording_date_from_metadata(nlohmann::json()), std::nullopt);
  std::string html = render(a, context(), {}, {}, metadata);
  EXPECT_NE(html.find("<dd id=\"meta-recorded\">2024-03-05 10:20:30 UTC</dd>"), std::string::npos);
  ReportContext c = context();
  c.recording_date = "2023-01-02";
  c.job_id = "42";
  html = render(a, c, {}, {}, metadata);
  EXPECT_NE(html.find("<dd id=\"meta-recorded\">2023-01-02</dd>"), std::string::npos);
  EXPECT_NE(html.find("<dd id=\"meta-job\">42</dd>"), std::string::npos);
}

// A stored analysis that is not one (a field missing or of the wrong type) is refused where it
// is read back, naming the field; the report is written from the typed result, whose unset, NaN,
// infinite or out-of-range values it shows as absent without throwing.
TEST(ClinicalReport, ForeignOrMalformedAnalysesRenderWithoutThrowing) {
  using nlohmann::json;
  const std::vector<json> stored = {
      nullptr,
      json::object(),
      json::array(),
      "text",
      {{"analyzer", {{"name", "placeholder"}, {"version", "1.0.0"}}}, {"placeholder", true}},
      {{"analyzer", {{"name", "silhouette-gait"}}},
       {"cadence_steps_per_min", 101.2},
       {"quality", {{"warnings", {"too_dark", "camera_moving"}}}}},
      {{"events", "x"},
       {"strides", {1, "a", nullptr, {{"stride_time_s", "1.1"}}}},
       {"per_side", 5},
       {"passes", {{{"start_s", 1e300}, {"end_s", 1e301}}}},
       {"quality", {{"warnings", {1, "front_view"}}, {"fps", "30"}, {"resolution", 3}}},
       {"kinematics",
        {{"cycles", {{"left", {{"n", 1e300}, {"hip", {{"mean", {"a", "b"}}, {"sd", 2}}}}}}},
         {"peaks", {{"left", {{"hip_rom", {{"mean", 1e308}, {"n", -1e300}}}}}}}}},
       {"symmetry", {{"step_time", {{"pct", "x"}, {"n_left", 1e300}}}}}},
      {{"events",
        {{{"foot", "left"}, {"type", "initial_contact"}, {"time_s", 1.0}, {"frame", 1e300}}}},
       {"strides", {{{"foot", "left"}, {"pass", 1e300}, {"stride_time_s", 1.1}}}}},
  };
  for (const auto& analysis : stored) {
    EXPECT_THROW(static_cast<void>(from_json(analysis)), AnalysisJsonError) << analysis;
  }

  const double nan = std::nan("");
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<GaitResult> cases(4);
  // [0]: nothing set at all, not even the catalogue of the table.
  // [1]: a foreign analyzer with a cadence and warnings, and nothing else.
  cases[1].analyzer.name = "silhouette-gait";
  cases[1].table.cadence_steps_per_min = 101.2;
  cases[1].warnings = {"too_dark", "camera_moving"};
  // [2]: every number not finite, or out of any range.
  {
    GaitResult& r = cases[2];
    r.warnings = {"front_view", ""};
    r.video.info.fps = nan;
    r.video.info.duration_s = inf;
    r.video.info.width = -3;
    WalkingPass pass;
    pass.start_s = 1e300;
    pass.end_s = inf;
    r.gait.passes.push_back(pass);
    pass.start_s = 2;
    pass.end_s = 1;  // ends before it starts
    r.gait.passes.push_back(pass);
    FootEvent event;
    event.time_s = nan;
    r.gait.events.push_back(event);
    event.time_s = 1.0;
    event.frame = std::numeric_limits<std::int64_t>::max();
    event.visibility = nan;
    event.prominence_body_heights = inf;
    event.low_confidence = true;
    r.gait.events.push_back(event);
    r.table = build_gait_table(KeypointGait{}, 1.8);
    Stride stride;
    stride.pass = std::numeric_limits<std::size_t>::max();
    stride.start_s = nan;
    stride.measures.assign(r.table.measures.size(), nan);
    stride.measures[0] = 1e308;  // its rounding overflows: null, as the JSON writes it
    r.table.strides.push_back(stride);
    r.table.speed_m_per_s = nan;
    r.table.speed_body_heights_per_s = inf;
    r.table.speed_passes = -1;
    r.table.cadence_steps_per_min = inf;
    r.table.subject_height_m = nan;
    r.table.symmetry_step_time = nan;
    r.table.left.stats[0] = {nan, inf, 1e308, std::numeric_limits<int>::min()};
    r.angles.left.cycles = std::numeric_limits<int>::max();
    CycleCurve hip;
    hip.mean.emplace();
    hip.mean->fill(nan);
    hip.sd.emplace();
    hip.sd->fill(2);
    r.angles.left.curves[0] = hip;
    CycleCurve knee;
    knee.mean.emplace();
    knee.mean->fill(10);
    r.angles.left.curves[1] = knee;            // drawn without its SD, so the peaks are shown too
    r.angles.left.peaks = {{1e308, nan, -5}};  // fewer peaks than kPeakNames
    QualityCheck check;
    check.name = "feet_in_frame";
    check.value = inf;
    check.verdict = QualityVerdict::kFail;
    check.withholds = {"walking_speed", "not_a_measure"};
    r.checks.push_back(check);
    check.name = "an_unknown_check";
    check.value = nan;
    r.checks.push_back(check);
  }
  // [3]: a table whose catalogue lacks what the report's names (per_side has no measure).
  cases[3].table.strides.push_back(Stride{});
  cases[3].table.cadence_steps = 4;
  for (const auto& result : cases) {
    std::string html;
    EXPECT_NO_THROW(html = render(result));
    EXPECT_NE(html.find("</html>"), std::string::npos);
    EXPECT_EQ(html.find("<script"), std::string::npos);
    EXPECT_EQ(html.find("nan"), std::string::npos);
    EXPECT_EQ(html.find(">inf"), std::string::npos);
  }
  // What is not finite is absent, with its reason.
  const std::string html = render(cases[2]);
  EXPECT_EQ(data_value(html, "walking_speed.m_per_s"), "null");
  EXPECT_EQ(data_value(html, "cadence_steps_per_min"), "null");
  EXPECT_EQ(data_value(html, "subject_height_m"), "null");
  EXPECT_EQ(data_value(html, "strides.0.start_s"), "null");
  EXPECT_EQ(data_value(html, "strides.0.stride_time_s"), "null");
  EXPECT_NE(text_after(html, "cadence_steps_per_min").find("front view"), std::string::npos);
  EXPECT_FALSE(data_value(html, "quality.fps").has_value());
  EXPECT_FALSE(data_value(html, "quality.duration_s").has_value());
  EXPECT_EQ(count(section(html, "timeline"), "data-event="), 1u);
  EXPECT_EQ(html.find("data-pass="), std::string::npos);
}

}  // namespace
}  // namespace dancer::analysis

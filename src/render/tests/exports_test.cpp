// The exports (render/exports.h) from the documented pose-gait result (docs/results.example.json,
// the real output on the kevin1 clip with a subject height of 1.80 m) and from a front-view
// result, where the contract leaves every measure null, each read back with from_json as a
// stored result is re-rendered: the CSV repeats the JSON's strides, and
// the FHIR bundle is valid R4 (tools/fhir_validator) whose every value is the JSON's figure.
#include "render/exports.h"

#include <gtest/gtest.h>

#include <charconv>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/fhir_validator.h"
#include "support/results_schema.h"
#include "support/test_support.h"

namespace dancer::analysis {
namespace {

using nlohmann::json;

const std::filesystem::path kSource = DANCER_SOURCE_DIR;
constexpr const char* kMetrics = "https://dancer.example/fhir/CodeSystem/gait-metrics";
constexpr const char* kUcum = "http://unitsofmeasure.org";

json kevin1_analysis() {
  return json::parse(testing::read_file(kSource / "docs" / "results.example.json")).at("analysis");
}

// What pose-gait writes for a front view (docs/results.md: no passes, events or strides,
// cadence null, every mean null), without a subject height.
json front_view_analysis() {
  json a = kevin1_analysis();
  a["quality"]["warnings"] = {"front_view"};
  a["quality"]["steps"] = 0;
  a["quality"]["strides"] = 0;
  a["quality"]["frames_with_angles"] = 0;
  a["events"] = json::array();
  a["passes"] = json::array();
  a["strides"] = json::array();
  a["cadence_steps_per_min"] = nullptr;
  a["cadence_steps"] = 0;
  a["subject_height_m"] = nullptr;
  for (const char* side : {"left", "right"}) {
    for (auto& [key, stat] : a["per_side"][side].items()) {
      stat = {{"mean", nullptr}, {"sd", nullptr}, {"cv", nullptr}, {"n", 0}};
    }
    for (auto& [key, peak] : a["kinematics"]["peaks"][side].items()) {
      peak = {{"mean", nullptr}, {"sd", nullptr}, {"n", 0}};
    }
    auto& cycles = a["kinematics"]["cycles"][side];
    cycles["n"] = 0;
    for (const char* joint : {"hip", "knee", "ankle"}) {
      cycles[joint] = {{"mean", nullptr}, {"sd", nullptr}};
    }
  }
  a["kinematics"]["per_frame"] = nullptr;
  a["walking_speed"] = {{"body_heights_per_s", nullptr}, {"m_per_s", nullptr}, {"passes", 0}};
  for (const char* index : {"step_time", "swing_time", "step_length"}) {
    a["symmetry"][index] = {{"pct", nullptr}, {"n_left", 0}, {"n_right", 0}};
  }
  return a;
}

FhirContext context(std::string job_id = "42") {
  FhirContext c;
  c.job_id = std::move(job_id);
  c.video_url = "s3://dancer-uploads/uploads/patient-0042/walk-side.mp4";
  c.video_content_type = "video/mp4";
  // Not a multiple of 3 bytes, with UTF-8 beyond ASCII: the base64 padding and the bytes count.
  c.report_html =
      "<!doctype html><html lang='en'><meta charset='utf-8'><title>Gait</title>"
      "<p>Cadence 103.9 steps/min \xE2\x80\x94 Kn\xC3\xA9"
      "e</p></html>\n";
  c.recorded = "2026-11-20";
  c.issued = "2026-11-28T07:10:00Z";
  return c;
}

// --- CSV ----------------------------------------------------------------------------------

std::vector<std::vector<std::string>> csv_rows(const std::string& csv) {
  // The strides' fields never need quotes, so a plain split reads them (quoting is tested apart).
  EXPECT_EQ(csv.find('"'), std::string::npos);
  std::vector<std::vector<std::string>> rows;
  std::size_t start = 0;
  while (start < csv.size()) {
    const std::size_t end = csv.find("\r\n", start);
    EXPECT_NE(end, std::string::npos) << "every line ends with CRLF";
    if (end == std::string::npos) break;
    const std::string line = csv.substr(start, end - start);
    EXPECT_EQ(line.find('\n'), std::string::npos);
    std::vector<std::string> cells;
    std::stringstream in(line);
    std::string cell;
    while (std::getline(in, cell, ',')) cells.push_back(cell);
    if (!line.empty() && line.back() == ',') cells.emplace_back();
    rows.push_back(cells);
    start = end + 2;
  }
  return rows;
}

double parse_double(const std::string& text) {
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  EXPECT_EQ(ec, std::errc()) << text;
  EXPECT_EQ(end, text.data() + text.size()) << text;
  return value;
}

const std::vector<std::string> kColumns = {"stride",
                                           "foot",
                                           "pass",
                                           "start_frame",
                                           "end_frame",
                                           "start_s",
                                           "stride_time_s",
                                           "step_time_s",
                                           "stance_s",
                                           "swing_s",
                                           "single_support_s",
                                           "initial_double_support_s",
                                           "terminal_double_support_s",
                                           "double_support_s",
                                           "stance_pct",
                                           "swing_pct",
                                           "single_support_pct",
                                           "double_support_pct",
                                           "step_length_body_heights",
                                           "stride_length_body_heights",
                                           "step_length_m",
                                           "stride_length_m"};

TEST(StridesCsv, OneRowPerStrideWithTheJsonValues) {
  const json analysis = kevin1_analysis();
  const json& strides = analysis.at("strides");
  ASSERT_EQ(strides.size(), 5u);
  const auto rows = csv_rows(strides_csv(from_json(analysis)));
  ASSERT_EQ(rows.size(), strides.size() + 1);
  EXPECT_EQ(rows[0], kColumns);

  int nulls = 0;
  for (std::size_t i = 0; i < strides.size(); ++i) {
    const auto& row = rows[i + 1];
    ASSERT_EQ(row.size(), kColumns.size()) << "row " << i;
    EXPECT_EQ(row[0], std::to_string(i));
    // Every field of the stride has its column, and every column but "stride" is a field.
    EXPECT_EQ(strides[i].size(), kColumns.size() - 1);
    for (std::size_t c = 1; c < kColumns.size(); ++c) {
      const json& value = strides[i].at(kColumns[c]);
      const std::string& cell = row[c];
      if (value.is_null()) {
        EXPECT_EQ(cell, "") << kColumns[c] << " of stride " << i;
        ++nulls;
      } else if (value.is_string()) {
        EXPECT_EQ(cell, value.get<std::string>());
      } else if (value.is_number_integer()) {
        EXPECT_EQ(cell, std::to_string(value.get<std::int64_t>())) << kColumns[c];
      } else {
        EXPECT_EQ(parse_double(cell), value.get<double>()) << kColumns[c] << " of stride " << i;
      }
    }
  }
  EXPECT_GT(nulls, 0) << "the example has strides without phases: nulls are exercised";
  // The first stride, as text: '.' decimals, nothing added.
  EXPECT_EQ(rows[1][1], "left");
  EXPECT_EQ(rows[1][6], "1.146");
  EXPECT_EQ(rows[1][20], "0.693");
}

TEST(StridesCsv, FrontViewGivesTheHeaderAlone) {
  const std::string csv = strides_csv(from_json(front_view_analysis()));
  const auto rows = csv_rows(csv);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0], kColumns);
}

// A stored analysis the writers cannot read is refused when it is read back (from_json), before
// any writer sees it.
TEST(StridesCsv, RefusesAnAnalysisWithoutStrides) {
  const json placeholder = {{"analyzer", {{"name", "placeholder"}, {"version", "1"}}}};
  EXPECT_THROW(from_json(placeholder), AnalysisJsonError);
  json wrong = kevin1_analysis();
  wrong["strides"][0]["stride_time_s"] = json::array({1});
  EXPECT_THROW(from_json(wrong), AnalysisJsonError);
  json foot = kevin1_analysis();
  foot["strides"][0]["foot"] = "le,ft";
  EXPECT_THROW(from_json(foot), AnalysisJsonError);
}

// --- FHIR ---------------------------------------------------------------------------------

std::vector<json> resources_of_type(const json& bundle, const std::string& type) {
  std::vector<json> out;
  for (const json& e : bundle.at("entry")) {
    if (e.at("resource").at("resourceType") == type) out.push_back(e.at("resource"));
  }
  return out;
}

std::map<std::string, json> observations_by_code(const json& bundle) {
  std::map<std::string, json> out;
  for (const json& o : resources_of_type(bundle, "Observation")) {
    const json& coding = o.at("code").at("coding").at(0);
    EXPECT_EQ(coding.at("system"), kMetrics);
    EXPECT_TRUE(out.emplace(coding.at("code").get<std::string>(), o).second) << "one per code";
  }
  return out;
}

const json* component(const json& observation, const std::string& code) {
  if (!observation.contains("component")) return nullptr;
  for (const json& c : observation.at("component")) {
    if (c.at("code").at("coding").at(0).at("code") == code) return &c;
  }
  return nullptr;
}

// `target` holds `value` (a JSON number in `ucum`) or, for null, a dataAbsentReason and no value.
void expect_value(const json& target, const json& value, const std::string& ucum,
                  const std::string& what) {
  SCOPED_TRACE(what);
  if (value.is_null()) {
    EXPECT_FALSE(target.contains("valueQuantity"));
    ASSERT_TRUE(target.contains("dataAbsentReason"));
    EXPECT_EQ(target.at("dataAbsentReason").at("coding").at(0).at("code"), "unknown");
    return;
  }
  EXPECT_FALSE(target.contains("dataAbsentReason"));
  ASSERT_TRUE(target.contains("valueQuantity"));
  EXPECT_EQ(target.at("valueQuantity").at("value").get<double>(), value.get<double>());
  EXPECT_EQ(target.at("valueQuantity").at("code"), ucum);
  EXPECT_EQ(target.at("valueQuantity").at("system"), kUcum);
}

// The per-side metrics, from the contract's own paths (independent of the implementation).
struct SideCase {
  std::string code;
  std::vector<std::string> base;  // object holding "left" and "right"
  std::string key;
  std::string ucum;
};

std::vector<SideCase> side_cases(bool metres) {
  std::vector<SideCase> cases = {
      {"stride-time", {"per_side"}, "stride_time_s", "s"},
      {"step-time", {"per_side"}, "step_time_s", "s"},
      {"stance-pct", {"per_side"}, "stance_pct", "%"},
      {"swing-pct", {"per_side"}, "swing_pct", "%"},
      {"single-support-pct", {"per_side"}, "single_support_pct", "%"},
      {"double-support-pct", {"per_side"}, "double_support_pct", "%"},
  };
  if (metres) {
    cases.push_back({"step-length", {"per_side"}, "step_length_m", "m"});
    cases.push_back({"stride-length", {"per_side"}, "stride_length_m", "m"});
  } else {
    cases.push_back(
        {"step-length-body-heights", {"per_side"}, "step_length_body_heights", "{body_height}"});
    cases.push_back({"stride-length-body-heights",
                     {"per_side"},
                     "stride_length_body_heights",
                     "{body_height}"});
  }
  for (const char* peak :
       {"hip_flexion_max", "hip_extension_max", "hip_rom", "knee_flexion_loading_max",
        "knee_flexion_swing_max", "knee_rom", "ankle_dorsiflexion_stance_max",
        "ankle_plantarflexion_max", "ankle_rom"}) {
    std::string code = peak;
    for (char& ch : code) ch = ch == '_' ? '-' : ch;
    cases.push_back({code, {"kinematics", "peaks"}, peak, "deg"});
  }
  return cases;
}

const std::vector<std::pair<std::string, std::string>> kSymmetryCases = {
    {"step-time-symmetry", "step_time"},
    {"swing-time-symmetry", "swing_time"},
    {"step-length-symmetry", "step_length"}};

// Every Observation's values against the analysis it came from; counts the values that were
// numbers and those absent.
void expect_observations_equal_the_json(const json& analysis, const json& bundle, int& numbers,
                                        int& absent) {
  numbers = 0;
  absent = 0;
  const auto count = [&](const json& v) { ++(v.is_null() ? absent : numbers); };
  const auto observations = observations_by_code(bundle);
  const bool metres = !analysis.at("subject_height_m").is_null();
  std::set<std::string> expected;

  const json& cadence = observations.at("cadence");
  expect_value(cadence, analysis.at("cadence_steps_per_min"), "/min", "cadence");
  count(analysis.at("cadence_steps_per_min"));
  EXPECT_EQ(component(cadence, "steps")->at("valueInteger"), analysis.at("cadence_steps"));
  expected.insert("cadence");

  const std::string speed_code = metres ? "walking-speed" : "walking-speed-body-heights";
  const json& speed_value =
      analysis.at("walking_speed").at(metres ? "m_per_s" : "body_heights_per_s");
  const json& speed = observations.at(speed_code);
  expect_value(speed, speed_value, metres ? "m/s" : "{body_height}/s", speed_code);
  count(speed_value);
  EXPECT_EQ(component(speed, "passes")->at("valueInteger"),
            analysis.at("walking_speed").at("passes"));
  expected.insert(speed_code);

  for (const SideCase& c : side_cases(metres)) {
    SCOPED_TRACE(c.code);
    expected.insert(c.code);
    ASSERT_EQ(observations.count(c.code), 1u);
    const json& o = observations.at(c.code);
    EXPECT_FALSE(o.contains("valueQuantity"));
    EXPECT_FALSE(o.contains("dataAbsentReason"));
    const json* sides = &analysis;
    for (const std::string& key : c.base) sides = &sides->at(key);
    for (const std::string side : {"left", "right"}) {
      const json& stat = sides->at(side).at(c.key);
      const json* value = component(o, c.code + "-" + side);
      ASSERT_NE(value, nullptr) << side;
      expect_value(*value, stat.at("mean"), c.ucum, side);
      count(stat.at("mean"));
      const json* strides = component(o, "strides-" + side);
      ASSERT_NE(strides, nullptr) << side;
      EXPECT_EQ(strides->at("valueInteger"), stat.at("n")) << side;
    }
    EXPECT_EQ(o.at("component").size(), 4u);
  }

  for (const auto& [code, key] : kSymmetryCases) {
    expected.insert(code);
    const json& o = observations.at(code);
    const json& index = analysis.at("symmetry").at(key);
    expect_value(o, index.at("pct"), "%", code);
    count(index.at("pct"));
    EXPECT_EQ(component(o, "strides-left")->at("valueInteger"), index.at("n_left"));
    EXPECT_EQ(component(o, "strides-right")->at("valueInteger"), index.at("n_right"));
  }

  std::set<std::string> found;
  for (const auto& [code, o] : observations) found.insert(code);
  EXPECT_EQ(found, expected) << "no Observation without a figure of the analysis behind it";
}

TEST(FhirBundle, TheDocumentedResultIsValidR4) {
  EXPECT_TRUE(testing::matches_fhir_r4(fhir_bundle(from_json(kevin1_analysis()), context())));
}

TEST(FhirBundle, AFrontViewResultIsValidR4) {
  const json analysis = front_view_analysis();
  ASSERT_TRUE(testing::matches_analysis_schema(analysis)) << "the fixture is a contract result";
  EXPECT_TRUE(testing::matches_fhir_r4(fhir_bundle(from_json(analysis), context())));
}

TEST(FhirBundle, EveryValueIsTheJsonFigureItCameFrom) {
  const json analysis = kevin1_analysis();
  const json bundle = fhir_bundle(from_json(analysis), context());
  int numbers = 0;
  int absent = 0;
  expect_observations_equal_the_json(analysis, bundle, numbers, absent);
  // kevin1: 3 left and 2 right strides, so both kinds occur.
  EXPECT_GE(numbers, 10);
  EXPECT_GE(absent, 10);

  const auto observations = observations_by_code(bundle);
  // Spot checks in the document's own numbers.
  const auto left_value = [&](const std::string& code) {
    return component(observations.at(code), code + "-left")->at("valueQuantity").at("value");
  };
  EXPECT_EQ(observations.at("cadence").at("valueQuantity").at("value"), 103.9);
  EXPECT_EQ(observations.at("cadence").at("valueQuantity").at("unit"), "steps/min");
  EXPECT_EQ(observations.at("walking-speed").at("valueQuantity").at("value"), 1.306);
  EXPECT_EQ(left_value("stride-time"), 1.155);
  EXPECT_EQ(left_value("step-length"), 0.675);
  EXPECT_EQ(left_value("hip-rom"), 43.0);
  // The right side rests on 2 strides: absent, and the note says why.
  const json& right = *component(observations.at("stride-time"), "stride-time-right");
  EXPECT_NE(right.at("dataAbsentReason").at("text").get<std::string>().find("2 strides"),
            std::string::npos);
  EXPECT_NE(observations.at("stride-time").at("note").dump().find("too_few_strides_right"),
            std::string::npos);
}

TEST(FhirBundle, ANullMetricIsADataAbsentReasonNeverANumber) {
  const json analysis = front_view_analysis();
  const json bundle = fhir_bundle(from_json(analysis), context());
  int numbers = 0;
  int absent = 0;
  expect_observations_equal_the_json(analysis, bundle, numbers, absent);
  EXPECT_EQ(numbers, 0);
  EXPECT_EQ(absent, 2 + 2 * 17 + 3);  // cadence, speed, 17 side metrics, 3 indices

  for (const json& o : resources_of_type(bundle, "Observation")) {
    SCOPED_TRACE(o.at("code").dump());
    std::vector<const json*> valued = {&o};
    if (o.contains("component")) {
      for (const json& c : o.at("component")) {
        if (!c.contains("valueInteger")) valued.push_back(&c);
      }
    }
    for (const json* v : valued) {
      if (v == &o && o.contains("component") && !o.contains("dataAbsentReason") &&
          !o.contains("valueQuantity")) {
        continue;  // a per-side metric: its components carry the values
      }
      EXPECT_FALSE(v->contains("valueQuantity"));
      EXPECT_NE((*v).at("dataAbsentReason").at("text").get<std::string>().find("front_view"),
                std::string::npos);
    }
    EXPECT_NE(o.at("note").dump().find("front_view"), std::string::npos);
  }
  // Without a subject height: the body-heights codes, no metres anywhere.
  EXPECT_EQ(bundle.dump().find("\"code\":\"m\""), std::string::npos);
  EXPECT_EQ(bundle.dump().find("\"code\":\"m/s\""), std::string::npos);
}

std::string base64_decode(const std::string& text) {
  constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (const char c : text) {
    if (c == '=') break;
    const auto at = kAlphabet.find(c);
    EXPECT_NE(at, std::string_view::npos) << c;
    buffer = (buffer << 6) | static_cast<unsigned>(at);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xff);
    }
  }
  return out;
}

TEST(FhirBundle, TheReportDecodesBackToTheHtml) {
  const FhirContext c = context();
  const json bundle = fhir_bundle(from_json(kevin1_analysis()), c);
  const json report = resources_of_type(bundle, "DiagnosticReport").at(0);
  ASSERT_EQ(report.at("presentedForm").size(), 1u);
  const json& form = report.at("presentedForm").at(0);
  EXPECT_EQ(form.at("contentType"), "text/html");
  EXPECT_EQ(form.at("title"), "Gait analysis report");
  EXPECT_EQ(form.at("size"), c.report_html.size());
  EXPECT_EQ(base64_decode(form.at("data").get<std::string>()), c.report_html);
  EXPECT_EQ(form.at("data").get<std::string>().size() % 4, 0u);
  // SHA-1 of the bytes, base64 (20 bytes: 28 characters).
  EXPECT_EQ(base64_decode(form.at("hash").get<std::string>()).size(), 20u);

  FhirContext without = c;
  without.report_html.clear();
  const json bare = fhir_bundle(from_json(kevin1_analysis()), without);
  EXPECT_FALSE(resources_of_type(bare, "DiagnosticReport").at(0).contains("presentedForm"));
}

TEST(FhirBundle, TheReportLinksEveryObservationTheVideoAndThePlaceholderSubject) {
  const json analysis = kevin1_analysis();
  const FhirContext c = context();
  const json bundle = fhir_bundle(from_json(analysis), c);
  EXPECT_EQ(bundle.at("resourceType"), "Bundle");
  EXPECT_EQ(bundle.at("type"), "collection");
  EXPECT_EQ(bundle.at("timestamp"), c.issued);
  const json& first = bundle.at("entry").at(0).at("resource");
  ASSERT_EQ(first.at("resourceType"), "DiagnosticReport");
  EXPECT_EQ(first.at("status"), "final");
  EXPECT_EQ(first.at("code").at("coding").at(0).at("code"), "gait-analysis");
  EXPECT_EQ(first.at("effectiveDateTime"), c.recorded);
  EXPECT_EQ(first.at("issued"), c.issued);
  EXPECT_EQ(first.at("identifier").at(0).at("value"), c.job_id);

  std::vector<std::string> observation_urls;
  std::string media_url;
  for (const json& e : bundle.at("entry")) {
    const json& r = e.at("resource");
    EXPECT_EQ(e.at("fullUrl"), "urn:uuid:" + r.at("id").get<std::string>());
    if (r.at("resourceType") == "Observation") observation_urls.push_back(e.at("fullUrl"));
    if (r.at("resourceType") == "Media") media_url = e.at("fullUrl");
    if (r.contains("subject")) {
      EXPECT_EQ(r.at("subject").at("reference"), kFhirSubjectPlaceholder);
    }
  }
  std::vector<std::string> results;
  for (const json& ref : first.at("result")) results.push_back(ref.at("reference"));
  EXPECT_EQ(results, observation_urls);
  EXPECT_EQ(first.at("media").at(0).at("link").at("reference"), media_url);

  const json media = resources_of_type(bundle, "Media").at(0);
  EXPECT_EQ(media.at("content").at("url"), c.video_url);
  EXPECT_EQ(media.at("content").at("contentType"), c.video_content_type);
  EXPECT_EQ(media.at("frames"), analysis.at("quality").at("frames"));
  EXPECT_EQ(media.at("width"), 1920);
  EXPECT_EQ(media.at("height"), 1080);
  EXPECT_EQ(media.at("duration"), analysis.at("quality").at("duration_s"));

  const json device = resources_of_type(bundle, "Device").at(0);
  EXPECT_EQ(device.at("version").at(0).at("value"), "1.0.0");  // analysis.analyzer.version
  const std::string device_url = "urn:uuid:" + device.at("id").get<std::string>();
  for (const json& o : resources_of_type(bundle, "Observation")) {
    EXPECT_EQ(o.at("derivedFrom").at(0).at("reference"), media_url);
    EXPECT_EQ(o.at("device").at("reference"), device_url);
    EXPECT_EQ(o.at("method").at("text"), "2D video pose estimation (BlazePose), side view");
    EXPECT_EQ(o.at("status"), "final");
    EXPECT_EQ(o.at("effectiveDateTime"), c.recorded);
  }

  FhirContext undated = c;
  undated.recorded.clear();
  const json later = fhir_bundle(from_json(analysis), undated);
  EXPECT_EQ(later.dump().find("effectiveDateTime"), std::string::npos);
  EXPECT_TRUE(testing::matches_fhir_r4(later));
}

TEST(FhirBundle, TheSameInputGivesTheSameBundle) {
  const json analysis = kevin1_analysis();
  const json a = fhir_bundle(from_json(analysis), context("42"));
  EXPECT_EQ(a.dump(), fhir_bundle(from_json(analysis), context("42")).dump());

  std::set<std::string> ids;
  for (const json& e : a.at("entry")) {
    const std::string id = e.at("resource").at("id");
    EXPECT_TRUE(ids.insert(id).second) << "unique: " << id;
    // RFC 9562 version 5: 8-4-4-4-12 lowercase hex, version 5, variant 10xx.
    ASSERT_EQ(id.size(), 36u);
    EXPECT_EQ(id[14], '5') << id;
    EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos) << id;
  }
  // Another job: other ids throughout.
  const json b = fhir_bundle(from_json(analysis), context("43"));
  for (const json& e : b.at("entry")) EXPECT_EQ(ids.count(e.at("resource").at("id")), 0u);
  EXPECT_NE(a.at("id"), b.at("id"));
}

TEST(FhirBundle, IdsAreNameBasedUuidsOfTheJobAndTheRole) {
  // RFC 9562 version 5 in namespace 0531150c-ae4d-48ff-98e8-66fc2f459ed3 of the name
  // "<length of job id>:<job id>/<role>" (docs/fhir.md): Python's
  // uuid.uuid5(namespace, "2:42/diagnostic-report") gives the same.
  const json bundle = fhir_bundle(from_json(kevin1_analysis()), context("42"));
  EXPECT_EQ(bundle.at("id"), "ac15c99f-1006-53f2-8225-6524633fffd3");  // "2:42/bundle"
  EXPECT_EQ(bundle.at("entry").at(0).at("fullUrl"),
            "urn:uuid:faa6214b-fb24-57e6-be67-e451a7c6829c");
  const auto observations = observations_by_code(bundle);
  EXPECT_EQ(observations.at("cadence").at("id"), "c9cac37b-772d-5503-8819-028af89fb9f0");
  EXPECT_EQ(resources_of_type(bundle, "Media").at(0).at("id"),
            "59499e1f-4296-5acd-a91d-61cdc283308a");
}

TEST(FhirBundle, TheValidatorRefusesABrokenBundle) {
  const json bundle = fhir_bundle(from_json(kevin1_analysis()), context());
  std::size_t observation = 0;
  while (bundle.at("entry").at(observation).at("resource").at("resourceType") != "Observation")
    ++observation;

  json no_status = bundle;
  no_status.at("entry").at(observation).at("resource").erase("status");
  const auto missing = testing::matches_fhir_r4(no_status);
  EXPECT_FALSE(missing);
  EXPECT_NE(std::string(missing.message()).find("Observation.status"), std::string::npos)
      << missing.message();

  // A value and the reason it is absent at once (invariant obs-6).
  json both = bundle;
  json& cadence = both.at("entry").at(observation).at("resource");
  ASSERT_TRUE(cadence.contains("valueQuantity"));
  cadence["dataAbsentReason"] = {{"text", "no"}};
  const auto contradicts = testing::matches_fhir_r4(both);
  EXPECT_FALSE(contradicts);
  EXPECT_NE(std::string(contradicts.message()).find("obs-6"), std::string::npos)
      << contradicts.message();
}

TEST(FhirBundle, RefusesWhatItCannotExport) {
  GaitResult placeholder = from_json(kevin1_analysis());
  placeholder.analyzer = {"placeholder", "1", "", ""};
  EXPECT_THROW(fhir_bundle(placeholder, context()), ExportError);
  const GaitResult analysis = from_json(kevin1_analysis());
  const auto refused = [&](auto change) {
    FhirContext c = context();
    change(c);
    try {
      fhir_bundle(analysis, c);
    } catch (const ExportError&) {
      return true;
    }
    return false;
  };
  EXPECT_TRUE(refused([](FhirContext& c) { c.job_id.clear(); }));
  EXPECT_TRUE(refused([](FhirContext& c) { c.video_url = "s3://bucket/a walk.mp4"; }));
  EXPECT_TRUE(refused([](FhirContext& c) { c.video_content_type.clear(); }));
  EXPECT_TRUE(refused([](FhirContext& c) { c.issued = "2026-11-28T07:10:00"; }));  // no zone
  EXPECT_TRUE(refused([](FhirContext& c) { c.issued = "2026-11-28"; }));
  EXPECT_TRUE(refused([](FhirContext& c) { c.recorded = "28.11.2026"; }));
  EXPECT_FALSE(refused([](FhirContext& c) { c.recorded = "2026-11"; }));  // a partial date
  EXPECT_FALSE(refused([](FhirContext& c) { c.issued = "2026-11-28T08:10:00.250+01:00"; }));

  json wrong = kevin1_analysis();
  wrong.at("cadence_steps_per_min") = "103.9";
  EXPECT_THROW(from_json(wrong), AnalysisJsonError);
}

TEST(FhirBundle, EveryCodeItUsesIsDocumented) {
  const std::string doc = testing::read_file(kSource / "docs" / "fhir.md");
  std::set<std::string> codes;
  for (const json& analysis : {kevin1_analysis(), front_view_analysis()}) {
    const json bundle = fhir_bundle(from_json(analysis), context());
    for (const json& e : bundle.at("entry")) {
      const json& r = e.at("resource");
      std::vector<json> concepts;
      if (r.contains("code")) concepts.push_back(r.at("code"));
      if (r.contains("method")) concepts.push_back(r.at("method"));
      for (const json& c : r.value("component", json::array())) concepts.push_back(c.at("code"));
      for (const json& codeable : concepts) {
        const json& coding = codeable.at("coding").at(0);
        if (coding.at("system").get<std::string>().rfind("https://dancer.example/", 0) == 0) {
          codes.insert(coding.at("code").get<std::string>());
        }
      }
    }
  }
  EXPECT_GE(codes.size(), 60u);
  for (const std::string& code : codes) {
    EXPECT_NE(doc.find("| `" + code + "` |"), std::string::npos) << code << " in docs/fhir.md";
  }
}

}  // namespace
}  // namespace dancer::analysis

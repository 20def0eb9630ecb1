// The catalogue of measures (gait/measures.h) is the only list the table and the writers read:
// a measure added to it appears in the stride table and its JSON, the report, the strides CSV
// and the FHIR bundle, with no other code change.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gait/gait_table.h"
#include "gait/measures.h"
#include "render/clinical_report.h"
#include "render/exports.h"

namespace dancer::analysis {
namespace {

using nlohmann::json;

// A walk of `strides` 1.1 s strides, right contacts half way, toe-offs 0.1 s after the other
// foot's contact (every phase defined).
KeypointGait steady_walk(int strides) {
  KeypointGait g;
  const auto event = [](Foot foot, FootEventType type, double t, std::optional<double> length) {
    return FootEvent{foot, type, std::lround(t * 30), t, 0, length};
  };
  for (int k = 0; k <= strides; ++k) {
    const double t = 1.1 * k;
    g.events.push_back(event(Foot::kLeft, FootEventType::kInitialContact, t, 0.40));
    if (k == strides) break;
    g.events.push_back(event(Foot::kRight, FootEventType::kToeOff, t + 0.1, std::nullopt));
    g.events.push_back(event(Foot::kRight, FootEventType::kInitialContact, t + 0.55, 0.41));
    g.events.push_back(event(Foot::kLeft, FootEventType::kToeOff, t + 0.65, std::nullopt));
  }
  WalkingPass pass;
  pass.start_s = 0;
  pass.end_s = 1.1 * strides;
  pass.speed_body_heights_per_s = 0.7;
  g.passes.push_back(pass);
  return g;
}

// The catalogue with one more measure: strides per second.
std::vector<StrideMeasure> catalogue_with_stride_frequency() {
  const auto base = stride_measures();
  std::vector<StrideMeasure> out(base.begin(), base.end());
  out.push_back({.key = "stride_frequency_hz",
                 .label = "Stride frequency",
                 .unit = "Hz",
                 .unit_text = "Hz",
                 .unit_report = "strides/s",
                 .unit_short = "Hz",
                 .decimals = 2,
                 .scale = MeasureScale::kTime,
                 .fhir_code = "stride-frequency",
                 .fhir_display = "Stride frequency",
                 .stride_table = true,
                 .value = [](const Stride& s) {
                   return s.stride_time_s > 0 ? std::optional<double>(1 / s.stride_time_s)
                                              : std::nullopt;
                 }});
  return out;
}

json documented_analysis() {
  std::ifstream in(std::string(DANCER_SOURCE_DIR) + "/docs/results.example.json");
  return json::parse(in).at("analysis");
}

TEST(MeasureCatalogue, AnAddedMeasureReachesTheTableReportCsvAndFhir) {
  const std::vector<StrideMeasure> catalogue = catalogue_with_stride_frequency();
  const GaitTable table = build_gait_table(steady_walk(5), std::nullopt, {}, catalogue);

  // The table computes it per stride and per side, in the catalogue's order.
  EXPECT_NEAR(table.left.at("stride_frequency_hz").mean.value(), 1 / 1.1, 1e-9);
  EXPECT_EQ(table.left.at("stride_frequency_hz").n, 5);
  const json table_json = json::parse(to_json(table).dump());
  EXPECT_NEAR(table_json.at("strides").at(0).at("stride_frequency_hz").get<double>(), 0.909, 1e-9);
  EXPECT_NEAR(
      table_json.at("per_side").at("right").at("stride_frequency_hz").at("mean").get<double>(),
      0.909, 1e-9);

  // The writers (the report among them) take the table's JSON as the analyzer stores it, read
  // back with the catalogue.
  json analysis = documented_analysis();
  for (const auto& [key, value] : table_json.items()) analysis[key] = value;
  const GaitResult result = from_json(analysis, catalogue);

  const std::string csv = strides_csv(result);
  const std::string header = csv.substr(0, csv.find("\r\n"));
  EXPECT_EQ(header.substr(header.rfind(',') + 1), "stride_frequency_hz") << header;
  const std::string first_row =
      csv.substr(header.size() + 2, csv.find("\r\n", header.size() + 2) - header.size() - 2);
  EXPECT_EQ(first_row.substr(first_row.rfind(',') + 1), "0.909") << first_row;

  FhirContext context;
  context.job_id = "3f2b8c1e-0d4a-4b6e-9c7d-2a1f5e8b9c30";
  context.video_url = "s3://dancer-uploads/uploads/walk.mp4";
  context.video_content_type = "video/mp4";
  context.issued = "2026-11-28T07:10:00Z";
  const json bundle = fhir_bundle(result, context);
  const json* observation = nullptr;
  for (const json& entry : bundle.at("entry")) {
    const json& r = entry.at("resource");
    if (r.at("resourceType") == "Observation" &&
        r.at("code").at("coding").at(0).at("code") == "stride-frequency") {
      observation = &r;
    }
  }
  ASSERT_NE(observation, nullptr) << "no stride-frequency Observation";
  const json& left = observation->at("component").at(0);
  EXPECT_EQ(left.at("code").at("coding").at(0).at("code"), "stride-frequency-left");
  EXPECT_NEAR(left.at("valueQuantity").at("value").get<double>(), 0.909, 1e-9);
  EXPECT_EQ(left.at("valueQuantity").at("code"), "Hz");

  ReportContext report_context;
  report_context.object_name = "uploads/walk.mp4";
  const std::string html =
      render_clinical_report(result, json(), report_context, {}, {}, catalogue);
  EXPECT_NE(html.find("Stride frequency <span class=\"unit\">(strides/s)</span>"),
            std::string::npos);
  EXPECT_NE(html.find("data-metric=\"per_side.left.stride_frequency_hz.mean\""), std::string::npos);
  EXPECT_NE(html.find("<th class=\"num\">Stride frequency (Hz)</th>"), std::string::npos);
  EXPECT_NE(html.find("data-metric=\"strides.0.stride_frequency_hz\" data-value=\"0.909\""),
            std::string::npos);

  // Without the entry, none of them carries it.
  const GaitTable plain = build_gait_table(steady_walk(5));
  EXPECT_THROW(static_cast<void>(plain.left.at("stride_frequency_hz")), std::out_of_range);
  const GaitResult plain_result = from_json(analysis);
  EXPECT_EQ(strides_csv(plain_result).find("stride_frequency_hz"), std::string::npos);
  EXPECT_EQ(fhir_bundle(plain_result, context).dump().find("stride-frequency"), std::string::npos);
  EXPECT_EQ(
      render_clinical_report(plain_result, json(), report_context, {}, {}).find("Stride frequency"),
      std::string::npos);
}

std::string read_doc(const std::string& relative) {
  std::ifstream in(std::string(DANCER_SOURCE_DIR) + "/" + relative);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The contract documents say what the catalogue says: the JSON Schema requires exactly its keys,
// in its order, per stride and per side; docs/fhir.md lists every FHIR code and docs/exports.md
// every CSV column.
TEST(MeasureCatalogue, TheContractDocumentsListEveryMeasure) {
  const json schema = json::parse(read_doc("docs/results.schema.json"));
  std::vector<std::string> keys;
  for (const StrideMeasure& m : stride_measures()) keys.emplace_back(m.key);
  EXPECT_EQ(schema.at("definitions").at("side").at("required").get<std::vector<std::string>>(),
            keys);
  std::vector<std::string> stride_keys = {"foot", "pass", "start_frame", "end_frame", "start_s"};
  stride_keys.insert(stride_keys.end(), keys.begin(), keys.end());
  EXPECT_EQ(schema.at("definitions").at("stride").at("required").get<std::vector<std::string>>(),
            stride_keys);
  const std::string fhir = read_doc("docs/fhir.md");
  const std::string exports = read_doc("docs/exports.md");
  for (const StrideMeasure& m : stride_measures()) {
    EXPECT_NE(exports.find(std::string(m.key)), std::string::npos) << m.key;
    if (!m.fhir_code.empty()) {
      EXPECT_NE(fhir.find("`" + std::string(m.fhir_code) + "`"), std::string::npos) << m.fhir_code;
    }
  }
}

// Each key once, and every metres measure scales a body-height measure of the catalogue.
TEST(MeasureCatalogue, KeysAreUniqueAndMetresScaleABodyHeightMeasure) {
  const auto all = stride_measures();
  for (std::size_t i = 0; i < all.size(); ++i) {
    for (std::size_t j = i + 1; j < all.size(); ++j) EXPECT_NE(all[i].key, all[j].key);
    if (all[i].scale == MeasureScale::kMetres) {
      EXPECT_EQ(all[i].value, nullptr) << all[i].key;
      bool found = false;
      for (const StrideMeasure& b : all) {
        found = found || (b.key == all[i].metres_of && b.scale == MeasureScale::kBodyHeights);
      }
      EXPECT_TRUE(found) << all[i].key << " scales " << all[i].metres_of;
    } else {
      EXPECT_NE(all[i].value, nullptr) << all[i].key;
    }
  }
}

}  // namespace
}  // namespace dancer::analysis

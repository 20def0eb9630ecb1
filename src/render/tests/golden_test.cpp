// The writers' outputs, byte for byte: the clinical report, the strides CSV and the FHIR bundle
// of stored results (the documented example, docs/results.example.json, and the analyses of the
// four shared clips as the service produced them, tests/data/golden/<clip>/results.json) must
// equal the files recorded beside them. Any change a writer makes to what a reader receives
// shows here. When a change is intended, DANCER_UPDATE_GOLDEN=1 rewrites the recorded files, and
// the commit's diff of tests/data/golden is the review of what changed.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "render/clinical_report.h"
#include "render/exports.h"
#include "support/test_support.h"

namespace dancer::analysis {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Compares `actual` with the recorded file, or records it under DANCER_UPDATE_GOLDEN=1.
void expect_golden(const fs::path& recorded, const std::string& actual) {
  const char* update = std::getenv("DANCER_UPDATE_GOLDEN");
  if (update != nullptr && std::string(update) == "1") {
    std::ofstream(recorded, std::ios::binary) << actual;
    return;
  }
  ASSERT_TRUE(fs::exists(recorded)) << recorded << " is not recorded (DANCER_UPDATE_GOLDEN=1)";
  const std::string expected = read_text(recorded);
  if (expected == actual) return;
  std::size_t at = 0;
  while (at < expected.size() && at < actual.size() && expected[at] == actual[at]) ++at;
  ADD_FAILURE() << recorded << " differs from byte " << at
                << ":\n  recorded: " << expected.substr(at > 60 ? at - 60 : 0, 160)
                << "\n  now:      " << actual.substr(at > 60 ? at - 60 : 0, 160);
}

struct Golden {
  std::string name;
  fs::path results;  // a results_json, or {"analysis", "metadata"}
};

class WriterGolden : public ::testing::TestWithParam<Golden> {};

TEST_P(WriterGolden, ReportCsvAndFhirAreAsRecorded) {
  const Golden& g = GetParam();
  const json results = json::parse(read_text(g.results));
  const json& analysis = results.at("analysis");
  const json metadata = results.value("metadata", json());
  const fs::path dir = testing::test_data("golden") / g.name;
  fs::create_directories(dir);

  // Everything the writers take besides the result is fixed, so the outputs are too.
  ReportContext context;
  context.object_name = "uploads/" + g.name + ".mp4";
  context.processed_at = std::chrono::system_clock::time_point(std::chrono::seconds(1764806400));
  context.job_id = "3f2b8c1e-0d4a-4b6e-9c7d-2a1f5e8b9c30";
  // The writers take the typed result, read back as a stored result is re-rendered.
  const GaitResult result = from_json(analysis);
  const std::string report = render_clinical_report(result, metadata, context, {}, {});
  expect_golden(dir / "report.html", report);
  expect_golden(dir / "strides.csv", strides_csv(result));

  FhirContext fhir;
  fhir.job_id = *context.job_id;
  fhir.video_url = "s3://dancer-uploads/" + context.object_name;
  fhir.video_content_type = "video/mp4";
  // The report is recorded above; embedding it again (base64) would only repeat it.
  fhir.report_html = "";
  fhir.recorded = "2026-11-28";
  fhir.issued = "2026-11-28T07:10:00Z";
  expect_golden(dir / "fhir.json", fhir_bundle(result, fhir).dump(1) + "\n");
}

INSTANTIATE_TEST_SUITE_P(
    StoredResults, WriterGolden,
    ::testing::Values(
        Golden{"results_example", fs::path(DANCER_SOURCE_DIR) / "docs/results.example.json"},
        Golden{"side_gaitcdio_4markerskevin1",
               testing::test_data("golden/side_gaitcdio_4markerskevin1/results.json")},
        Golden{"side_sarweshshah_outdoor",
               testing::test_data("golden/side_sarweshshah_outdoor/results.json")},
        Golden{"side_sports2d_demo4_gym",
               testing::test_data("golden/side_sports2d_demo4_gym/results.json")},
        Golden{"front_assemblyai_walking_cane",
               testing::test_data("golden/front_assemblyai_walking_cane/results.json")}),
    [](const ::testing::TestParamInfo<Golden>& param) { return param.param.name; });

}  // namespace
}  // namespace dancer::analysis

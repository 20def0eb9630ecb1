// The results contract in tests: checks a results_json (or one analyzer's `analysis`) against
// docs/results.schema.json with tools/results_schema/validate.py, so a test of any layer can
// assert that what it produced is what the web backend is promised (docs/results.md):
//
//   EXPECT_TRUE(matches_results_schema(nlohmann::json::parse(job.results_json)));
//   EXPECT_TRUE(matches_analysis_schema(analyzer->analyze(request).analysis));
//
// On a mismatch the assertion's message lists every violation with its JSON path.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

namespace dancer::testing {

// The whole results_json column: {results_version, analysis, object, processing,
// report_location?}.
::testing::AssertionResult matches_results_schema(const nlohmann::json& results);

// What an analyzer returns (AnalysisResult::analysis), against #/definitions/analysis.
::testing::AssertionResult matches_analysis_schema(const nlohmann::json& analysis);

// The files the checks use, in the source tree.
std::filesystem::path results_schema_path();     // docs/results.schema.json
std::filesystem::path results_validator_path();  // tools/results_schema/validate.py

}  // namespace dancer::testing

// FHIR R4 in tests: checks a resource (normally the Bundle of render/exports.h) with
// tools/fhir_validator/validate.mjs, which runs HL7's R4 JSON Schema, FHIR.js's R4 structure
// definitions and the R4 invariants they leave out, offline (docs/fhir.md, "Validating"):
//
//   EXPECT_TRUE(matches_fhir_r4(analysis::fhir_bundle(result, context)));
//
// On a mismatch the assertion's message lists every problem the validator found.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>

#include <nlohmann/json.hpp>

namespace dancer::testing {

::testing::AssertionResult matches_fhir_r4(const nlohmann::json& resource);

// tools/fhir_validator/validate.mjs in the source tree (its packages: scripts/install-deps.sh).
std::filesystem::path fhir_validator_path();

}  // namespace dancer::testing

// The version of the results_json contract (docs/results.md, docs/results.schema.json) that
// this build writes. Semantic versioning: a new optional key or a new warning name is a minor
// step; removing, renaming or retyping a key, or making an optional key required, is a major
// step, and the schema's results_version pattern moves with the major number.
#pragma once

namespace dancer::service {

inline constexpr const char* kResultsVersion = "1.8.0";

}  // namespace dancer::service

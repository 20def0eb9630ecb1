// The version of the results_json contract (docs/results.md, docs/results.schema.json) that
// this build writes. Semantic versioning: a new optional key or a new warning name is a minor
// step; removing, renaming or retyping a key, or making an optional key required, is a major
// step, and the schema's results_version pattern moves with the major number.
#pragma once

namespace dancer::service {

inline constexpr const char* kResultsVersion = "1.10.0";

// processing.warnings: the web-playable copy and poster could not be made (since 1.9.0).
inline constexpr const char* kProxyFailedWarning = "proxy_failed";

}  // namespace dancer::service

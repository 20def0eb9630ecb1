// UTC timestamps as ISO 8601 / RFC 3339 text, written once: credential expiry in logs, the
// FHIR bundle's `issued`.
#pragma once

#include <chrono>
#include <string>

namespace dancer::common {

// "2024-05-01T12:34:56Z": whole seconds, UTC.
std::string format_iso8601(std::chrono::system_clock::time_point time);

}  // namespace dancer::common

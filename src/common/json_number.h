// Numbers in the results JSON: rounded below their accuracy, null when absent.
#pragma once

#include <cmath>
#include <optional>

#include <nlohmann/json.hpp>

namespace dancer::common {

// `v` rounded to 1/scale (scale 1000: three decimals), or null.
inline nlohmann::ordered_json json_number(std::optional<double> v, double scale = 1000) {
  if (!v || !std::isfinite(*v)) return nullptr;
  return std::round(*v * scale) / scale;
}

}  // namespace dancer::common

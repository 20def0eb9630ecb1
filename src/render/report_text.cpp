// Text of the clinical report: escaping, numbers as shown, fields read from the results JSON,
// and the data-metric spans every figure drawn from the results is written in.
#include "render/report_parts.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#include "common/strings.h"
#include "common/utf8.h"

namespace dancer::analysis::report {

// Everything that comes from outside (object names, tags, captions, warning names of an
// external analyzer) goes through here: made valid UTF-8 (the page declares UTF-8), then every
// character that could open markup or end an attribute value is escaped.
std::string esc(std::string_view text) {
  return common::escape_markup(common::to_valid_utf8(text));
}

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  std::string s = buf;
  // "-0.0" reads as a sign where there is none.
  if (s.front() == '-' && s.find_first_not_of("-0.") == std::string::npos) s.erase(0, 1);
  return s;
}

std::string svg_num(double v) { return fixed(v, 1); }

// The number as results_json writes it (shortest round trip), for data-value.
std::string raw_value(const json& v) {
  if (v.is_number()) return v.dump();
  return "null";
}

std::string raw_value(double v) { return std::isfinite(v) ? json(v).dump() : "null"; }

std::string raw_value(std::optional<double> v) { return v ? raw_value(*v) : "null"; }

const json& field(const json& j, const std::string& key) {
  static const json kNull;
  if (!j.is_object()) return kNull;
  const auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

std::optional<double> number(const json& v) {
  if (!v.is_number()) return std::nullopt;
  const double d = v.get<double>();
  return std::isfinite(d) ? std::optional<double>(d) : std::nullopt;
}

// A count from the JSON (strides, frames), clamped so that a foreign or corrupt value cannot
// overflow the conversion (undefined behaviour for out-of-range doubles).
int as_count(double v) { return static_cast<int>(std::clamp(v, -1e9, 1e9)); }

long long as_frame(double v) { return static_cast<long long>(std::clamp(v, -1e15, 1e15)); }

std::string text_of(const json& v) { return v.is_string() ? v.get<std::string>() : std::string(); }

const json& array_of(const json& v) {
  static const json kEmpty = json::array();
  return v.is_array() ? v : kEmpty;
}

// A figure drawn from the results: <span data-metric=path data-value=raw>shown</span>.
std::string metric_span(const std::string& path, const std::string& raw, const std::string& shown,
                        const std::string& extra_attrs) {
  return "<span data-metric=\"" + esc(path) + "\" data-value=\"" + esc(raw) + "\"" + extra_attrs +
         ">" + shown + "</span>";
}

// A null figure: "—" and why.
std::string null_span(const std::string& path, const std::string& reason) {
  std::string out = "<span class=\"null\" data-metric=\"" + esc(path) +
                    "\" data-value=\"null\" title=\"not measured\">—</span>";
  if (!reason.empty()) out += " <span class=\"reason\">" + reason + "</span>";
  return out;
}

std::string value_or_null(const std::string& path, const json& v, int decimals,
                          const std::string& reason) {
  const auto d = number(v);
  if (!d) return null_span(path, reason);
  return metric_span(path, raw_value(v), fixed(*d, decimals));
}

}  // namespace dancer::analysis::report

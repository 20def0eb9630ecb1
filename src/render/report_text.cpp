// Text of the clinical report: escaping, numbers as shown and as the results JSON writes them,
// the job's metadata, and the data-metric spans every figure drawn from the results is written
// in.
#include "render/report_parts.h"

#include <cmath>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#include "common/json_number.h"
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

std::optional<double> as_written(std::optional<double> v, double scale) {
  const nlohmann::ordered_json n = common::json_number(v, scale);
  if (n.is_null()) return std::nullopt;
  // A finite value that rounding overflows (1e308 * 10) is dumped as null too.
  const double d = n.get<double>();
  return std::isfinite(d) ? std::optional<double>(d) : std::nullopt;
}

// The number as results_json writes it (shortest round trip), for data-value.
std::string raw_value(double v) { return std::isfinite(v) ? json(v).dump() : "null"; }

std::string raw_value(std::optional<double> v) { return v ? raw_value(*v) : "null"; }

std::string raw_count(long long n) { return std::to_string(n); }

const json& metadata_at(const json& metadata, std::initializer_list<const char*> path) {
  static const json kNull;
  const json* at = &metadata;
  for (const char* key : path) {
    if (!at->is_object()) return kNull;
    const auto it = at->find(key);
    if (it == at->end()) return kNull;
    at = &*it;
  }
  return *at;
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

std::string value_or_null(const std::string& path, std::optional<double> v, int decimals,
                          const std::string& reason) {
  if (!v) return null_span(path, reason);
  return metric_span(path, raw_value(*v), fixed(*v, decimals));
}

}  // namespace dancer::analysis::report

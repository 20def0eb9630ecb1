#include "common/subject_height.h"

#include <charconv>
#include <cmath>

namespace dancer::common {

std::optional<double> parse_subject_height_m(std::string_view text) {
  constexpr std::string_view kBlanks = " \t\r\n";
  constexpr std::size_t kMaxChars = 32;
  const std::size_t begin = text.find_first_not_of(kBlanks);
  if (begin == std::string_view::npos) return std::nullopt;
  text = text.substr(begin, text.find_last_not_of(kBlanks) - begin + 1);
  if (text.size() > kMaxChars) return std::nullopt;
  // Digits and one point only: from_chars would also take "-", "inf" and "nan".
  for (const char c : text) {
    if ((c < '0' || c > '9') && c != '.') return std::nullopt;
  }
  double value = 0;
  // std::chars_format::fixed: no exponent, and the C locale's point whatever the locale.
  const auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), value, std::chars_format::fixed);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  if (value < kMinSubjectHeightM || value > kMaxSubjectHeightM) return std::nullopt;
  return value;
}

std::string subject_height_excerpt(std::string_view text) {
  constexpr std::size_t kShown = 16;
  constexpr const char* kHex = "0123456789abcdef";
  std::string out;
  for (const char c : text.substr(0, kShown)) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7f && byte != '"' && byte != '\\') {
      out += c;
    } else {
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    }
  }
  if (text.size() > kShown) out += "...";
  return out;
}

}  // namespace dancer::common

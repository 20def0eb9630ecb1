#include "aws/uri.h"

#include <optional>

namespace dancer::aws {
namespace {

bool is_unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~';
}

std::optional<int> hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return std::nullopt;
}

}  // namespace

std::string uri_encode(std::string_view input, bool keep_slash) {
  // SigV4 requires upper-case hex digits in escapes ("%2F", not "%2f").
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(input.size() * 3);
  for (char ch : input) {
    const auto byte = static_cast<unsigned char>(ch);
    if (is_unreserved(byte) || (keep_slash && ch == '/')) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0x0F]);
    }
  }
  return out;
}

std::string uri_decode(std::string_view input, bool plus_as_space) {
  std::string out;
  out.reserve(input.size());
  for (std::size_t i = 0; i < input.size(); ++i) {
    const char ch = input[i];
    if (ch == '%' && i + 2 < input.size()) {
      const auto high = hex_value(input[i + 1]);
      const auto low = hex_value(input[i + 2]);
      if (high && low) {
        out.push_back(static_cast<char>((*high << 4) | *low));
        i += 2;
        continue;
      }
    }
    if (ch == '+' && plus_as_space) {
      out.push_back(' ');
    } else {
      out.push_back(ch);
    }
  }
  return out;
}

}  // namespace dancer::aws

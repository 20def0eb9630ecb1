#include "aws/aws_xml.h"

#include "common/strings.h"

#include <cstdint>

namespace dancer::aws::xml {
namespace {

void append_utf8(std::string& out, std::uint32_t code_point) {
  if (code_point < 0x80) {
    out.push_back(static_cast<char>(code_point));
  } else if (code_point < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (code_point >> 6)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else if (code_point < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (code_point >> 12)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else if (code_point < 0x110000) {
    out.push_back(static_cast<char>(0xF0 | (code_point >> 18)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  }
}

// Decodes one entity starting after '&' up to ';'. False when it is not one we know,
// in which case the caller keeps the text literally (tolerant of sloppy servers).
bool decode_entity(std::string_view entity, std::string& out) {
  if (entity == "amp") return out.push_back('&'), true;
  if (entity == "lt") return out.push_back('<'), true;
  if (entity == "gt") return out.push_back('>'), true;
  if (entity == "quot") return out.push_back('"'), true;
  if (entity == "apos") return out.push_back('\''), true;
  if (entity.size() < 2 || entity[0] != '#') return false;
  const bool hex = entity[1] == 'x' || entity[1] == 'X';
  std::string_view digits = entity.substr(hex ? 2 : 1);
  if (digits.empty() || digits.size() > 8) return false;
  std::uint32_t value = 0;
  for (char c : digits) {
    int digit = -1;
    if (c >= '0' && c <= '9') digit = c - '0';
    if (hex && c >= 'a' && c <= 'f') digit = c - 'a' + 10;
    if (hex && c >= 'A' && c <= 'F') digit = c - 'A' + 10;
    if (digit < 0) return false;
    value = value * (hex ? 16u : 10u) + static_cast<std::uint32_t>(digit);
  }
  append_utf8(out, value);
  return true;
}

std::string unescape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '&') {
      const auto semicolon = text.find(';', i + 1);
      if (semicolon != std::string_view::npos &&
          decode_entity(text.substr(i + 1, semicolon - i - 1), out)) {
        i = semicolon;
        continue;
      }
    }
    out.push_back(text[i]);
  }
  return out;
}

}  // namespace

std::optional<std::string> element_text(std::string_view xml, std::string_view name) {
  // Built with append: GCC 12 warns falsely (-Wrestrict) on "<" + std::string at -O2.
  std::string open("<");
  open.append(name);
  std::size_t search_from = 0;
  while (true) {
    const auto start = xml.find(open, search_from);
    if (start == std::string_view::npos) return std::nullopt;
    const auto after_name = start + open.size();
    // "<Code>" or "<Code/>" or "<Code attr=..>", but not "<CodeX>".
    if (after_name >= xml.size()) return std::nullopt;
    const char next = xml[after_name];
    if (next != '>' && next != '/' && next != ' ') {
      search_from = after_name;
      continue;
    }
    const auto tag_end = xml.find('>', after_name);
    if (tag_end == std::string_view::npos) return std::nullopt;
    if (xml[tag_end - 1] == '/') return std::string();
    std::string close("</");
    close.append(name).append(">");
    const auto end = xml.find(close, tag_end + 1);
    if (end == std::string_view::npos) return std::nullopt;
    return unescape(xml.substr(tag_end + 1, end - tag_end - 1));
  }
}

ErrorDocument parse_error_document(std::string_view xml) {
  ErrorDocument document;
  document.code = element_text(xml, "Code").value_or("");
  document.message = element_text(xml, "Message").value_or("");
  document.request_id = element_text(xml, "RequestId").value_or("");
  return document;
}

std::string escape(std::string_view text) { return common::escape_markup(text); }

}  // namespace dancer::aws::xml

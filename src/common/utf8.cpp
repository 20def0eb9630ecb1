#include "common/utf8.h"

#include <utf8.h>

#include <iterator>

namespace dancer::common {

bool is_valid_utf8(std::string_view text) { return utf8::is_valid(text.begin(), text.end()); }

std::string to_valid_utf8(std::string_view text) {
  if (is_valid_utf8(text)) return std::string(text);
  std::string out;
  out.reserve(text.size() + 8);
  utf8::replace_invalid(text.begin(), text.end(), std::back_inserter(out), 0xFFFDu);
  return out;
}

}  // namespace dancer::common

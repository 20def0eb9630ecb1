// UTF-8 validity, written once (on Debian's utf8cpp): event keys, stored reasons, FFmpeg's
// tag strings and the job store all judge text the same way. RFC 3629: no overlong forms,
// no surrogates, nothing above U+10FFFF, no stray or missing continuation bytes.
#pragma once

#include <string>
#include <string_view>

namespace dancer::common {

bool is_valid_utf8(std::string_view text);

// Every invalid sequence replaced by U+FFFD; valid text is returned unchanged.
std::string to_valid_utf8(std::string_view text);

}  // namespace dancer::common

// Percent-encoding as SigV4 and S3 define it (RFC 3986 unreserved characters kept).
#pragma once

#include <string>
#include <string_view>

namespace dancer::aws {

// Encodes every byte except A-Z a-z 0-9 - _ . ~ (and '/' when keep_slash).
std::string uri_encode(std::string_view input, bool keep_slash);

// Percent-decodes %XX; with plus_as_space, '+' becomes ' ' (form encoding, as S3 event keys).
// Malformed escapes are kept literally.
std::string uri_decode(std::string_view input, bool plus_as_space);

}  // namespace dancer::aws

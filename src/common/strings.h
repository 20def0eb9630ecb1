// String helpers used by every layer, written once.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace dancer::common {

// ASCII-only lower case: protocol tokens (header names, schemes, hosts, file extensions)
// are compared this way; std::tolower alone would depend on the C locale.
std::string ascii_lower(std::string_view text);

// Lower-case hexadecimal of raw bytes ("\x01\xab" -> "01ab"), as digests are written in
// SigV4, Content-MD5 checks and logs.
std::string hex_encode(std::string_view bytes);
std::string hex_encode(const unsigned char* bytes, std::size_t size);

// Markup escaping for XML 1.0 and HTML5 text and attribute values: & < > " ' become entities
// (&apos; is predefined in both). Bytes are otherwise kept; callers that need valid UTF-8
// make it so first.
std::string escape_markup(std::string_view text);

// Base64 (RFC 4648, standard alphabet, padded, no line breaks), through OpenSSL's
// EVP_EncodeBlock. Throws std::length_error above about 1.5 GiB (its int length).
std::string base64_encode(std::string_view bytes);

}  // namespace dancer::common

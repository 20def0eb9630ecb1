// Random (version 4) UUIDs from the kernel's CSPRNG, for identifiers that must be unique
// across databases and hosts without coordination (a job's artifact location).
#pragma once

#include <string>
#include <string_view>

namespace dancer::common {

// A version 4 UUID (RFC 9562, section 5.4) in its canonical lower-case text form,
// "xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx": 122 random bits from getrandom(2) (blocking
// only until the kernel's pool is first initialised). Throws std::system_error when the
// kernel refuses (never falls back to a weaker generator).
std::string random_uuid_v4();

// True for the canonical text form of any UUID: 36 characters, lower-case hexadecimal digits
// and hyphens at positions 8, 13, 18 and 23.
bool is_canonical_uuid(std::string_view text);

}  // namespace dancer::common

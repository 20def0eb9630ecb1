// URL parsing through libcurl's URL API (curl_url), so every layer splits URLs by the same
// rules as the HTTP client that later connects to them.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace dancer::common {

// Why a URL was rejected. The message is libcurl's (curl_url_strerror) and never contains
// the URL, so callers may log it next to a redacted form of a URL holding a password.
class UrlError : public std::runtime_error {
 public:
  UrlError(int curl_code, const std::string& message)
      : std::runtime_error(message), curl_code_(curl_code) {}
  int curl_code() const { return curl_code_; }  // a CURLUcode

 private:
  int curl_code_;
};

struct ParsedUrl {
  std::string scheme;                   // lower-case, as curl reports it
  std::optional<std::string> user;      // percent-decoded; nullopt without userinfo
  std::optional<std::string> password;  // percent-decoded; nullopt for "user@" or none
  // As curl reports it: an IPv6 literal keeps its brackets ("[::1]"), its zone id is in
  // zone_id; the case is kept as written.
  std::string host;
  std::optional<std::string> zone_id;
  std::optional<int> port;              // nullopt when the URL names none (also for "host:")
  std::string path;                     // as written, never empty ("/" at least); dot segments kept
  std::optional<std::string> query;     // without '?', as written
  std::optional<std::string> fragment;  // without '#', as written
};

// Parses an absolute URL ("scheme://..."), any scheme. Throws UrlError on anything curl
// rejects: no scheme, no host, a port that is not 0-65535, a bad IPv6 literal, spaces.
ParsedUrl parse_url(std::string_view url);

// "[::1]" -> "::1"; other hosts unchanged (inet_pton and allow-lists want the bare form).
std::string_view unbracketed_host(std::string_view host);

}  // namespace dancer::common

#include "common/url.h"

#include <curl/curl.h>

#include <memory>

namespace dancer::common {
namespace {

struct CurluDeleter {
  void operator()(CURLU* handle) const { curl_url_cleanup(handle); }
};
using CurluPtr = std::unique_ptr<CURLU, CurluDeleter>;

struct CurlStringDeleter {
  void operator()(char* text) const { curl_free(text); }
};
using CurlString = std::unique_ptr<char, CurlStringDeleter>;

// One part of the URL; nullopt when curl says the URL has none (CURLUE_NO_USER, ...).
std::optional<std::string> part(CURLU* handle, CURLUPart which, unsigned flags = 0) {
  char* raw = nullptr;
  const CURLUcode code = curl_url_get(handle, which, &raw, flags);
  CurlString owned(raw);
  if (code != CURLUE_OK) {
    switch (code) {
      case CURLUE_NO_USER:
      case CURLUE_NO_PASSWORD:
      case CURLUE_NO_HOST:
      case CURLUE_NO_PORT:
      case CURLUE_NO_QUERY:
      case CURLUE_NO_FRAGMENT:
      case CURLUE_NO_ZONEID:
        return std::nullopt;
      default:
        throw UrlError(code, curl_url_strerror(code));
    }
  }
  return std::string(owned.get());
}

}  // namespace

ParsedUrl parse_url(std::string_view url) {
  CurluPtr handle(curl_url());
  if (!handle) throw UrlError(CURLUE_OUT_OF_MEMORY, curl_url_strerror(CURLUE_OUT_OF_MEMORY));
  // NON_SUPPORT_SCHEME: accept schemes libcurl cannot fetch (postgresql, s3, ...).
  // PATH_AS_IS: keep "." and ".." segments (S3 keys and endpoint prefixes are opaque).
  const CURLUcode code = curl_url_set(handle.get(), CURLUPART_URL, std::string(url).c_str(),
                                      CURLU_NON_SUPPORT_SCHEME | CURLU_PATH_AS_IS);
  if (code != CURLUE_OK) throw UrlError(code, curl_url_strerror(code));

  ParsedUrl parsed;
  parsed.scheme = part(handle.get(), CURLUPART_SCHEME).value_or("");
  parsed.user = part(handle.get(), CURLUPART_USER, CURLU_URLDECODE);
  parsed.password = part(handle.get(), CURLUPART_PASSWORD, CURLU_URLDECODE);
  parsed.host = part(handle.get(), CURLUPART_HOST).value_or("");
  parsed.zone_id = part(handle.get(), CURLUPART_ZONEID);
  // curl has checked that the port is a decimal number 0-65535.
  if (auto port = part(handle.get(), CURLUPART_PORT)) parsed.port = std::stoi(*port);
  parsed.path = part(handle.get(), CURLUPART_PATH).value_or("/");
  parsed.query = part(handle.get(), CURLUPART_QUERY);
  parsed.fragment = part(handle.get(), CURLUPART_FRAGMENT);
  if (parsed.host.empty()) throw UrlError(CURLUE_NO_HOST, curl_url_strerror(CURLUE_NO_HOST));
  return parsed;
}

std::string_view unbracketed_host(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    return host.substr(1, host.size() - 2);
  }
  return host;
}

}  // namespace dancer::common

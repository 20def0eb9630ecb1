// Helpers shared by the credential providers (and their tests): parsing of the shared
// profile files, AWS timestamps, credential JSON documents, token files and URLs.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "aws/credentials.h"
#include "aws/error.h"
#include "aws/http_client.h"

namespace dancer::aws::credentials_detail {

AwsError credentials_error(const std::string& message);

std::string trim(std::string_view text);

// The variable's value, or nullopt when unset or empty (SDKs treat "" as unset).
std::optional<std::string> env_value(const Environment& env, const std::string& name);

// "2024-05-01T12:00:00Z", with optional fractional seconds and "+hh:mm" offset, as STS,
// ECS and IMDS send it. Throws kCredentials on anything else.
std::chrono::system_clock::time_point parse_iso8601(std::string_view text);

// {"AccessKeyId", "SecretAccessKey", "Token", "Expiration"}: the document both the
// container endpoint and IMDS return. `source` names the endpoint in error messages.
Credentials parse_json_credentials(const std::string& body, const std::string& source);

// A token file's content with surrounding whitespace removed. Throws kCredentials when
// it cannot be read, is empty, or contains a line break (it goes into an HTTP header).
std::string read_token_file(const std::string& path, const std::string& what);

// Profiles of one shared file, keyed by profile name; keys lower-cased, values trimmed.
// is_config_file: sections are "[profile name]" or "[default]" (AWS config file);
// otherwise "[name]" (credentials file). Sections of the wrong form are ignored, as the
// SDKs do. Lines starting with '#' or ';' are comments, as is " #..." / " ;..." after a
// value; indented lines after a property without value are its sub-properties (skipped).
using Profile = std::map<std::string, std::string>;
using ProfileMap = std::map<std::string, Profile>;
ProfileMap parse_profile_file(std::string_view text, bool is_config_file);

// "~/x" with HOME from env.
std::string expand_home(const std::string& path, const Environment& env);

struct ParsedUrl {
  std::string scheme;  // lower-case
  std::string host;    // without brackets for IPv6
  std::string path_and_query;
};
// Parses scheme://host[:port][/path] (common::parse_url, i.e. libcurl's rules); nullopt
// when malformed or when it has user info ("http://127.0.0.1@evil.example" must not pass a
// host check).
std::optional<ParsedUrl> parse_url(const std::string& url);

bool is_loopback_host(const std::string& host);

// http.send(request), with transport failures rethrown as kCredentials naming `target`
// ("STS at https://...") and keeping the original code's text, e.g. "timeout".
HttpResponse send_for_credentials(HttpClient& http, const HttpRequest& request,
                                  const std::string& target);

// At most the first 200 characters of an error body, for messages.
std::string body_excerpt(const std::string& body);

}  // namespace dancer::aws::credentials_detail

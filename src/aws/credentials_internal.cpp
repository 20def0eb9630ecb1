#include "aws/credentials_internal.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>
#include <utility>

#include <nlohmann/json.hpp>

#include "common/strings.h"
#include "common/url.h"

namespace dancer::aws::credentials_detail {

namespace {

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Reads `count` decimal digits at text[pos], advancing pos; nullopt if not all digits.
std::optional<int> read_digits(std::string_view text, std::size_t& pos, std::size_t count) {
  if (pos + count > text.size()) return std::nullopt;
  int value = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const char c = text[pos + i];
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  pos += count;
  return value;
}

bool expect(std::string_view text, std::size_t& pos, char c) {
  if (pos < text.size() && text[pos] == c) {
    ++pos;
    return true;
  }
  return false;
}

// Cuts an inline comment: '#' or ';' preceded by whitespace (a '#' inside a value, as in
// a session token, has none before it).
std::string strip_inline_comment(const std::string& value) {
  for (std::size_t i = 1; i < value.size(); ++i) {
    if ((value[i] == '#' || value[i] == ';') && (value[i - 1] == ' ' || value[i - 1] == '\t')) {
      return trim(std::string_view(value).substr(0, i));
    }
  }
  return value;
}

// The profile name a section header declares, or nullopt when the SDKs ignore it.
std::optional<std::string> profile_name_of_section(const std::string& section,
                                                   bool is_config_file) {
  if (section.empty()) return std::nullopt;
  if (!is_config_file) return section;
  if (section == "default") return section;
  constexpr std::string_view kPrefix = "profile";
  if (section.size() > kPrefix.size() && section.compare(0, kPrefix.size(), kPrefix) == 0 &&
      (section[kPrefix.size()] == ' ' || section[kPrefix.size()] == '\t')) {
    std::string name = trim(std::string_view(section).substr(kPrefix.size()));
    if (!name.empty()) return name;
  }
  return std::nullopt;
}

}  // namespace

AwsError credentials_error(const std::string& message) {
  return AwsError(ErrorCode::kCredentials, message);
}

std::string trim(std::string_view text) {
  std::size_t begin = 0;
  std::size_t end = text.size();
  while (begin < end && is_blank(text[begin])) ++begin;
  while (end > begin && is_blank(text[end - 1])) --end;
  return std::string(text.substr(begin, end - begin));
}

std::optional<std::string> env_value(const Environment& env, const std::string& name) {
  auto it = env.find(name);
  if (it == env.end() || it->second.empty()) return std::nullopt;
  return it->second;
}

std::chrono::system_clock::time_point parse_iso8601(std::string_view text) {
  using namespace std::chrono;
  const std::string trimmed = trim(text);
  const std::string_view s = trimmed;
  std::size_t pos = 0;
  auto year = read_digits(s, pos, 4);
  bool ok = year.has_value() && expect(s, pos, '-');
  auto month = ok ? read_digits(s, pos, 2) : std::nullopt;
  ok = ok && month && expect(s, pos, '-');
  auto day = ok ? read_digits(s, pos, 2) : std::nullopt;
  ok = ok && day && (expect(s, pos, 'T') || expect(s, pos, 't'));
  auto hour = ok ? read_digits(s, pos, 2) : std::nullopt;
  ok = ok && hour && expect(s, pos, ':');
  auto minute = ok ? read_digits(s, pos, 2) : std::nullopt;
  ok = ok && minute && expect(s, pos, ':');
  auto second = ok ? read_digits(s, pos, 2) : std::nullopt;
  ok = ok && second;
  milliseconds fraction{0};
  if (ok && expect(s, pos, '.')) {
    int digits = 0;
    long long millis = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (digits < 3) millis = millis * 10 + (s[pos] - '0');
      ++digits;
      ++pos;
    }
    for (int d = digits; d < 3; ++d) millis *= 10;
    ok = digits > 0;
    fraction = milliseconds(millis);
  }
  seconds offset{0};
  if (ok && !(expect(s, pos, 'Z') || expect(s, pos, 'z'))) {
    const bool negative = pos < s.size() && s[pos] == '-';
    ok = expect(s, pos, '+') || expect(s, pos, '-');
    auto offset_hours = ok ? read_digits(s, pos, 2) : std::nullopt;
    ok = ok && offset_hours && expect(s, pos, ':');
    auto offset_minutes = ok ? read_digits(s, pos, 2) : std::nullopt;
    ok = ok && offset_minutes;
    if (ok) offset = hours(*offset_hours) + minutes(*offset_minutes);
    if (negative) offset = -offset;
  }
  ok = ok && pos == s.size();
  const year_month_day date = ok ? year_month_day(std::chrono::year(*year),
                                                  std::chrono::month(static_cast<unsigned>(*month)),
                                                  std::chrono::day(static_cast<unsigned>(*day)))
                                 : year_month_day{};
  if (!ok || !date.ok() || *hour > 23 || *minute > 59 || *second > 60) {
    throw credentials_error("invalid ISO 8601 timestamp '" + trimmed + "'");
  }
  const auto time =
      sys_days(date) + hours(*hour) + minutes(*minute) + seconds(*second) + fraction - offset;
  return time_point_cast<system_clock::duration>(time);
}

Credentials parse_json_credentials(const std::string& body, const std::string& source) {
  const nlohmann::json document = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!document.is_object()) throw credentials_error(source + " returned a non-JSON document");
  // IMDS reports failures in-band: {"Code": "...", "Message": "..."} with status 200.
  if (document.contains("Code") && document["Code"].is_string() &&
      document["Code"].get<std::string>() != "Success") {
    throw credentials_error(source + " returned " + document["Code"].get<std::string>() + ": " +
                            document.value("Message", std::string{}));
  }
  auto string_field = [&](const char* name) -> std::string {
    auto it = document.find(name);
    return it != document.end() && it->is_string() ? it->get<std::string>() : std::string{};
  };
  Credentials credentials;
  credentials.access_key_id = string_field("AccessKeyId");
  credentials.secret_access_key = string_field("SecretAccessKey");
  credentials.session_token = string_field("Token");
  if (credentials.empty()) {
    throw credentials_error(source + " returned no AccessKeyId/SecretAccessKey");
  }
  const std::string expiration = string_field("Expiration");
  if (!expiration.empty()) credentials.expiration = parse_iso8601(expiration);
  return credentials;
}

std::string read_token_file(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw credentials_error("cannot read " + what + " " + path + ": " + std::strerror(errno));
  }
  std::ostringstream content;
  content << in.rdbuf();
  std::string token = trim(content.str());
  if (token.empty()) throw credentials_error(what + " " + path + " is empty");
  if (token.find_first_of("\r\n") != std::string::npos) {
    throw credentials_error(what + " " + path + " contains a line break");
  }
  return token;
}

ProfileMap parse_profile_file(std::string_view text, bool is_config_file) {
  ProfileMap profiles;
  std::optional<std::string> current_profile;
  bool in_sub_properties = false;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(start, end - start);
    start = end + 1;

    const std::string content = trim(line);
    if (content.empty() || content[0] == '#' || content[0] == ';') {
      continue;
    }
    // Indented lines after "name =" with no value are its sub-properties ("s3 =\n
    // addressing_style = path"), which no credential setting uses. Elsewhere indentation
    // is just whitespace.
    if (is_blank(line[0]) && in_sub_properties) continue;
    in_sub_properties = false;
    if (content[0] == '[') {
      const std::size_t close = content.find(']');
      current_profile = std::nullopt;
      if (close == std::string::npos) continue;  // malformed header: ignore its properties
      const std::string rest = trim(std::string_view(content).substr(close + 1));
      if (!rest.empty() && rest[0] != '#' && rest[0] != ';') continue;
      current_profile = profile_name_of_section(
          trim(std::string_view(content).substr(1, close - 1)), is_config_file);
      if (current_profile) profiles[*current_profile];  // an empty profile still exists
      continue;
    }
    const std::size_t equals = content.find('=');
    if (equals == std::string::npos || !current_profile) continue;
    const std::string key = common::ascii_lower(trim(std::string_view(content).substr(0, equals)));
    if (key.empty()) continue;
    std::string value = strip_inline_comment(trim(std::string_view(content).substr(equals + 1)));
    in_sub_properties = value.empty();
    profiles[*current_profile][key] = std::move(value);
  }
  return profiles;
}

std::string expand_home(const std::string& path, const Environment& env) {
  if (path == "~" || path.rfind("~/", 0) == 0) {
    const auto home = env_value(env, "HOME");
    if (home) return *home + path.substr(1);
  }
  return path;
}

std::optional<ParsedUrl> parse_url(const std::string& url) {
  common::ParsedUrl parsed;
  try {
    parsed = common::parse_url(url);
  } catch (const common::UrlError&) {
    return std::nullopt;
  }
  // "http://127.0.0.1@evil.example": user info would let a URL pass a host check it fails.
  if (parsed.user || parsed.password) return std::nullopt;
  ParsedUrl out;
  out.scheme = parsed.scheme;
  out.host = common::ascii_lower(common::unbracketed_host(parsed.host));
  out.path_and_query = parsed.path;
  if (parsed.query) out.path_and_query.append("?").append(*parsed.query);
  return out;
}

bool is_loopback_host(const std::string& host) {
  if (common::ascii_lower(host) == "localhost") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;  // 127.0.0.0/8
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    return std::memcmp(&v6, &in6addr_loopback, sizeof(v6)) == 0;
  }
  return false;
}

HttpResponse send_for_credentials(HttpClient& http, const HttpRequest& request,
                                  const std::string& target) {
  try {
    return http.send(request);
  } catch (const AwsError& e) {
    throw AwsError(
        ErrorCode::kCredentials,
        "cannot reach " + target + " (" + std::string(to_string(e.code())) + "): " + e.what(),
        e.http_status());
  }
}

std::string body_excerpt(const std::string& body) {
  constexpr std::size_t kMax = 200;
  std::string excerpt = trim(body.size() > kMax ? body.substr(0, kMax) + "..." : body);
  return excerpt;
}

}  // namespace dancer::aws::credentials_detail

#include "aws/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <stdexcept>
#include <utility>

#include "aws/uri.h"
#include "common/sha256.h"
#include "common/strings.h"

namespace dancer::aws::sigv4 {
namespace {

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_size = 0;
  const auto* result =
      HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest, &digest_size);
  if (result == nullptr) throw std::runtime_error("HMAC-SHA256 failed");
  return std::string(reinterpret_cast<const char*>(digest), digest_size);
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Trim, and collapse each run of whitespace (folded header lines included) to one space,
// as the SigV4 "Trimall" function requires.
std::string trim_all(std::string_view value) {
  std::string out;
  bool pending_space = false;
  for (char c : value) {
    if (is_space(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

std::tm utc_time(std::chrono::system_clock::time_point time) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(time);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  return utc;
}

// Headers that proxies or the transport may change, so AWS SDKs never sign them.
bool is_unsigned_header(std::string_view lower_name) {
  return lower_name == "authorization" || lower_name == "user-agent" || lower_name == "expect" ||
         lower_name == "x-amzn-trace-id";
}

bool has_header(const std::vector<Header>& headers, std::string_view lower_name) {
  return std::any_of(headers.begin(), headers.end(),
                     [&](const Header& h) { return common::ascii_lower(h.name) == lower_name; });
}

std::string payload_hash_or_empty(const Request& request) {
  // An absent hash means an empty body: SHA-256("") as the AWS SDKs use for GET.
  return request.payload_hash.empty() ? sha256_hex("") : request.payload_hash;
}

}  // namespace

std::string sha256_hex(std::string_view data) { return common::sha256_hex(data); }

std::string amz_date(std::chrono::system_clock::time_point time) {
  const std::tm utc = utc_time(time);
  char buffer[32];
  const std::size_t size = std::strftime(buffer, sizeof buffer, "%Y%m%dT%H%M%SZ", &utc);
  return std::string(buffer, size);
}

std::string date_stamp(std::chrono::system_clock::time_point time) {
  return amz_date(time).substr(0, 8);
}

std::string normalize_path(std::string_view path) {
  std::vector<std::string_view> segments;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view segment = path.substr(start, end - start);
    if (segment == "..") {
      if (!segments.empty()) segments.pop_back();
    } else if (!segment.empty() && segment != ".") {
      segments.push_back(segment);
    }
    start = end + 1;
  }
  std::string out = "/";
  for (std::size_t i = 0; i < segments.size(); ++i) {
    if (i > 0) out.push_back('/');
    out.append(segments[i]);
  }
  if (!segments.empty() && !path.empty() && path.back() == '/') out.push_back('/');
  return out;
}

std::string canonical_uri(std::string_view path, bool double_uri_encode, bool normalize) {
  std::string result = normalize ? normalize_path(path) : std::string(path);
  if (result.empty()) result = "/";
  // Non-S3 services verify the signature over the encoded form of the already-encoded
  // wire path ("double encoding"); S3 signs the wire path as-is.
  return double_uri_encode ? uri_encode(result, /*keep_slash=*/true) : result;
}

std::string canonical_query_string(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> params;
  std::size_t start = 0;
  while (start < query.size()) {
    std::size_t end = query.find('&', start);
    if (end == std::string_view::npos) end = query.size();
    const std::string_view pair = query.substr(start, end - start);
    if (!pair.empty()) {
      const std::size_t eq = pair.find('=');
      const std::string_view name = pair.substr(0, eq);
      const std::string_view value =
          eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
      // Decode then encode, so raw ("a b") and encoded ("a%20b") forms canonicalise alike.
      params.emplace_back(uri_encode(uri_decode(name, false), false),
                          uri_encode(uri_decode(value, false), false));
    }
    start = end + 1;
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [name, value] : params) {
    if (!out.empty()) out.push_back('&');
    out.append(name).append("=").append(value);
  }
  return out;
}

CanonicalHeaders canonical_headers(const std::vector<Header>& headers) {
  // Stable sort keeps repeated names in order of appearance, as the spec requires.
  std::vector<std::pair<std::string, std::string>> entries;
  for (const Header& header : headers) {
    std::string name = common::ascii_lower(trim_all(header.name));
    if (is_unsigned_header(name)) continue;
    entries.emplace_back(std::move(name), trim_all(header.value));
  }
  std::stable_sort(entries.begin(), entries.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  CanonicalHeaders out;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const bool continues_previous = i > 0 && entries[i].first == entries[i - 1].first;
    if (continues_previous) {
      out.canonical.push_back(',');
    } else {
      if (i > 0) {
        out.canonical.push_back('\n');
        out.signed_headers.push_back(';');
      }
      out.canonical.append(entries[i].first).push_back(':');
      out.signed_headers.append(entries[i].first);
    }
    out.canonical.append(entries[i].second);
  }
  if (!entries.empty()) out.canonical.push_back('\n');
  return out;
}

std::string canonical_request(std::string_view method, std::string_view canonical_uri_line,
                              std::string_view canonical_query, const CanonicalHeaders& headers,
                              std::string_view payload_hash) {
  std::string out;
  out.append(method).push_back('\n');
  out.append(canonical_uri_line).push_back('\n');
  out.append(canonical_query).push_back('\n');
  out.append(headers.canonical).push_back('\n');
  out.append(headers.signed_headers).push_back('\n');
  out.append(payload_hash);
  return out;
}

std::string credential_scope(std::string_view date, std::string_view region,
                             std::string_view service) {
  std::string out(date);
  out.append("/").append(region).append("/").append(service).append("/aws4_request");
  return out;
}

std::string string_to_sign(std::string_view date_time, std::string_view scope,
                           std::string_view canonical_request_text) {
  std::string out(kAlgorithm);
  out.push_back('\n');
  out.append(date_time).push_back('\n');
  out.append(scope).push_back('\n');
  out.append(sha256_hex(canonical_request_text));
  return out;
}

std::string derive_signing_key(std::string_view secret_access_key, std::string_view date,
                               std::string_view region, std::string_view service) {
  std::string key = "AWS4";
  key.append(secret_access_key);
  std::string k_date = hmac_sha256(key, date);
  std::string k_region = hmac_sha256(k_date, region);
  std::string k_service = hmac_sha256(k_region, service);
  return hmac_sha256(k_service, "aws4_request");
}

std::string signature_hex(std::string_view signing_key, std::string_view string_to_sign_text) {
  const std::string mac = hmac_sha256(signing_key, string_to_sign_text);
  return common::hex_encode(reinterpret_cast<const unsigned char*>(mac.data()), mac.size());
}

std::string authorization_header(std::string_view access_key_id, std::string_view scope,
                                 std::string_view signed_headers, std::string_view signature) {
  std::string out(kAlgorithm);
  out.append(" Credential=").append(access_key_id).append("/").append(scope);
  out.append(", SignedHeaders=").append(signed_headers);
  out.append(", Signature=").append(signature);
  return out;
}

HeaderSigningTrace sign_request_traced(const Request& request, const SigningParams& params) {
  const Credentials& creds = params.credentials;
  const std::string date_time = amz_date(params.time);
  const std::string date = date_stamp(params.time);
  const std::string payload_hash = payload_hash_or_empty(request);
  const bool has_token = !creds.session_token.empty();

  // The order matches the signed requests of the AWS test suite.
  std::vector<Header> added;
  if (has_token) added.push_back({"X-Amz-Security-Token", creds.session_token});
  added.push_back({"X-Amz-Date", date_time});
  if (params.add_content_sha256_header && !has_header(request.headers, "x-amz-content-sha256")) {
    added.push_back({"x-amz-content-sha256", payload_hash});
  }

  std::vector<Header> to_sign = request.headers;
  for (const Header& header : added) {
    // With omit_session_token (STS-style), the token travels but is not signed.
    if (params.omit_session_token && header.name == "X-Amz-Security-Token") continue;
    to_sign.push_back(header);
  }

  HeaderSigningTrace trace;
  const CanonicalHeaders canonical = canonical_headers(to_sign);
  trace.canonical_request = canonical_request(
      request.method, canonical_uri(request.path, params.double_uri_encode, params.normalize_path),
      canonical_query_string(request.query), canonical, payload_hash);
  const std::string scope = credential_scope(date, params.region, params.service);
  trace.string_to_sign = string_to_sign(date_time, scope, trace.canonical_request);
  trace.signature = signature_hex(
      derive_signing_key(creds.secret_access_key, date, params.region, params.service),
      trace.string_to_sign);
  trace.headers = std::move(added);
  trace.headers.push_back(
      {"Authorization", authorization_header(creds.access_key_id, scope, canonical.signed_headers,
                                             trace.signature)});
  return trace;
}

std::vector<Header> sign_request(const Request& request, const SigningParams& params) {
  return sign_request_traced(request, params).headers;
}

PresignResult presign(const Request& request, const SigningParams& params,
                      std::chrono::seconds expires) {
  const Credentials& creds = params.credentials;
  const std::string date_time = amz_date(params.time);
  const std::string date = date_stamp(params.time);
  const std::string scope = credential_scope(date, params.region, params.service);
  const CanonicalHeaders canonical = canonical_headers(request.headers);

  auto param = [](std::string_view name, std::string_view value) {
    std::string out(name);
    out.append("=").append(uri_encode(value, false));
    return out;
  };
  // X-Amz-* parameters in the order the AWS SDKs (and the test suite) emit them.
  std::string auth_params = param("X-Amz-Algorithm", kAlgorithm);
  auth_params.append("&").append(param("X-Amz-Credential", creds.access_key_id + "/" + scope));
  auth_params.append("&").append(param("X-Amz-Date", date_time));
  auth_params.append("&").append(param("X-Amz-SignedHeaders", canonical.signed_headers));
  auth_params.append("&").append(param("X-Amz-Expires", std::to_string(expires.count())));
  std::string token_param;
  if (!creds.session_token.empty()) {
    token_param = "&" + param("X-Amz-Security-Token", creds.session_token);
  }

  std::string unsigned_query = request.query;
  if (!unsigned_query.empty()) unsigned_query.push_back('&');
  unsigned_query.append(auth_params);
  const std::string signed_part =
      params.omit_session_token ? unsigned_query : unsigned_query + token_param;

  PresignResult result;
  result.canonical_request = canonical_request(
      request.method, canonical_uri(request.path, params.double_uri_encode, params.normalize_path),
      canonical_query_string(signed_part), canonical, payload_hash_or_empty(request));
  result.string_to_sign = string_to_sign(date_time, scope, result.canonical_request);
  result.signature = signature_hex(
      derive_signing_key(creds.secret_access_key, date, params.region, params.service),
      result.string_to_sign);
  result.query = unsigned_query + token_param + "&X-Amz-Signature=" + result.signature;
  return result;
}

}  // namespace dancer::aws::sigv4

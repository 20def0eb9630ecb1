#include "aws/service_call.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <thread>
#include <vector>

#include "aws/sigv4.h"
#include "common/strings.h"
#include "common/url.h"

namespace dancer::aws::detail {
namespace {

[[noreturn]] void bad_endpoint(std::string_view url, std::string_view why) {
  throw AwsError(ErrorCode::kInvalidRequest,
                 "invalid endpoint '" + std::string(url) + "': " + std::string(why));
}

}  // namespace

Endpoint parse_endpoint(std::string_view url) {
  common::ParsedUrl parsed;
  try {
    parsed = common::parse_url(url);
  } catch (const common::UrlError& e) {
    bad_endpoint(url, e.what());
  }
  Endpoint endpoint;
  endpoint.scheme = parsed.scheme;
  if (endpoint.scheme != "http" && endpoint.scheme != "https") {
    bad_endpoint(url, "scheme must be http or https");
  }
  if (parsed.user || parsed.password || parsed.query || parsed.fragment) {
    bad_endpoint(url, "user info, query and fragment are not supported");
  }
  // IPv6 literals keep their brackets, as the Host header and the URL need them.
  endpoint.host = common::ascii_lower(parsed.host);
  endpoint.authority = endpoint.host;
  // curl sends "Host: host" without the scheme's default port; sign exactly that.
  const bool default_port = (endpoint.scheme == "http" && parsed.port == 80) ||
                            (endpoint.scheme == "https" && parsed.port == 443);
  if (parsed.port && !default_port) {
    endpoint.authority.append(":").append(std::to_string(*parsed.port));
  }
  std::string_view path = parsed.path;
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  endpoint.base_path = std::string(path);
  return endpoint;
}

bool is_ip_literal(std::string_view host) {
  if (!host.empty() && host.front() == '[') return true;
  int dots = 0;
  for (char c : host) {
    if (c == '.') {
      ++dots;
    } else if (std::isdigit(static_cast<unsigned char>(c)) == 0) {
      return false;
    }
  }
  return dots == 3;
}

void sign(HttpRequest& request, const std::string& authority, const std::string& path,
          const std::string& query, const std::string& payload_hash, const Credentials& credentials,
          const SigningTarget& target) {
  request.headers.emplace_back("Host", authority);
  sigv4::Request to_sign;
  to_sign.method = request.method;
  to_sign.path = path;
  to_sign.query = query;
  to_sign.payload_hash = payload_hash;
  for (const auto& [name, value] : request.headers) to_sign.headers.push_back({name, value});

  sigv4::SigningParams params;
  params.credentials = credentials;
  params.region = target.region;
  params.service = target.service;
  params.time = std::chrono::system_clock::now();
  // S3 signs the path exactly as sent (encoded once, "a//b" and "../" kept), every other
  // service double-encodes a normalised path (AWS SigV4 documentation, CanonicalURI).
  params.double_uri_encode = !target.s3;
  params.normalize_path = !target.s3;
  params.add_content_sha256_header = target.s3;
  for (auto& header : sigv4::sign_request(to_sign, params)) {
    request.headers.emplace_back(std::move(header.name), std::move(header.value));
  }
}

void sleep_unless_cancelled(std::chrono::milliseconds delay, const std::atomic<bool>* cancel) {
  const auto deadline = std::chrono::steady_clock::now() + delay;
  constexpr std::chrono::milliseconds kSlice{20};
  while (true) {
    if (cancel != nullptr && cancel->load()) {
      throw AwsError(ErrorCode::kCancelled, "cancelled while waiting to retry");
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return;
    std::this_thread::sleep_for(
        std::min<std::chrono::steady_clock::duration>(kSlice, deadline - now));
  }
}

void log_retry(std::string_view what, const AwsError& error, int attempt_number,
               std::chrono::milliseconds delay) {
  spdlog::warn("{}: attempt {} failed ({}, HTTP {}, {}); retrying in {} ms", what, attempt_number,
               to_string(error.code()), error.http_status(), error.aws_code(), delay.count());
}

}  // namespace dancer::aws::detail

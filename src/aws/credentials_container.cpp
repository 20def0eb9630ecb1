// Container credentials (ECS task roles, EKS Pod Identity) and EC2 instance metadata:
// both are link-local HTTP endpoints answering the same JSON credentials document.
#include <utility>

#include "aws/credentials_internal.h"
#include "aws/credentials_providers.h"
#include "aws/error.h"
#include "aws/uri.h"
#include "common/strings.h"

namespace dancer::aws {

using credentials_detail::body_excerpt;
using credentials_detail::credentials_error;
using credentials_detail::env_value;
using credentials_detail::send_for_credentials;

namespace {

std::string strip_trailing_slashes(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

// Plain-http hosts the SDKs accept for AWS_CONTAINER_CREDENTIALS_FULL_URI: the token
// travels unencrypted, so only the local agent (ECS 169.254.170.2, EKS Pod Identity
// 169.254.170.23 / fd00:ec2::23) or loopback may receive it.
bool is_allowed_container_http_host(const std::string& host) {
  return host == "169.254.170.2" || host == "169.254.170.23" || host == "fd00:ec2::23" ||
         credentials_detail::is_loopback_host(host);
}

}  // namespace

// ---- ContainerCredentialsProvider ----

ContainerCredentialsProvider::ContainerCredentialsProvider(const Environment& env,
                                                           CredentialsProviderOptions options)
    : RefreshingCredentialsProvider(options.clock),
      auth_token_file_(env_value(env, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE").value_or("")),
      auth_token_(env_value(env, "AWS_CONTAINER_AUTHORIZATION_TOKEN").value_or("")),
      http_(HttpClientOptions{options.http_connect_timeout}),
      options_(std::move(options)) {
  // The relative URI wins when both are set, as in the AWS SDKs.
  if (const auto relative = env_value(env, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")) {
    url_ = strip_trailing_slashes(options_.container_relative_uri_base) +
           (relative->front() == '/' ? "" : "/") + *relative;
    return;
  }
  const auto full = env_value(env, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
  if (!full) {
    unavailable_reason_ =
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and AWS_CONTAINER_CREDENTIALS_FULL_URI not set";
    return;
  }
  const auto parsed = credentials_detail::parse_url(*full);
  if (!parsed || (parsed->scheme != "http" && parsed->scheme != "https")) {
    unavailable_reason_ = "AWS_CONTAINER_CREDENTIALS_FULL_URI '" + *full + "' is not a valid URL";
  } else if (parsed->scheme == "http" && !is_allowed_container_http_host(parsed->host)) {
    unavailable_reason_ = "AWS_CONTAINER_CREDENTIALS_FULL_URI host '" + parsed->host +
                          "' is not allowed over http (only loopback, 169.254.170.2, "
                          "169.254.170.23 and fd00:ec2::23; use https for other hosts)";
  } else {
    url_ = *full;
  }
}

Credentials ContainerCredentialsProvider::fetch() {
  if (!unavailable_reason_.empty()) throw credentials_error(name() + ": " + unavailable_reason_);
  HttpRequest request;
  request.method = "GET";
  request.url = url_;
  request.headers = {{"Accept", "application/json"}};
  request.timeout = options_.http_timeout;
  // The token file is re-read each time: EKS Pod Identity rotates it, like IRSA's.
  std::string token = auth_token_file_.empty()
                          ? auth_token_
                          : credentials_detail::read_token_file(
                                auth_token_file_, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
  if (token.find_first_of("\r\n") != std::string::npos) {
    throw credentials_error(name() + ": AWS_CONTAINER_AUTHORIZATION_TOKEN contains a line break");
  }
  if (!token.empty()) request.headers.emplace_back("Authorization", std::move(token));

  const HttpResponse response =
      send_for_credentials(http_, request, "container credentials endpoint " + url_);
  if (response.status != 200) {
    throw AwsError(ErrorCode::kCredentials,
                   name() + ": " + url_ + " returned HTTP " + std::to_string(response.status) +
                       ": " + body_excerpt(response.body),
                   response.status);
  }
  return credentials_detail::parse_json_credentials(response.body, name() + ": " + url_);
}

// ---- ImdsCredentialsProvider ----

namespace {
constexpr const char* kImdsTokenHeader = "X-aws-ec2-metadata-token";
constexpr const char* kCredentialsPath = "/latest/meta-data/iam/security-credentials/";
}  // namespace

ImdsCredentialsProvider::ImdsCredentialsProvider(const Environment& env,
                                                 CredentialsProviderOptions options)
    : RefreshingCredentialsProvider(options.clock),
      http_(HttpClientOptions{options.imds_connect_timeout}),
      options_(std::move(options)) {
  disabled_ =
      common::ascii_lower(env_value(env, "AWS_EC2_METADATA_DISABLED").value_or("")) == "true";
  if (const auto endpoint = env_value(env, "AWS_EC2_METADATA_SERVICE_ENDPOINT")) {
    endpoint_ = strip_trailing_slashes(*endpoint);
  } else if (common::ascii_lower(
                 env_value(env, "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE").value_or("")) == "ipv6") {
    endpoint_ = "http://[fd00:ec2::254]";
  } else {
    endpoint_ = "http://169.254.169.254";
  }
}

Credentials ImdsCredentialsProvider::fetch() {
  if (disabled_) throw credentials_error(name() + ": disabled by AWS_EC2_METADATA_DISABLED");
  const std::string target = "instance metadata service at " + endpoint_;
  auto fail = [&](const std::string& step, const HttpResponse& response) {
    return AwsError(ErrorCode::kCredentials,
                    name() + ": " + step + " returned HTTP " + std::to_string(response.status) +
                        ": " + body_excerpt(response.body),
                    response.status);
  };

  // IMDSv2: a session token from PUT (which, unlike GET, a misconfigured proxy or a
  // forwarded container request cannot replay), then GETs carrying it.
  HttpRequest token_request;
  token_request.method = "PUT";
  token_request.url = endpoint_ + "/latest/api/token";
  token_request.headers = {{"X-aws-ec2-metadata-token-ttl-seconds", "21600"}};
  token_request.timeout = options_.imds_timeout;
  const HttpResponse token_response = send_for_credentials(http_, token_request, target);
  const std::string token = credentials_detail::trim(token_response.body);
  if (token_response.status != 200 || token.empty())
    throw fail("IMDSv2 token request", token_response);

  HttpRequest role_request;
  role_request.method = "GET";
  role_request.url = endpoint_ + kCredentialsPath;
  role_request.headers = {{kImdsTokenHeader, token}};
  role_request.timeout = options_.imds_timeout;
  const HttpResponse role_response = send_for_credentials(http_, role_request, target);
  if (role_response.status == 404) {
    throw credentials_error(name() + ": no IAM role is attached to this instance");
  }
  if (role_response.status != 200) throw fail("IAM role lookup", role_response);
  // One role per instance profile; the listing has its name on the first line.
  const std::string listing = role_response.body;
  const std::string role = credentials_detail::trim(listing.substr(0, listing.find('\n')));
  if (role.empty()) throw credentials_error(name() + ": no IAM role is attached to this instance");

  HttpRequest credentials_request = role_request;
  credentials_request.url = endpoint_ + kCredentialsPath + uri_encode(role, false);
  const HttpResponse credentials_response =
      send_for_credentials(http_, credentials_request, target);
  if (credentials_response.status != 200) {
    throw fail("credentials of role " + role, credentials_response);
  }
  return credentials_detail::parse_json_credentials(credentials_response.body,
                                                    name() + ": role " + role);
}

}  // namespace dancer::aws

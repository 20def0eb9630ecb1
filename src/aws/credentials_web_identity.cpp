// Web identity credentials: STS AssumeRoleWithWebIdentity, as EKS IRSA sets it up.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "aws/aws_xml.h"
#include "aws/credentials_internal.h"
#include "aws/credentials_providers.h"
#include "aws/error.h"
#include "aws/uri.h"

namespace dancer::aws {

using credentials_detail::credentials_error;
using credentials_detail::env_value;

namespace {

// STS Query API answers are flat enough (no attributes on these elements, names unique)
// for the shared element reader to be exact.
std::optional<std::string> xml_text(std::string_view xml, std::string_view name) {
  return xml::element_text(xml, name);
}

std::string strip_trailing_slashes(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

}  // namespace

std::string sts_endpoint_from_environment(const Environment& env, const std::string& region) {
  if (auto url = env_value(env, "AWS_ENDPOINT_URL_STS")) return strip_trailing_slashes(*url);
  if (auto url = env_value(env, "AWS_ENDPOINT_URL")) return strip_trailing_slashes(*url);
  if (region.empty()) return "https://sts.amazonaws.com";
  return "https://sts." + region + ".amazonaws.com";
}

WebIdentityCredentialsProvider::WebIdentityCredentialsProvider(const Environment& env,
                                                               const std::string& region,
                                                               CredentialsProviderOptions options)
    : RefreshingCredentialsProvider(options.clock),
      http_(HttpClientOptions{options.http_connect_timeout}),
      options_(std::move(options)) {
  const auto role_arn = env_value(env, "AWS_ROLE_ARN");
  const auto token_file = env_value(env, "AWS_WEB_IDENTITY_TOKEN_FILE");
  if (!role_arn || !token_file) {
    missing_reason_ = !role_arn && !token_file
                          ? "AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE not set"
                      : !role_arn ? "AWS_WEB_IDENTITY_TOKEN_FILE set without AWS_ROLE_ARN"
                                  : "AWS_ROLE_ARN set without AWS_WEB_IDENTITY_TOKEN_FILE";
    return;
  }
  config_ = WebIdentityConfig{*role_arn, *token_file,
                              env_value(env, "AWS_ROLE_SESSION_NAME").value_or(""),
                              sts_endpoint_from_environment(env, region)};
}

WebIdentityCredentialsProvider::WebIdentityCredentialsProvider(WebIdentityConfig config,
                                                               CredentialsProviderOptions options)
    : RefreshingCredentialsProvider(options.clock),
      config_(std::move(config)),
      http_(HttpClientOptions{options.http_connect_timeout}),
      options_(std::move(options)) {
  config_->sts_endpoint = strip_trailing_slashes(config_->sts_endpoint);
}

Credentials WebIdentityCredentialsProvider::fetch() {
  if (!config_) throw credentials_error(name() + ": " + missing_reason_);
  // Read on every refresh: kubelet rotates the projected token (by default hourly), and an
  // old one is rejected by STS once it expires.
  const std::string token =
      credentials_detail::read_token_file(config_->token_file, "web identity token file");
  std::string session_name = config_->session_name;
  if (session_name.empty()) {
    const auto millis =
        std::chrono::duration_cast<std::chrono::milliseconds>(now().time_since_epoch()).count();
    session_name = "dancer-analysis-" + std::to_string(millis);
  }

  // AssumeRoleWithWebIdentity authenticates by the token itself, so the call is unsigned.
  HttpRequest request;
  request.method = "POST";
  request.url = config_->sts_endpoint + "/";
  request.headers = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
                     {"Accept", "text/xml"}};
  request.body = "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=" +
                 uri_encode(config_->role_arn, false) +
                 "&RoleSessionName=" + uri_encode(session_name, false) +
                 "&WebIdentityToken=" + uri_encode(token, false);
  request.timeout = options_.http_timeout;
  const HttpResponse response =
      credentials_detail::send_for_credentials(http_, request, "STS at " + config_->sts_endpoint);

  if (response.status != 200) {
    const std::string code = xml_text(response.body, "Code").value_or("");
    const std::string message = xml_text(response.body, "Message").value_or("");
    throw AwsError(ErrorCode::kCredentials,
                   name() + ": STS AssumeRoleWithWebIdentity for " + config_->role_arn +
                       " failed: HTTP " + std::to_string(response.status) +
                       (code.empty() ? "" : " " + code) + (message.empty() ? "" : ": " + message),
                   response.status, code, xml_text(response.body, "RequestId").value_or(""));
  }

  const std::string_view body = response.body;
  const std::size_t block_begin = body.find("<Credentials>");
  const std::size_t block_end = body.find("</Credentials>");
  if (block_begin == std::string_view::npos || block_end == std::string_view::npos ||
      block_end < block_begin) {
    throw credentials_error(name() + ": STS response has no <Credentials> element");
  }
  const std::string_view block = body.substr(block_begin, block_end - block_begin);
  Credentials credentials;
  credentials.access_key_id = xml_text(block, "AccessKeyId").value_or("");
  credentials.secret_access_key = xml_text(block, "SecretAccessKey").value_or("");
  credentials.session_token = xml_text(block, "SessionToken").value_or("");
  const auto expiration = xml_text(block, "Expiration");
  if (credentials.empty() || credentials.session_token.empty() || !expiration) {
    throw credentials_error(name() + ": STS response lacks AccessKeyId, SecretAccessKey, " +
                            "SessionToken or Expiration");
  }
  credentials.expiration = credentials_detail::parse_iso8601(*expiration);
  return credentials;
}

}  // namespace dancer::aws

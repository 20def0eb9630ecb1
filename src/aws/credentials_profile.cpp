// Shared profile files (~/.aws/credentials and ~/.aws/config), read as the AWS CLI does.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "aws/credentials_internal.h"
#include "aws/credentials_providers.h"
#include "aws/error.h"

namespace dancer::aws {

using credentials_detail::credentials_error;
using credentials_detail::env_value;
using credentials_detail::expand_home;
using credentials_detail::Profile;
using credentials_detail::ProfileMap;

namespace {

// The profiles of a file, or nullopt when it does not exist.
std::optional<ProfileMap> load_profile_file(const std::string& path, bool is_config_file) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) return std::nullopt;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw credentials_error("profile: cannot read " + path);
  std::ostringstream content;
  content << in.rdbuf();
  return credentials_detail::parse_profile_file(content.str(), is_config_file);
}

std::optional<std::string> property(const Profile& profile, const std::string& key) {
  auto it = profile.find(key);
  if (it == profile.end() || it->second.empty()) return std::nullopt;
  return it->second;
}

}  // namespace

ProfileCredentialsProvider::ProfileCredentialsProvider(const Environment& env, std::string region,
                                                       CredentialsProviderOptions options)
    : env_(env), region_(std::move(region)), options_(std::move(options)) {}

std::shared_ptr<CredentialsProvider> ProfileCredentialsProvider::resolve() const {
  const std::string profile_name = env_value(env_, "AWS_PROFILE").value_or("default");
  const std::string credentials_path = expand_home(
      env_value(env_, "AWS_SHARED_CREDENTIALS_FILE").value_or("~/.aws/credentials"), env_);
  const std::string config_path =
      expand_home(env_value(env_, "AWS_CONFIG_FILE").value_or("~/.aws/config"), env_);
  const std::string files = credentials_path + " and " + config_path;

  const auto credentials_file = load_profile_file(credentials_path, false);
  const auto config_file = load_profile_file(config_path, true);
  if (!credentials_file && !config_file) {
    throw credentials_error("profile: neither " + files + " exists");
  }
  // Both files may define the profile; the credentials file wins for a property in both,
  // as in the AWS CLI and SDKs.
  Profile profile;
  bool found = false;
  for (const auto& file : {config_file, credentials_file}) {
    if (!file) continue;
    auto it = file->find(profile_name);
    if (it == file->end()) continue;
    found = true;
    for (const auto& [key, value] : it->second) profile[key] = value;
  }
  const std::string described = "profile '" + profile_name + "'";
  if (!found) throw credentials_error("profile: " + described + " not found in " + files);

  // A role takes precedence over static keys in the same profile (the SDKs' order).
  if (const auto role_arn = property(profile, "role_arn")) {
    const auto token_file = property(profile, "web_identity_token_file");
    if (!token_file) {
      throw credentials_error("profile: " + described +
                              " assumes a role with source_profile/credential_source, which is "
                              "not supported (only role_arn + web_identity_token_file)");
    }
    WebIdentityConfig config{*role_arn, expand_home(*token_file, env_),
                             property(profile, "role_session_name").value_or(""),
                             sts_endpoint_from_environment(env_, region_)};
    return std::make_shared<WebIdentityCredentialsProvider>(std::move(config), options_);
  }
  const auto access_key_id = property(profile, "aws_access_key_id");
  const auto secret_access_key = property(profile, "aws_secret_access_key");
  if (access_key_id && secret_access_key) {
    return make_static_provider(Credentials{*access_key_id, *secret_access_key,
                                            property(profile, "aws_session_token").value_or(""),
                                            std::nullopt});
  }
  if (access_key_id || secret_access_key) {
    throw credentials_error("profile: " + described +
                            " has only one of aws_access_key_id and aws_secret_access_key");
  }
  for (const char* unsupported : {"credential_process", "sso_session", "sso_start_url"}) {
    if (property(profile, unsupported)) {
      throw credentials_error("profile: " + described + " uses " + unsupported +
                              ", which is not supported");
    }
  }
  throw credentials_error("profile: " + described + " has no credentials");
}

Credentials ProfileCredentialsProvider::get() {
  std::shared_ptr<CredentialsProvider> resolved;
  {
    std::lock_guard lock(mutex_);
    // Files are read until they yield a provider, then never again: static keys do not
    // change, and a delegated web-identity provider refreshes by itself.
    if (!resolved_) resolved_ = resolve();
    resolved = resolved_;
  }
  try {
    return resolved->get();
  } catch (const AwsError& e) {
    throw AwsError(ErrorCode::kCredentials, std::string("profile: ") + e.what(), e.http_status(),
                   e.aws_code(), e.request_id());
  }
}

}  // namespace dancer::aws

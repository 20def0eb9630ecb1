// The individual credential providers of the default chain, for callers that need one
// of them directly (or a chain with injected options, as the tests do). Every provider is
// thread-safe and throws AwsError(kCredentials) with a message saying why it could not
// resolve credentials (which variable is unset, which file is missing, what STS said).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "aws/credentials.h"
#include "aws/http_client.h"

namespace dancer::aws {

using WallClock = std::function<std::chrono::system_clock::time_point()>;

struct CredentialsProviderOptions {
  WallClock clock;  // empty: std::chrono::system_clock::now
  // Base of AWS_CONTAINER_CREDENTIALS_RELATIVE_URI. ECS serves it on this fixed
  // link-local address; only tests point it elsewhere (deliberately not an env var).
  std::string container_relative_uri_base = "http://169.254.170.2";
  // STS and container endpoint limits.
  std::chrono::milliseconds http_timeout{10000};
  std::chrono::milliseconds http_connect_timeout{3000};
  // IMDS: short, so that a machine outside EC2 falls through the chain quickly.
  std::chrono::milliseconds imds_timeout{2000};
  std::chrono::milliseconds imds_connect_timeout{1000};
};

// Base of providers whose credentials expire: caches them and fetches new ones once
// they are within kRefreshWindow (+ up to kRefreshJitter, so that many workers do not
// all refresh at the same second) of their expiration. When a refresh fails while the
// cached credentials are still valid, those are returned (and the refresh retried at
// most every kRetryAfterFailure), as AWS SDKs do; once expired, the failure is thrown.
class RefreshingCredentialsProvider : public CredentialsProvider {
 public:
  static constexpr std::chrono::minutes kRefreshWindow{5};
  static constexpr std::chrono::seconds kRefreshJitter{60};
  static constexpr std::chrono::seconds kRetryAfterFailure{10};

  Credentials get() final;

 protected:
  explicit RefreshingCredentialsProvider(WallClock clock);
  std::chrono::system_clock::time_point now() const { return clock_(); }
  // Fetches fresh credentials; called with the provider's lock held, so implementations
  // may use members (e.g. their HttpClient) without further locking.
  virtual Credentials fetch() = 0;

 private:
  WallClock clock_;
  std::mutex mutex_;
  std::optional<Credentials> cached_;
  std::chrono::system_clock::time_point refresh_at_{};
  std::optional<std::chrono::system_clock::time_point> last_failure_;
  std::mt19937_64 jitter_random_;
};

// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and optional AWS_SESSION_TOKEN.
class EnvironmentCredentialsProvider final : public CredentialsProvider {
 public:
  explicit EnvironmentCredentialsProvider(const Environment& env);
  Credentials get() override;
  std::string name() const override { return "environment"; }

 private:
  std::optional<Credentials> credentials_;
  std::string missing_reason_;
};

// Settings of an STS AssumeRoleWithWebIdentity call.
struct WebIdentityConfig {
  std::string role_arn;
  std::string token_file;    // re-read on every refresh: kubelet rotates it
  std::string session_name;  // empty: "dancer-analysis-<epoch ms>"
  std::string sts_endpoint;  // "https://sts.eu-west-1.amazonaws.com", no trailing '/'
};

// STS endpoint as the SDKs choose it: AWS_ENDPOINT_URL_STS, then AWS_ENDPOINT_URL, then
// https://sts.<region>.amazonaws.com (the global https://sts.amazonaws.com without region).
std::string sts_endpoint_from_environment(const Environment& env, const std::string& region);

// Web identity (EKS IRSA): AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE (+
// AWS_ROLE_SESSION_NAME), exchanged for role credentials with an unsigned STS call.
class WebIdentityCredentialsProvider final : public RefreshingCredentialsProvider {
 public:
  WebIdentityCredentialsProvider(const Environment& env, const std::string& region,
                                 CredentialsProviderOptions options = {});
  WebIdentityCredentialsProvider(WebIdentityConfig config, CredentialsProviderOptions options);
  std::string name() const override { return "web-identity"; }

 protected:
  Credentials fetch() override;

 private:
  std::optional<WebIdentityConfig> config_;
  std::string missing_reason_;
  HttpClient http_;
  CredentialsProviderOptions options_;
};

// Shared config and credentials files: AWS_PROFILE (default "default"),
// AWS_SHARED_CREDENTIALS_FILE (~/.aws/credentials), AWS_CONFIG_FILE (~/.aws/config).
// Static keys are read once; a profile with role_arn + web_identity_token_file delegates
// to a WebIdentityCredentialsProvider (which refreshes on its own).
class ProfileCredentialsProvider final : public CredentialsProvider {
 public:
  ProfileCredentialsProvider(const Environment& env, std::string region,
                             CredentialsProviderOptions options = {});
  Credentials get() override;
  std::string name() const override { return "profile"; }

 private:
  std::shared_ptr<CredentialsProvider> resolve() const;

  Environment env_;
  std::string region_;
  CredentialsProviderOptions options_;
  std::mutex mutex_;
  std::shared_ptr<CredentialsProvider> resolved_;
};

// Container credentials (ECS task roles, EKS Pod Identity):
// AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or AWS_CONTAINER_CREDENTIALS_FULL_URI, with the
// Authorization header from AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (re-read on every
// refresh) or AWS_CONTAINER_AUTHORIZATION_TOKEN. A plain-http full URI must name a
// loopback address, 169.254.170.2 (ECS) or 169.254.170.23 / [fd00:ec2::23] (EKS Pod
// Identity); any other host is refused without sending the token anywhere.
class ContainerCredentialsProvider final : public RefreshingCredentialsProvider {
 public:
  explicit ContainerCredentialsProvider(const Environment& env,
                                        CredentialsProviderOptions options = {});
  std::string name() const override { return "container"; }

 protected:
  Credentials fetch() override;

 private:
  std::string url_;
  std::string unavailable_reason_;
  std::string auth_token_file_;
  std::string auth_token_;
  HttpClient http_;
  CredentialsProviderOptions options_;
};

// EC2 instance metadata, IMDSv2 only (session token first, as IMDS-hardened instances
// require). Endpoint http://169.254.169.254, AWS_EC2_METADATA_SERVICE_ENDPOINT, or
// http://[fd00:ec2::254] with AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6;
// AWS_EC2_METADATA_DISABLED=true turns it off.
class ImdsCredentialsProvider final : public RefreshingCredentialsProvider {
 public:
  explicit ImdsCredentialsProvider(const Environment& env, CredentialsProviderOptions options = {});
  std::string name() const override { return "imds"; }

 protected:
  Credentials fetch() override;

 private:
  std::string endpoint_;
  bool disabled_ = false;
  HttpClient http_;
  CredentialsProviderOptions options_;
};

// Tries providers in order; the first that yields credentials is remembered and used
// from then on. When all fail, throws kCredentials listing each provider's reason.
class CredentialsProviderChain final : public CredentialsProvider {
 public:
  explicit CredentialsProviderChain(std::vector<std::shared_ptr<CredentialsProvider>> providers);
  Credentials get() override;
  // The remembered provider's name, or "default-chain" before one has succeeded.
  std::string name() const override;

 private:
  std::vector<std::shared_ptr<CredentialsProvider>> providers_;
  mutable std::mutex mutex_;
  std::shared_ptr<CredentialsProvider> resolved_;
};

std::shared_ptr<CredentialsProvider> make_default_credentials_chain(
    const Environment& env, const std::string& region, const CredentialsProviderOptions& options);

}  // namespace dancer::aws

#include "aws/credentials.h"

#include <spdlog/spdlog.h>

#include <exception>
#include <utility>

#include "aws/credentials_internal.h"
#include "aws/credentials_providers.h"
#include "aws/error.h"
#include "common/time.h"

namespace dancer::aws {

using common::format_iso8601;
using credentials_detail::credentials_error;
using credentials_detail::env_value;

std::string redacted_description(const Credentials& credentials) {
  const std::string& id = credentials.access_key_id;
  // Key ids are 20 characters; the prefix tells the kind (AKIA long-term, ASIA temporary)
  // and the last characters are enough to tell keys apart in logs.
  std::string description =
      id.size() > 8 ? id.substr(0, 4) + "..." + id.substr(id.size() - 3) : std::string("****");
  description += credentials.session_token.empty() ? " (long-term" : " (session";
  if (credentials.expiration) {
    description += ", expires " + format_iso8601(*credentials.expiration);
  }
  description += ")";
  return description;
}

namespace {

class StaticCredentialsProvider final : public CredentialsProvider {
 public:
  explicit StaticCredentialsProvider(Credentials credentials)
      : credentials_(std::move(credentials)) {}
  Credentials get() override {
    if (credentials_.empty()) throw credentials_error("static credentials are empty");
    return credentials_;
  }
  std::string name() const override { return "static"; }

 private:
  const Credentials credentials_;
};

}  // namespace

std::shared_ptr<CredentialsProvider> make_static_provider(Credentials credentials) {
  return std::make_shared<StaticCredentialsProvider>(std::move(credentials));
}

// ---- RefreshingCredentialsProvider ----

RefreshingCredentialsProvider::RefreshingCredentialsProvider(WallClock clock)
    : clock_(clock ? std::move(clock) : WallClock([] { return std::chrono::system_clock::now(); })),
      jitter_random_(std::random_device{}()) {}

Credentials RefreshingCredentialsProvider::get() {
  std::lock_guard lock(mutex_);
  const auto current = clock_();
  const bool cached_valid = cached_ && (!cached_->expiration || current < *cached_->expiration);
  if (cached_ && (!cached_->expiration || current < refresh_at_)) return *cached_;
  if (cached_valid && last_failure_ && current - *last_failure_ < kRetryAfterFailure) {
    return *cached_;
  }
  try {
    Credentials fresh = fetch();
    if (fresh.empty()) throw credentials_error(name() + ": no credentials in the response");
    if (fresh.expiration) {
      std::uniform_int_distribution<long long> jitter_ms(
          0, std::chrono::duration_cast<std::chrono::milliseconds>(kRefreshJitter).count());
      refresh_at_ =
          *fresh.expiration - kRefreshWindow - std::chrono::milliseconds(jitter_ms(jitter_random_));
    }
    cached_ = std::move(fresh);
    last_failure_.reset();
    return *cached_;
  } catch (const std::exception& e) {
    const auto* aws_error = dynamic_cast<const AwsError*>(&e);
    if (cached_valid) {
      spdlog::warn("refreshing AWS credentials from {} failed ({}); using {} until it works",
                   name(), e.what(), redacted_description(*cached_));
      last_failure_ = current;
      return *cached_;
    }
    // Network or parse failures of a provider mean "no credentials from here"; keep the
    // status and AWS code for whoever wants to tell a throttled STS from a missing role.
    std::string message = e.what();
    if (message.rfind(name() + ": ", 0) != 0) message = name() + ": " + message;
    throw AwsError(ErrorCode::kCredentials, message, aws_error ? aws_error->http_status() : 0,
                   aws_error ? aws_error->aws_code() : std::string{},
                   aws_error ? aws_error->request_id() : std::string{});
  }
}

// ---- EnvironmentCredentialsProvider ----

EnvironmentCredentialsProvider::EnvironmentCredentialsProvider(const Environment& env) {
  const auto access_key_id = env_value(env, "AWS_ACCESS_KEY_ID");
  const auto secret_access_key = env_value(env, "AWS_SECRET_ACCESS_KEY");
  if (!access_key_id && !secret_access_key) {
    missing_reason_ = "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY not set";
  } else if (!access_key_id) {
    missing_reason_ = "AWS_SECRET_ACCESS_KEY set without AWS_ACCESS_KEY_ID";
  } else if (!secret_access_key) {
    missing_reason_ = "AWS_ACCESS_KEY_ID set without AWS_SECRET_ACCESS_KEY";
  } else {
    credentials_ = Credentials{*access_key_id, *secret_access_key,
                               env_value(env, "AWS_SESSION_TOKEN").value_or(""), std::nullopt};
  }
}

Credentials EnvironmentCredentialsProvider::get() {
  if (!credentials_) throw credentials_error("environment: " + missing_reason_);
  return *credentials_;
}

// ---- CredentialsProviderChain ----

CredentialsProviderChain::CredentialsProviderChain(
    std::vector<std::shared_ptr<CredentialsProvider>> providers)
    : providers_(std::move(providers)) {}

std::string CredentialsProviderChain::name() const {
  std::lock_guard lock(mutex_);
  return resolved_ ? resolved_->name() : "default-chain";
}

Credentials CredentialsProviderChain::get() {
  std::shared_ptr<CredentialsProvider> resolved;
  {
    std::lock_guard lock(mutex_);
    resolved = resolved_;
    if (!resolved) {
      // Resolution holds the lock so concurrent first callers do not all query IMDS.
      std::string tried;
      for (const auto& provider : providers_) {
        try {
          Credentials credentials = provider->get();
          resolved_ = provider;
          spdlog::info("AWS credentials from {}: {}", provider->name(),
                       redacted_description(credentials));
          return credentials;
        } catch (const std::exception& e) {
          const std::string reason = e.what();
          const std::string prefix = provider->name() + ": ";
          tried += (tried.empty() ? "" : "; ") +
                   (reason.rfind(prefix, 0) == 0 ? reason : prefix + reason);
        }
      }
      throw credentials_error("no AWS credentials found; tried " + tried);
    }
  }
  // The remembered provider is thread-safe itself; do not serialise callers on the chain.
  return resolved->get();
}

std::shared_ptr<CredentialsProvider> make_default_credentials_chain(
    const Environment& env, const std::string& region, const CredentialsProviderOptions& options) {
  std::vector<std::shared_ptr<CredentialsProvider>> providers;
  providers.push_back(std::make_shared<EnvironmentCredentialsProvider>(env));
  providers.push_back(std::make_shared<ProfileCredentialsProvider>(env, region, options));
  providers.push_back(std::make_shared<WebIdentityCredentialsProvider>(env, region, options));
  providers.push_back(std::make_shared<ContainerCredentialsProvider>(env, options));
  providers.push_back(std::make_shared<ImdsCredentialsProvider>(env, options));
  return std::make_shared<CredentialsProviderChain>(std::move(providers));
}

std::shared_ptr<CredentialsProvider> make_default_credentials_chain(const Environment& env,
                                                                    const std::string& region) {
  return make_default_credentials_chain(env, region, CredentialsProviderOptions{});
}

}  // namespace dancer::aws

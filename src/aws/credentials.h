// AWS credentials and the providers that resolve them, in the order the AWS SDKs use:
// environment, shared profile files (AWS_PROFILE), web identity (IRSA), container
// credentials (ECS / EKS Pod Identity), EC2 instance metadata (IMDSv2).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace dancer::aws {

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;  // never logged
  std::string session_token;      // never logged; empty for long-term keys
  std::optional<std::chrono::system_clock::time_point> expiration;

  bool empty() const { return access_key_id.empty() || secret_access_key.empty(); }
};

// Safe to log: "ASIA...XYZ (session, expires 2024-05-01T12:00:00Z)". Never includes the
// secret key or the session token.
std::string redacted_description(const Credentials& credentials);

// Thread-safe. get() returns cached credentials and refreshes them before they
// expire; throws AwsError(kCredentials) when none can be resolved.
class CredentialsProvider {
 public:
  virtual ~CredentialsProvider() = default;
  virtual Credentials get() = 0;
  virtual std::string name() const = 0;  // e.g. "environment", "web-identity"
};

// A provider returning fixed credentials (tests, explicit configuration).
std::shared_ptr<CredentialsProvider> make_static_provider(Credentials credentials);

// Environment snapshot used to build the default chain (AWS_ACCESS_KEY_ID, AWS_PROFILE,
// AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE, AWS_CONTAINER_CREDENTIALS_*, HOME, ...).
using Environment = std::map<std::string, std::string>;

// The default provider chain, resolved lazily on first get(): environment, profile files,
// web identity, container, IMDS. The first provider that yields credentials is remembered
// and name() then reports it. Providers and chain options: aws/credentials_providers.h.
std::shared_ptr<CredentialsProvider> make_default_credentials_chain(const Environment& env,
                                                                    const std::string& region);

}  // namespace dancer::aws

// Credential providers against an in-process cpp-httplib server on 127.0.0.1 that speaks
// STS AssumeRoleWithWebIdentity, the ECS/EKS container credentials protocol and IMDSv2,
// and the default chain choosing between them.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "aws/credentials.h"
#include "aws/credentials_internal.h"
#include "aws/credentials_providers.h"
#include "aws/error.h"
#include "aws/uri.h"
#include "common/time.h"
#include "support/test_support.h"

namespace dancer::aws {
namespace {

using namespace std::chrono_literals;
using TimePoint = std::chrono::system_clock::time_point;

// The providers' clock: starts at a fixed instant and moves only when a test says so.
class TestClock {
 public:
  TimePoint now() const {
    std::lock_guard lock(mutex_);
    return now_;
  }
  void advance(std::chrono::system_clock::duration by) {
    std::lock_guard lock(mutex_);
    now_ += by;
  }
  WallClock function() {
    return [this] { return now(); };
  }

 private:
  mutable std::mutex mutex_;
  TimePoint now_ = std::chrono::sys_days(std::chrono::year(2030) / 1 / 1) + 8h;
};

std::string iso8601(TimePoint time) { return common::format_iso8601(time); }

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Fields of an application/x-www-form-urlencoded body (the STS Query API request).
std::map<std::string, std::string> form_fields(const std::string& body) {
  std::map<std::string, std::string> fields;
  std::size_t start = 0;
  while (start < body.size()) {
    std::size_t end = body.find('&', start);
    if (end == std::string::npos) end = body.size();
    const std::string pair = body.substr(start, end - start);
    const std::size_t equals = pair.find('=');
    fields[uri_decode(pair.substr(0, equals), true)] =
        equals == std::string::npos ? "" : uri_decode(pair.substr(equals + 1), true);
    start = end + 1;
  }
  return fields;
}

// What the fake endpoints saw, and how they should answer.
struct ServerState {
  // STS
  int sts_hits = 0;
  std::vector<std::string> sts_tokens;
  std::vector<std::string> sts_role_arns;
  std::vector<std::string> sts_session_names;
  bool sts_saw_authorization = false;
  bool sts_saw_wrong_action = false;
  long sts_fail_status = 0;  // 0: answer with credentials
  // Container endpoint
  int container_hits = 0;
  std::vector<std::string> container_authorizations;
  std::vector<std::string> container_paths;
  std::string container_expected_authorization;  // empty: no check
  long container_fail_status = 0;
  // IMDS
  int imds_token_puts = 0;
  int imds_gets = 0;
  int imds_rejected = 0;  // requests refused for a missing/unknown token
  std::set<std::string> imds_issued_tokens;
  bool imds_role_attached = true;
  // Lifetime of every credential handed out, from TestClock::now().
  std::chrono::seconds lifetime = 1h;
};

// One loopback server with all three protocols, each answering credentials whose access
// key id tells where they came from ("ASIASTS...", "ASIACONTAINER...", "ASIAIMDS...").
class FakeCredentialEndpoints {
 public:
  explicit FakeCredentialEndpoints(TestClock& clock) : clock_(clock) {
    server_.Post("/", [this](const httplib::Request& request, httplib::Response& response) {
      handle_sts(request, response);
    });
    server_.Get(R"(/v2/credentials/.*|/creds)",
                [this](const httplib::Request& request, httplib::Response& response) {
                  handle_container(request, response);
                });
    server_.Put("/latest/api/token",
                [this](const httplib::Request& request, httplib::Response& response) {
                  handle_imds_token(request, response);
                });
    server_.Get(R"(/latest/meta-data/iam/security-credentials/(.*))",
                [this](const httplib::Request& request, httplib::Response& response) {
                  handle_imds_credentials(request, response);
                });
    port_ = server_.bind_to_any_port("127.0.0.1");
    if (port_ <= 0) throw std::runtime_error("cannot bind a loopback port");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(1ms);
  }
  ~FakeCredentialEndpoints() {
    server_.stop();
    thread_.join();
  }
  FakeCredentialEndpoints(const FakeCredentialEndpoints&) = delete;
  FakeCredentialEndpoints& operator=(const FakeCredentialEndpoints&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }

  ServerState state() const {
    std::lock_guard lock(mutex_);
    return state_;
  }
  void configure(const std::function<void(ServerState&)>& change) {
    std::lock_guard lock(mutex_);
    change(state_);
  }

 private:
  TimePoint expiration() const { return clock_.now() + state_.lifetime; }

  void handle_sts(const httplib::Request& request, httplib::Response& response) {
    std::lock_guard lock(mutex_);
    ++state_.sts_hits;
    state_.sts_saw_authorization |= request.has_header("Authorization");
    auto form = form_fields(request.body);
    state_.sts_saw_wrong_action |=
        form["Action"] != "AssumeRoleWithWebIdentity" || form["Version"] != "2011-06-15" ||
        !contains(request.get_header_value("Content-Type"), "application/x-www-form-urlencoded");
    state_.sts_tokens.push_back(form["WebIdentityToken"]);
    state_.sts_role_arns.push_back(form["RoleArn"]);
    state_.sts_session_names.push_back(form["RoleSessionName"]);
    if (state_.sts_fail_status != 0) {
      response.status = static_cast<int>(state_.sts_fail_status);
      response.set_content(
          "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error>"
          "<Type>Sender</Type><Code>AccessDenied</Code><Message>Not authorized to perform "
          "sts:AssumeRoleWithWebIdentity</Message></Error><RequestId>req-" +
              std::to_string(state_.sts_hits) + "</RequestId></ErrorResponse>",
          "text/xml");
      return;
    }
    const std::string n = std::to_string(state_.sts_hits);
    response.set_content(
        "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
        "<AssumeRoleWithWebIdentityResult>"
        "<SubjectFromWebIdentityToken>system:serviceaccount:ns:sa</SubjectFromWebIdentityToken>"
        "<Credentials>\n  <SessionToken>sts-session-" +
            n + "</SessionToken>\n  <SecretAccessKey>sts&amp;secret-" + n +
            "</SecretAccessKey>\n  <Expiration>" + iso8601(expiration()) +
            "</Expiration>\n  <AccessKeyId>ASIASTS" + n +
            "</AccessKeyId>\n</Credentials>"
            "</AssumeRoleWithWebIdentityResult><ResponseMetadata><RequestId>r</RequestId>"
            "</ResponseMetadata></AssumeRoleWithWebIdentityResponse>",
        "text/xml");
  }

  void handle_container(const httplib::Request& request, httplib::Response& response) {
    std::lock_guard lock(mutex_);
    ++state_.container_hits;
    const std::string authorization = request.get_header_value("Authorization");
    state_.container_authorizations.push_back(authorization);
    state_.container_paths.push_back(request.path);
    if (!state_.container_expected_authorization.empty() &&
        authorization != state_.container_expected_authorization) {
      response.status = 401;
      response.set_content(R"({"code":"AccessDeniedException","message":"bad token"})",
                           "application/json");
      return;
    }
    if (state_.container_fail_status != 0) {
      response.status = static_cast<int>(state_.container_fail_status);
      return;
    }
    const std::string n = std::to_string(state_.container_hits);
    response.set_content(R"({"AccessKeyId":"ASIACONTAINER)" + n +
                             R"(","SecretAccessKey":"container-secret-)" + n +
                             R"(","Token":"container-token-)" + n + R"(","Expiration":")" +
                             iso8601(expiration()) + R"(","RoleArn":"arn:aws:iam::1:role/r"})",
                         "application/json");
  }

  void handle_imds_token(const httplib::Request& request, httplib::Response& response) {
    std::lock_guard lock(mutex_);
    ++state_.imds_token_puts;
    if (request.get_header_value("X-aws-ec2-metadata-token-ttl-seconds") != "21600") {
      response.status = 400;
      return;
    }
    const std::string token = "imds-session-" + std::to_string(state_.imds_token_puts);
    state_.imds_issued_tokens.insert(token);
    response.set_content(token, "text/plain");
  }

  // Like a hardened instance (HttpTokens=required): 401 without a valid session token.
  void handle_imds_credentials(const httplib::Request& request, httplib::Response& response) {
    std::lock_guard lock(mutex_);
    ++state_.imds_gets;
    if (state_.imds_issued_tokens.count(request.get_header_value("X-aws-ec2-metadata-token")) ==
        0) {
      ++state_.imds_rejected;
      response.status = 401;
      return;
    }
    const std::string role = request.matches[1];
    if (!state_.imds_role_attached) {
      response.status = 404;
      return;
    }
    if (role.empty()) {
      response.set_content("dancer-role\n", "text/plain");
      return;
    }
    if (role != "dancer-role") {
      response.status = 404;
      return;
    }
    const std::string n = std::to_string(state_.imds_gets);
    response.set_content(
        R"({"Code":"Success","Type":"AWS-HMAC","AccessKeyId":"ASIAIMDS)" + n +
            R"(","SecretAccessKey":"imds-secret","Token":"imds-token","Expiration":")" +
            iso8601(expiration()) + R"("})",
        "application/json");
  }

  TestClock& clock_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  mutable std::mutex mutex_;
  ServerState state_;
};

void write_file(const std::filesystem::path& path, const std::string& content) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
}

AwsError get_error(CredentialsProvider& provider) {
  try {
    provider.get();
  } catch (const AwsError& e) {
    return e;
  }
  ADD_FAILURE() << provider.name() << " returned credentials";
  return AwsError(ErrorCode::kUnknown, "no error");
}

// A loopback port with nothing listening: connections are refused at once.
int closed_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  auto* generic = reinterpret_cast<sockaddr*>(&address);
  if (fd < 0 || ::bind(fd, generic, length) != 0 || ::getsockname(fd, generic, &length) != 0) {
    throw std::runtime_error("cannot bind a loopback port");
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

class CredentialsProvidersTest : public ::testing::Test {
 protected:
  CredentialsProviderOptions options() {
    CredentialsProviderOptions options;
    options.clock = clock_.function();
    options.container_relative_uri_base = server_.url();
    return options;
  }
  // Only HOME (an empty directory) and IMDS off: nothing configured yet.
  Environment base_env() {
    return {{"HOME", home_.path().string()}, {"AWS_EC2_METADATA_DISABLED", "true"}};
  }
  Environment web_identity_env(const std::string& token) {
    write_file(home_ / "token", token);
    Environment env = base_env();
    env["AWS_ROLE_ARN"] = "arn:aws:iam::123456789012:role/dancer";
    env["AWS_WEB_IDENTITY_TOKEN_FILE"] = (home_ / "token").string();
    env["AWS_ROLE_SESSION_NAME"] = "dancer-test";
    env["AWS_ENDPOINT_URL_STS"] = server_.url() + "/";
    return env;
  }

  TestClock clock_;
  FakeCredentialEndpoints server_{clock_};
  testing::TempDir home_;
};

// ---- web identity ----

TEST_F(CredentialsProvidersTest, WebIdentityExchangesTheTokenForRoleCredentials) {
  WebIdentityCredentialsProvider provider(web_identity_env("jwt-1"), "eu-west-1", options());
  const Credentials credentials = provider.get();
  EXPECT_EQ(credentials.access_key_id, "ASIASTS1");
  EXPECT_EQ(credentials.secret_access_key, "sts&secret-1");  // XML entity decoded
  EXPECT_EQ(credentials.session_token, "sts-session-1");
  ASSERT_TRUE(credentials.expiration.has_value());
  EXPECT_EQ(*credentials.expiration, clock_.now() + 1h);

  const ServerState seen = server_.state();
  ASSERT_EQ(seen.sts_hits, 1);
  EXPECT_EQ(seen.sts_tokens.at(0), "jwt-1");
  EXPECT_EQ(seen.sts_role_arns.at(0), "arn:aws:iam::123456789012:role/dancer");
  EXPECT_EQ(seen.sts_session_names.at(0), "dancer-test");
  EXPECT_FALSE(seen.sts_saw_wrong_action);
  EXPECT_FALSE(seen.sts_saw_authorization);  // the call is unsigned
}

TEST_F(CredentialsProvidersTest, WebIdentityAccessDeniedIsACredentialsError) {
  server_.configure([](ServerState& s) { s.sts_fail_status = 403; });
  WebIdentityCredentialsProvider provider(web_identity_env("jwt"), "eu-west-1", options());
  const AwsError error = get_error(provider);
  EXPECT_EQ(error.code(), ErrorCode::kCredentials);
  EXPECT_EQ(error.http_status(), 403);
  EXPECT_EQ(error.aws_code(), "AccessDenied");
  EXPECT_EQ(error.request_id(), "req-1");
  EXPECT_TRUE(contains(error.what(), "arn:aws:iam::123456789012:role/dancer")) << error.what();
  EXPECT_TRUE(contains(error.what(), "Not authorized")) << error.what();
}

TEST_F(CredentialsProvidersTest, WebIdentityRereadsTheRotatedTokenFileOnRefresh) {
  WebIdentityCredentialsProvider provider(web_identity_env("jwt-before-rotation"), "", options());
  EXPECT_EQ(provider.get().access_key_id, "ASIASTS1");
  write_file(home_ / "token", "jwt-after-rotation");
  clock_.advance(56min);  // 4 minutes before expiry: inside the refresh window
  EXPECT_EQ(provider.get().access_key_id, "ASIASTS2");
  const ServerState seen = server_.state();
  ASSERT_EQ(seen.sts_tokens.size(), 2u);
  EXPECT_EQ(seen.sts_tokens[0], "jwt-before-rotation");
  EXPECT_EQ(seen.sts_tokens[1], "jwt-after-rotation");
}

TEST_F(CredentialsProvidersTest, RefreshesCredentialsExpiringWithinFiveMinutes) {
  server_.configure([](ServerState& s) { s.lifetime = 2min; });
  WebIdentityCredentialsProvider provider(web_identity_env("jwt"), "", options());
  EXPECT_EQ(provider.get().access_key_id, "ASIASTS1");
  EXPECT_EQ(provider.get().access_key_id, "ASIASTS2");
  EXPECT_EQ(server_.state().sts_hits, 2);
}

TEST_F(CredentialsProvidersTest, CachesCredentialsUntilTheRefreshWindow) {
  server_.configure([](ServerState& s) { s.lifetime = 2h; });
  WebIdentityCredentialsProvider provider(web_identity_env("jwt"), "", options());
  EXPECT_EQ(provider.get().access_key_id, "ASIASTS1");
  EXPECT_EQ(provider.get().access_key_id, "ASIASTS1");
  clock_.advance(1h);
  EXPECT_EQ(provider.get().access_key_id, "ASIASTS1");
  EXPECT_EQ(server_.state().sts_hits, 1);
  clock_.advance(56min);  // 4 minutes left
  EXPECT_EQ(provider.get().access_key_id, "ASIASTS2");
  EXPECT_EQ(server_.state().sts_hits, 2);
}

TEST_F(CredentialsProvidersTest, KeepsValidCredentialsWhenARefreshFailsUntilTheyExpire) {
  server_.configure([](ServerState& s) { s.lifetime = 10min; });
  WebIdentityCredentialsProvider provider(web_identity_env("jwt"), "", options());
  EXPECT_EQ(provider.get().access_key_id, "ASIASTS1");
  server_.configure([](ServerState& s) { s.sts_fail_status = 500; });
  clock_.advance(6min);  // in the window, 4 minutes still valid
  EXPECT_EQ(provider.get().access_key_id, "ASIASTS1");
  EXPECT_EQ(server_.state().sts_hits, 2);
  EXPECT_EQ(provider.get().access_key_id, "ASIASTS1");
  EXPECT_EQ(server_.state().sts_hits, 2);  // no retry storm right after a failure
  clock_.advance(RefreshingCredentialsProvider::kRetryAfterFailure);
  EXPECT_EQ(provider.get().access_key_id, "ASIASTS1");
  EXPECT_EQ(server_.state().sts_hits, 3);
  clock_.advance(5min);  // expired now
  const AwsError error = get_error(provider);
  EXPECT_EQ(error.code(), ErrorCode::kCredentials);
  EXPECT_EQ(error.http_status(), 500);
}

TEST_F(CredentialsProvidersTest, ConcurrentCallersShareOneFetch) {
  server_.configure([](ServerState& s) { s.lifetime = 2h; });
  WebIdentityCredentialsProvider provider(web_identity_env("jwt"), "", options());
  std::vector<std::thread> threads;
  std::mutex results_mutex;
  std::set<std::string> keys;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      const std::string key = provider.get().access_key_id;
      std::lock_guard lock(results_mutex);
      keys.insert(key);
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(keys, std::set<std::string>{"ASIASTS1"});
  EXPECT_EQ(server_.state().sts_hits, 1);
}

TEST_F(CredentialsProvidersTest, WebIdentityWithoutItsVariablesSaysWhichIsMissing) {
  Environment env = base_env();
  env["AWS_WEB_IDENTITY_TOKEN_FILE"] = "/nonexistent";
  WebIdentityCredentialsProvider provider(env, "", options());
  const AwsError error = get_error(provider);
  EXPECT_EQ(error.code(), ErrorCode::kCredentials);
  EXPECT_TRUE(contains(error.what(), "without AWS_ROLE_ARN")) << error.what();
  EXPECT_EQ(server_.state().sts_hits, 0);
}

TEST_F(CredentialsProvidersTest, ProfileWithWebIdentityTokenFileDelegatesToSts) {
  write_file(home_ / "profile-token", "jwt-from-profile\n");
  write_file(home_ / ".aws/config",
             "[profile irsa]\nrole_arn = arn:aws:iam::1:role/profile\n"
             "web_identity_token_file = ~/profile-token\n"
             "role_session_name = from-profile\n");
  Environment env = base_env();
  env["AWS_PROFILE"] = "irsa";
  env["AWS_ENDPOINT_URL"] = server_.url();
  ProfileCredentialsProvider provider(env, "eu-west-1", options());
  EXPECT_EQ(provider.get().access_key_id, "ASIASTS1");
  const ServerState seen = server_.state();
  ASSERT_EQ(seen.sts_hits, 1);
  EXPECT_EQ(seen.sts_tokens.at(0), "jwt-from-profile");
  EXPECT_EQ(seen.sts_role_arns.at(0), "arn:aws:iam::1:role/profile");
  EXPECT_EQ(seen.sts_session_names.at(0), "from-profile");
}

// ---- container ----

TEST_F(CredentialsProvidersTest, ContainerRelativeUriSendsTheAuthorizationToken) {
  server_.configure([](ServerState& s) { s.container_expected_authorization = "ecs-secret"; });
  Environment env = base_env();
  env["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"] = "/v2/credentials/task-guid";
  env["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = "ecs-secret";
  ContainerCredentialsProvider provider(env, options());
  const Credentials credentials = provider.get();
  EXPECT_EQ(credentials.access_key_id, "ASIACONTAINER1");
  EXPECT_EQ(credentials.secret_access_key, "container-secret-1");
  EXPECT_EQ(credentials.session_token, "container-token-1");
  EXPECT_EQ(credentials.expiration, clock_.now() + 1h);
  EXPECT_EQ(server_.state().container_paths.at(0), "/v2/credentials/task-guid");
}

TEST_F(CredentialsProvidersTest, ContainerFullUriRereadsTheTokenFileOnRefresh) {
  write_file(home_ / "pod-token", "pod-token-1");
  server_.configure([](ServerState& s) { s.container_expected_authorization = "pod-token-1"; });
  Environment env = base_env();
  env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = server_.url() + "/creds";
  env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] = (home_ / "pod-token").string();
  env["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = "ignored-when-the-file-is-set";
  ContainerCredentialsProvider provider(env, options());
  EXPECT_EQ(provider.get().access_key_id, "ASIACONTAINER1");

  write_file(home_ / "pod-token", "pod-token-2");
  server_.configure([](ServerState& s) { s.container_expected_authorization = "pod-token-2"; });
  clock_.advance(59min);
  EXPECT_EQ(provider.get().access_key_id, "ASIACONTAINER2");
  const ServerState seen = server_.state();
  EXPECT_EQ(seen.container_authorizations,
            (std::vector<std::string>{"pod-token-1", "pod-token-2"}));
}

TEST_F(CredentialsProvidersTest, ContainerRejectedTokenIsACredentialsError) {
  server_.configure([](ServerState& s) { s.container_expected_authorization = "right"; });
  Environment env = base_env();
  env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = server_.url() + "/creds";
  env["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = "wrong";
  ContainerCredentialsProvider provider(env, options());
  const AwsError error = get_error(provider);
  EXPECT_EQ(error.code(), ErrorCode::kCredentials);
  EXPECT_EQ(error.http_status(), 401);
}

TEST_F(CredentialsProvidersTest, ContainerFullUriWithAForbiddenHostIsRefused) {
  const std::string port = std::to_string(server_.port());
  for (const std::string& uri : std::vector<std::string>{
           "http://10.1.2.3:" + port + "/creds", "http://169.254.169.254/latest/creds",
           "http://127.0.0.1@10.1.2.3:" + port + "/creds", "ftp://127.0.0.1:" + port + "/creds",
           "http://localhost.attacker.example/creds"}) {
    Environment env = base_env();
    env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = uri;
    env["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = "must-not-leak";
    ContainerCredentialsProvider provider(env, options());
    const AwsError error = get_error(provider);
    EXPECT_EQ(error.code(), ErrorCode::kCredentials) << uri;
    EXPECT_TRUE(contains(error.what(), "AWS_CONTAINER_CREDENTIALS_FULL_URI")) << error.what();
  }
  EXPECT_EQ(server_.state().container_hits, 0);
}

// ---- IMDSv2 ----

Environment imds_env(const std::string& endpoint) {
  return {{"AWS_EC2_METADATA_SERVICE_ENDPOINT", endpoint}};
}

TEST_F(CredentialsProvidersTest, ImdsUsesASessionTokenForEveryRequest) {
  // The fake behaves like an instance requiring IMDSv2: no token, no answer.
  httplib::Client raw("127.0.0.1", server_.port());
  const auto unauthenticated = raw.Get("/latest/meta-data/iam/security-credentials/");
  ASSERT_TRUE(unauthenticated);
  ASSERT_EQ(unauthenticated->status, 401);

  ImdsCredentialsProvider provider(imds_env(server_.url()), options());
  const Credentials credentials = provider.get();
  EXPECT_EQ(credentials.access_key_id, "ASIAIMDS3");  // role listing was GET 2
  EXPECT_EQ(credentials.secret_access_key, "imds-secret");
  EXPECT_EQ(credentials.session_token, "imds-token");
  EXPECT_EQ(credentials.expiration, clock_.now() + 1h);
  const ServerState seen = server_.state();
  EXPECT_EQ(seen.imds_token_puts, 1);
  EXPECT_EQ(seen.imds_gets, 3);
  EXPECT_EQ(seen.imds_rejected, 1);  // only the raw request above
}

TEST_F(CredentialsProvidersTest, ImdsCachesAndRefreshesNearExpiry) {
  server_.configure([](ServerState& s) { s.lifetime = 2h; });
  ImdsCredentialsProvider provider(imds_env(server_.url() + "/"), options());
  const std::string first = provider.get().access_key_id;
  EXPECT_EQ(provider.get().access_key_id, first);
  EXPECT_EQ(server_.state().imds_token_puts, 1);
  clock_.advance(2h - 3min);
  EXPECT_NE(provider.get().access_key_id, first);
  EXPECT_EQ(server_.state().imds_token_puts, 2);
}

TEST_F(CredentialsProvidersTest, ImdsWithoutRoleIsACredentialsError) {
  server_.configure([](ServerState& s) { s.imds_role_attached = false; });
  ImdsCredentialsProvider provider(imds_env(server_.url()), options());
  const AwsError error = get_error(provider);
  EXPECT_EQ(error.code(), ErrorCode::kCredentials);
  EXPECT_TRUE(contains(error.what(), "no IAM role")) << error.what();
}

TEST_F(CredentialsProvidersTest, ImdsDisabledNeverContactsTheEndpoint) {
  Environment env = imds_env(server_.url());
  env["AWS_EC2_METADATA_DISABLED"] = "TRUE";
  ImdsCredentialsProvider provider(env, options());
  EXPECT_TRUE(contains(get_error(provider).what(), "AWS_EC2_METADATA_DISABLED"));
  EXPECT_EQ(server_.state().imds_token_puts, 0);
}

TEST_F(CredentialsProvidersTest, ImdsUnreachableIsACredentialsError) {
  ImdsCredentialsProvider provider(
      imds_env("http://127.0.0.1:" + std::to_string(closed_loopback_port())), options());
  const AwsError error = get_error(provider);
  EXPECT_EQ(error.code(), ErrorCode::kCredentials);
  EXPECT_TRUE(contains(error.what(), "instance metadata service")) << error.what();
}

// ---- default chain ----

class DefaultChainTest : public CredentialsProvidersTest {
 protected:
  // Every source configured; tests remove the ones that should not win.
  Environment everything() {
    Environment env = web_identity_env("jwt");
    env["AWS_ACCESS_KEY_ID"] = "AKIAENVIRONMENT";
    env["AWS_SECRET_ACCESS_KEY"] = "env-secret";
    write_file(home_ / ".aws/credentials",
               "[default]\naws_access_key_id = AKIAPROFILE\naws_secret_access_key = p\n");
    env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = server_.url() + "/creds";
    env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = server_.url();
    env.erase("AWS_EC2_METADATA_DISABLED");
    return env;
  }
  void remove_profile_files() { std::filesystem::remove_all(home_ / ".aws"); }

  // The chain's credentials' key id and the name it reports afterwards.
  std::pair<std::string, std::string> resolve(const Environment& env) {
    auto chain = make_default_credentials_chain(env, "eu-west-1", options());
    EXPECT_EQ(chain->name(), "default-chain");
    const std::string key = chain->get().access_key_id;
    return {key, chain->name()};
  }
};

TEST_F(DefaultChainTest, EnvironmentBeatsEverything) {
  EXPECT_EQ(resolve(everything()),
            std::make_pair(std::string("AKIAENVIRONMENT"), std::string("environment")));
  const ServerState seen = server_.state();
  EXPECT_EQ(seen.sts_hits + seen.container_hits + seen.imds_token_puts, 0);
}

TEST_F(DefaultChainTest, ProfileBeatsWebIdentity) {
  Environment env = everything();
  env.erase("AWS_ACCESS_KEY_ID");
  env.erase("AWS_SECRET_ACCESS_KEY");
  EXPECT_EQ(resolve(env), std::make_pair(std::string("AKIAPROFILE"), std::string("profile")));
  EXPECT_EQ(server_.state().sts_hits, 0);
}

TEST_F(DefaultChainTest, WebIdentityBeatsContainer) {
  Environment env = everything();
  env.erase("AWS_ACCESS_KEY_ID");
  env.erase("AWS_SECRET_ACCESS_KEY");
  remove_profile_files();
  EXPECT_EQ(resolve(env), std::make_pair(std::string("ASIASTS1"), std::string("web-identity")));
  EXPECT_EQ(server_.state().container_hits, 0);
}

TEST_F(DefaultChainTest, ContainerBeatsImds) {
  Environment env = everything();
  env.erase("AWS_ACCESS_KEY_ID");
  env.erase("AWS_SECRET_ACCESS_KEY");
  env.erase("AWS_ROLE_ARN");
  remove_profile_files();
  EXPECT_EQ(resolve(env), std::make_pair(std::string("ASIACONTAINER1"), std::string("container")));
  EXPECT_EQ(server_.state().imds_token_puts, 0);
}

TEST_F(DefaultChainTest, ImdsIsTheLastResort) {
  Environment env = base_env();
  env.erase("AWS_EC2_METADATA_DISABLED");
  env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = server_.url();
  const auto [key, name] = resolve(env);
  EXPECT_EQ(key.rfind("ASIAIMDS", 0), 0u) << key;
  EXPECT_EQ(name, "imds");
}

TEST_F(DefaultChainTest, RemembersTheProviderThatWorked) {
  server_.configure([](ServerState& s) { s.sts_fail_status = 403; });
  Environment env = everything();
  env.erase("AWS_ACCESS_KEY_ID");
  env.erase("AWS_SECRET_ACCESS_KEY");
  remove_profile_files();
  auto chain = make_default_credentials_chain(env, "eu-west-1", options());
  EXPECT_EQ(chain->get().access_key_id, "ASIACONTAINER1");  // web identity failed first
  EXPECT_EQ(chain->get().access_key_id, "ASIACONTAINER1");
  EXPECT_EQ(chain->name(), "container");
  const ServerState seen = server_.state();
  EXPECT_EQ(seen.sts_hits, 1);  // not asked again once the container answered
  EXPECT_EQ(seen.container_hits, 1);
}

TEST_F(DefaultChainTest, NothingConfiguredListsEveryProviderTried) {
  auto chain = make_default_credentials_chain(base_env(), "eu-west-1", options());
  const AwsError error = get_error(*chain);
  EXPECT_EQ(error.code(), ErrorCode::kCredentials);
  const std::string message = error.what();
  for (const char* part :
       {"environment: AWS_ACCESS_KEY_ID", "profile: ", "web-identity: AWS_ROLE_ARN",
        "container: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "imds: disabled"}) {
    EXPECT_TRUE(contains(message, part)) << "missing '" << part << "' in: " << message;
  }
  EXPECT_EQ(chain->name(), "default-chain");
}

}  // namespace
}  // namespace dancer::aws

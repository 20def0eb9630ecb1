// Credential sources that need no server: the environment, the shared profile files and
// the parsing helpers the providers share.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <string>

#include "aws/credentials.h"
#include "aws/credentials_internal.h"
#include "aws/credentials_providers.h"
#include "aws/error.h"
#include "common/time.h"
#include "support/test_support.h"

namespace dancer::aws {
namespace {

using namespace std::chrono_literals;
using credentials_detail::parse_iso8601;
using credentials_detail::parse_profile_file;
using credentials_detail::parse_url;

void write_file(const std::filesystem::path& path, const std::string& content) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << content;
}

// Runs get() and returns the AwsError it throws (fails the test when it does not throw).
AwsError get_error(CredentialsProvider& provider) {
  try {
    provider.get();
  } catch (const AwsError& e) {
    return e;
  }
  ADD_FAILURE() << provider.name() << " returned credentials";
  return AwsError(ErrorCode::kUnknown, "no error");
}

// ---- profile file parsing ----

TEST(ProfileFileParsing, ConfigSectionsNeedTheProfilePrefixExceptDefault) {
  const auto profiles = parse_profile_file(
      "[default]\nregion = eu-west-1\n"
      "[profile dev]\naws_access_key_id = AKIDDEV\n"
      "[staging]\naws_access_key_id = IGNORED\n"
      "[profile   spaced  ]\nregion = us-east-2\n",
      /*is_config_file=*/true);
  EXPECT_EQ(profiles.at("default").at("region"), "eu-west-1");
  EXPECT_EQ(profiles.at("dev").at("aws_access_key_id"), "AKIDDEV");
  EXPECT_EQ(profiles.count("staging"), 0u);  // the SDKs ignore it in the config file
  EXPECT_EQ(profiles.at("spaced").at("region"), "us-east-2");
}

TEST(ProfileFileParsing, CredentialsFileSectionsAreBareNames) {
  const auto profiles =
      parse_profile_file("[staging]\naws_access_key_id = AKIDSTAGE\n", /*is_config_file=*/false);
  EXPECT_EQ(profiles.at("staging").at("aws_access_key_id"), "AKIDSTAGE");
}

TEST(ProfileFileParsing, ToleratesCommentsWhitespaceCaseAndCrLf) {
  const auto profiles = parse_profile_file(
      "# leading comment\r\n"
      "; another comment\r\n"
      "\r\n"
      "  [ default ]   # trailing comment\r\n"
      "AWS_Access_Key_ID=AKIDMIXED\r\n"
      "\taws_secret_access_key   =   se#cret;value   ; inline comment\r\n"
      "aws_session_token = tok # comment\r\n",
      /*is_config_file=*/false);
  const auto& profile = profiles.at("default");
  EXPECT_EQ(profile.at("aws_access_key_id"), "AKIDMIXED");
  // '#' and ';' without whitespace before them are part of the value.
  EXPECT_EQ(profile.at("aws_secret_access_key"), "se#cret;value");
  EXPECT_EQ(profile.at("aws_session_token"), "tok");
}

TEST(ProfileFileParsing, IndentedLinesContinueSubPropertiesAndLaterValuesWin) {
  const auto profiles = parse_profile_file(
      "[profile dev]\n"
      "s3 =\n"
      "  addressing_style = path\n"
      "  aws_access_key_id = NOT_A_TOP_LEVEL_KEY\n"
      "aws_access_key_id = FIRST\n"
      "[profile dev]\n"
      "aws_access_key_id = SECOND\n"
      "no equals sign here\n",
      /*is_config_file=*/true);
  const auto& profile = profiles.at("dev");
  EXPECT_EQ(profile.at("aws_access_key_id"), "SECOND");
  EXPECT_EQ(profile.count("addressing_style"), 0u);
}

TEST(ProfileFileParsing, PropertiesOutsideValidSectionsAreIgnored) {
  const auto profiles = parse_profile_file(
      "aws_access_key_id = ORPHAN\n[unterminated\naws_access_key_id = LOST\n[default]\n",
      /*is_config_file=*/true);
  ASSERT_EQ(profiles.size(), 1u);
  EXPECT_TRUE(profiles.at("default").empty());
}

// ---- ProfileCredentialsProvider with static keys ----

class ProfileProviderTest : public ::testing::Test {
 protected:
  testing::TempDir home_;
  Environment env_{{"HOME", home_.path().string()}};
};

TEST_F(ProfileProviderTest, ReadsTheDefaultProfileFromTheCredentialsFileUnderHome) {
  write_file(home_ / ".aws/credentials",
             "[default]\naws_access_key_id = AKIDHOME\naws_secret_access_key = secret\n");
  ProfileCredentialsProvider provider(env_, "eu-west-1");
  const Credentials credentials = provider.get();
  EXPECT_EQ(credentials.access_key_id, "AKIDHOME");
  EXPECT_EQ(credentials.secret_access_key, "secret");
  EXPECT_TRUE(credentials.session_token.empty());
  EXPECT_FALSE(credentials.expiration.has_value());
}

TEST_F(ProfileProviderTest, AwsProfileSelectsAndCredentialsFileWinsOverConfigFile) {
  write_file(home_ / "creds", "[dev]\naws_access_key_id = FROM_CREDENTIALS\n");
  write_file(home_ / "conf",
             "[profile dev]\naws_access_key_id = FROM_CONFIG\naws_secret_access_key = s3cr3t\n"
             "aws_session_token = session\n[default]\naws_access_key_id = WRONG_PROFILE\n");
  env_["AWS_PROFILE"] = "dev";
  env_["AWS_SHARED_CREDENTIALS_FILE"] = (home_ / "creds").string();
  env_["AWS_CONFIG_FILE"] = (home_ / "conf").string();
  const Credentials credentials = ProfileCredentialsProvider(env_, "").get();
  EXPECT_EQ(credentials.access_key_id, "FROM_CREDENTIALS");
  EXPECT_EQ(credentials.secret_access_key, "s3cr3t");  // merged from the config file
  EXPECT_EQ(credentials.session_token, "session");
}

TEST_F(ProfileProviderTest, MissingProfileNamesTheProfileAndFiles) {
  write_file(home_ / ".aws/config", "[default]\nregion = eu-west-1\n");
  env_["AWS_PROFILE"] = "absent";
  ProfileCredentialsProvider provider(env_, "");
  const AwsError error = get_error(provider);
  EXPECT_EQ(error.code(), ErrorCode::kCredentials);
  EXPECT_NE(std::string(error.what()).find("'absent' not found"), std::string::npos);
  EXPECT_NE(std::string(error.what()).find(".aws/config"), std::string::npos);
}

TEST_F(ProfileProviderTest, NoFilesAtAllIsACredentialsError) {
  ProfileCredentialsProvider provider(env_, "");
  const AwsError error = get_error(provider);
  EXPECT_EQ(error.code(), ErrorCode::kCredentials);
  EXPECT_NE(std::string(error.what()).find("exists"), std::string::npos);
}

TEST_F(ProfileProviderTest, IncompleteKeysAndUnsupportedSourcesAreExplained) {
  write_file(home_ / ".aws/credentials",
             "[half]\naws_access_key_id = AKIDONLY\n[process]\ncredential_process = /bin/x\n");
  env_["AWS_PROFILE"] = "half";
  ProfileCredentialsProvider half(env_, "");
  EXPECT_NE(std::string(get_error(half).what()).find("only one of"), std::string::npos);
  env_["AWS_PROFILE"] = "process";
  ProfileCredentialsProvider process(env_, "");
  EXPECT_NE(std::string(get_error(process).what()).find("credential_process"), std::string::npos);
}

// ---- EnvironmentCredentialsProvider ----

TEST(EnvironmentProvider, ReadsKeysAndSessionToken) {
  EnvironmentCredentialsProvider provider({{"AWS_ACCESS_KEY_ID", "AKIDENV"},
                                           {"AWS_SECRET_ACCESS_KEY", "envsecret"},
                                           {"AWS_SESSION_TOKEN", "envtoken"}});
  const Credentials credentials = provider.get();
  EXPECT_EQ(credentials.access_key_id, "AKIDENV");
  EXPECT_EQ(credentials.secret_access_key, "envsecret");
  EXPECT_EQ(credentials.session_token, "envtoken");
}

TEST(EnvironmentProvider, EmptyOrHalfSetVariablesAreCredentialsErrors) {
  EnvironmentCredentialsProvider empty({{"AWS_ACCESS_KEY_ID", ""}, {"AWS_SECRET_ACCESS_KEY", ""}});
  EXPECT_EQ(get_error(empty).code(), ErrorCode::kCredentials);
  EnvironmentCredentialsProvider half(Environment{{"AWS_ACCESS_KEY_ID", "AKIDENV"}});
  const AwsError error = get_error(half);
  EXPECT_EQ(error.code(), ErrorCode::kCredentials);
  EXPECT_NE(std::string(error.what()).find("AWS_SECRET_ACCESS_KEY"), std::string::npos);
}

TEST(StaticProvider, ReturnsItsCredentials) {
  auto provider = make_static_provider({"AKIDSTATIC", "secret", "", std::nullopt});
  EXPECT_EQ(provider->get().access_key_id, "AKIDSTATIC");
  EXPECT_EQ(provider->name(), "static");
}

// ---- helpers ----

TEST(Iso8601, ParsesUtcFractionsAndOffsets) {
  using std::chrono::sys_days;
  const auto expected = sys_days(std::chrono::year(2024) / 5 / 1) + 12h + 34min + 56s;
  EXPECT_EQ(parse_iso8601("2024-05-01T12:34:56Z"), expected);
  EXPECT_EQ(parse_iso8601("2024-05-01T12:34:56.250Z"), expected + 250ms);
  EXPECT_EQ(parse_iso8601("2024-05-01T14:34:56+02:00"), expected);
  EXPECT_EQ(parse_iso8601("2024-05-01T10:34:56-02:00"), expected);
  EXPECT_EQ(common::format_iso8601(expected), "2024-05-01T12:34:56Z");
}

TEST(Iso8601, RejectsMalformedTimestamps) {
  for (const char* bad : {"", "2024-05-01", "2024-13-01T00:00:00Z", "2024-02-30T00:00:00Z",
                          "2024-05-01T12:34:56Zjunk", "tomorrow"}) {
    try {
      parse_iso8601(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const AwsError& e) {
      EXPECT_EQ(e.code(), ErrorCode::kCredentials);
    }
  }
}

TEST(UrlParsing, SplitsHostAndRejectsUserInfo) {
  auto parsed = parse_url("http://[fd00:ec2::23]:80/v1/credentials");
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->host, "fd00:ec2::23");
  EXPECT_EQ(parsed->path_and_query, "/v1/credentials");
  parsed = parse_url("HTTP://LocalHost:8080");
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->scheme, "http");
  EXPECT_EQ(parsed->host, "localhost");
  EXPECT_FALSE(parse_url("http://127.0.0.1@attacker.example/").has_value());
  EXPECT_FALSE(parse_url("http://127.0.0.1:80x/").has_value());
  EXPECT_FALSE(parse_url("127.0.0.1/creds").has_value());
  EXPECT_FALSE(parse_url("http://user:pw@169.254.170.2/").has_value());
  EXPECT_FALSE(parse_url("http://[::1/").has_value());
  parsed = parse_url("http://[::1]:8080/creds?role=a");
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->host, "::1");
  EXPECT_EQ(parsed->path_and_query, "/creds?role=a");
}

TEST(UrlParsing, LoopbackHosts) {
  EXPECT_TRUE(credentials_detail::is_loopback_host("127.0.0.1"));
  EXPECT_TRUE(credentials_detail::is_loopback_host("127.9.8.7"));
  EXPECT_TRUE(credentials_detail::is_loopback_host("::1"));
  EXPECT_TRUE(credentials_detail::is_loopback_host("localhost"));
  EXPECT_FALSE(credentials_detail::is_loopback_host("128.0.0.1"));
  EXPECT_FALSE(credentials_detail::is_loopback_host("169.254.169.254"));
  EXPECT_FALSE(credentials_detail::is_loopback_host("localhost.attacker.example"));
}

TEST(RedactedDescription, NeverContainsSecretOrToken) {
  Credentials credentials{"ASIAABCDEFGHIJKLMXYZ", "wJalrXUtnFEMIsecret", "FwoGZXIvYXdzEXAMPLE",
                          parse_iso8601("2030-01-02T03:04:05Z")};
  const std::string description = redacted_description(credentials);
  EXPECT_EQ(description.find(credentials.secret_access_key), std::string::npos);
  EXPECT_EQ(description.find(credentials.session_token), std::string::npos);
  EXPECT_EQ(description.find(credentials.access_key_id), std::string::npos);
  EXPECT_NE(description.find("ASIA"), std::string::npos);
  EXPECT_NE(description.find("XYZ"), std::string::npos);
  EXPECT_NE(description.find("session"), std::string::npos);
  EXPECT_NE(description.find("2030-01-02T03:04:05Z"), std::string::npos);
}

}  // namespace
}  // namespace dancer::aws

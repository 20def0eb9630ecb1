#include "common/url.h"

#include <gtest/gtest.h>

#include <string>

namespace dancer::common {
namespace {

TEST(ParseUrl, SplitsEveryPart) {
  const auto url = parse_url("HTTPS://user:pa%40ss@Example.COM:8443/a/b?x=1&y=2#frag");
  EXPECT_EQ(url.scheme, "https");
  EXPECT_EQ(url.user, "user");
  EXPECT_EQ(url.password, "pa@ss");  // percent-decoded
  EXPECT_EQ(url.host, "Example.COM");
  EXPECT_EQ(url.port, 8443);
  EXPECT_EQ(url.path, "/a/b");
  EXPECT_EQ(url.query, "x=1&y=2");
  EXPECT_EQ(url.fragment, "frag");
}

TEST(ParseUrl, AbsentPartsAreNullopt) {
  const auto url = parse_url("http://localhost");
  EXPECT_EQ(url.host, "localhost");
  EXPECT_EQ(url.path, "/");
  EXPECT_FALSE(url.user);
  EXPECT_FALSE(url.password);
  EXPECT_FALSE(url.port);
  EXPECT_FALSE(url.query);
  EXPECT_FALSE(url.fragment);
  EXPECT_FALSE(url.zone_id);
}

TEST(ParseUrl, Ipv6LiteralsKeepTheirBracketsAndSplitOffThePort) {
  auto url = parse_url("postgresql://[::1]:5432/jobs");
  EXPECT_EQ(url.scheme, "postgresql");  // schemes curl cannot fetch are accepted
  EXPECT_EQ(url.host, "[::1]");
  EXPECT_EQ(unbracketed_host(url.host), "::1");
  EXPECT_EQ(url.port, 5432);
  EXPECT_EQ(url.path, "/jobs");

  url = parse_url("http://[fd00:ec2::23]/v1/credentials");
  EXPECT_EQ(url.host, "[fd00:ec2::23]");
  EXPECT_FALSE(url.port);

  url = parse_url("http://[fe80::1%25eth0]:80/");
  EXPECT_EQ(url.host, "[fe80::1]");
  EXPECT_EQ(url.zone_id, "eth0");
  EXPECT_EQ(unbracketed_host("example.com"), "example.com");
}

TEST(ParseUrl, UserWithoutPasswordAndPercentEncodedPasswords) {
  auto url = parse_url("postgresql://dancer@[::1]:5432/jobs");
  EXPECT_EQ(url.user, "dancer");
  EXPECT_FALSE(url.password);
  url = parse_url("postgresql://dancer:s3cr%40t%3A%2F@db:5432/jobs");
  EXPECT_EQ(url.password, "s3cr@t:/");
  EXPECT_EQ(url.host, "db");
  // "user@host" as a whole userinfo: the host is what follows '@', never the user.
  url = parse_url("http://127.0.0.1@attacker.example/");
  EXPECT_EQ(url.user, "127.0.0.1");
  EXPECT_EQ(url.host, "attacker.example");
}

TEST(ParseUrl, PathIsKeptAsWritten) {
  EXPECT_EQ(parse_url("http://h/a/../b//c/").path, "/a/../b//c/");
  EXPECT_EQ(parse_url("http://h/x%20y").path, "/x%20y");
}

TEST(ParseUrl, RejectsWhatCurlRejects) {
  for (const char* bad :
       {"", "127.0.0.1/creds", "http://", "http://h:80x/", "http://h:99999/", "http://[::1",
        "http://::1:80/", "http://a b/", "http://h/a b", "postgresql://", "://host"}) {
    try {
      parse_url(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const UrlError& e) {
      EXPECT_NE(e.curl_code(), 0) << bad;
      EXPECT_FALSE(std::string(e.what()).empty()) << bad;
    }
  }
}

TEST(ParseUrl, ErrorMessagesDoNotRepeatTheUrl) {
  try {
    parse_url("postgres://admin:hunter2@h:99x/db");
    FAIL() << "accepted a bad port";
  } catch (const UrlError& e) {
    EXPECT_EQ(std::string(e.what()).find("hunter2"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace dancer::common

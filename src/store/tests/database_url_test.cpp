#include "store/database_url.h"

#include <gtest/gtest.h>

#include "store/job_store.h"

namespace dancer::store {
namespace {

StoreErrorCode parse_error(const std::string& url, std::string* message = nullptr) {
  try {
    parse_database_url(url);
  } catch (const StoreError& e) {
    if (message != nullptr) *message = e.what();
    return e.code();
  }
  ADD_FAILURE() << "accepted " << url;
  return StoreErrorCode::kOther;
}

TEST(DatabaseUrl, SqliteRelativePath) {
  const auto url = parse_database_url("sqlite:///data/jobs.db");
  EXPECT_EQ(url.kind, DatabaseUrl::Kind::kSqlite);
  EXPECT_EQ(url.target, "data/jobs.db");
}

TEST(DatabaseUrl, SqliteAbsolutePathHasFourSlashes) {
  const auto url = parse_database_url("sqlite:////var/lib/dancer/jobs.db");
  EXPECT_EQ(url.kind, DatabaseUrl::Kind::kSqlite);
  EXPECT_EQ(url.target, "/var/lib/dancer/jobs.db");
}

TEST(DatabaseUrl, SqliteInMemory) {
  EXPECT_EQ(parse_database_url("sqlite:///:memory:").target, ":memory:");
}

TEST(DatabaseUrl, PostgresUrlsArePassedToLibpqUnchanged) {
  for (const std::string text :
       {"postgresql://u:pw@db.internal:5432/jobs?sslmode=require", "postgres://u@127.0.0.1/jobs"}) {
    const auto url = parse_database_url(text);
    EXPECT_EQ(url.kind, DatabaseUrl::Kind::kPostgres) << text;
    EXPECT_EQ(url.target, text);
  }
}

TEST(DatabaseUrl, PostgresIpv6HostsEncodedPasswordsAndLibpqForms) {
  for (const std::string text :
       {"postgresql://dancer:pw@[::1]:5432/jobs", "postgresql://[::1]:5432/jobs",
        "postgresql://dancer@[fd00::5]/jobs", "postgresql://dancer:s3cr%40t%2F@db:5432/jobs",
        "postgresql://dancer@db/jobs",
        // libpq forms a generic URL parser gets wrong: multi-host lists, a socket directory.
        "postgresql://h1:5432,h2:5433/jobs?target_session_attrs=read-write",
        "postgresql:///jobs?host=/var/run/postgresql"}) {
    const auto url = parse_database_url(text);
    EXPECT_EQ(url.kind, DatabaseUrl::Kind::kPostgres) << text;
    EXPECT_EQ(url.target, text);
  }
}

TEST(DatabaseUrl, PostgresUriErrorsAreCaughtBeforeConnectingWithoutThePassword) {
  for (const std::string text :
       {"postgresql://u:hunter2@[::1/jobs", "postgresql://u:hunter2%zz@db/jobs",
        "postgresql://u:hunter2@db:54x/jobs", "postgresql://u:hunter2@db:99999/jobs",
        "postgresql://u:hunter2@h1:5432,h2:x/jobs", "postgresql://u:hunter2@db/jobs?bogus=1"}) {
    std::string message;
    EXPECT_EQ(parse_error(text, &message), StoreErrorCode::kInvalidUrl) << text;
    EXPECT_EQ(message.find("hunter2"), std::string::npos) << message;
    EXPECT_NE(message.find("***"), std::string::npos) << message;
  }
}

TEST(DatabaseUrl, RejectsUnsupportedOrMalformedUrls) {
  for (const std::string text :
       {"", "jobs.db", "mysql://u:pw@h/db", "sqlite://jobs.db", "sqlite:///", "sqlite:jobs.db",
        "postgresql://", "sqlite:///jobs.db?mode=ro", "http://example.invalid/"}) {
    EXPECT_EQ(parse_error(text), StoreErrorCode::kInvalidUrl) << text;
  }
}

TEST(DatabaseUrl, ErrorMessagesNeverContainThePassword) {
  for (const std::string text : {"mysql://admin:hunter2@h/db", "sqlite://admin:hunter2@h/db"}) {
    std::string message;
    parse_error(text, &message);
    EXPECT_EQ(message.find("hunter2"), std::string::npos) << message;
    EXPECT_FALSE(message.empty());
  }
}

TEST(DatabaseUrl, OpenJobStoreRejectsUnsupportedSchemes) {
  try {
    open_job_store("mongodb://h/db");
    FAIL() << "accepted mongodb";
  } catch (const StoreError& e) {
    EXPECT_EQ(e.code(), StoreErrorCode::kInvalidUrl);
    EXPECT_FALSE(e.transient());
  }
}

TEST(RedactDatabaseUrl, HidesUserinfoPassword) {
  EXPECT_EQ(redact_database_url("postgresql://dancer:s3cr%40t@db:5432/jobs"),
            "postgresql://dancer:***@db:5432/jobs");
  EXPECT_EQ(redact_database_url("postgres://u:p@ss@h/db"), "postgres://u:***@h/db");
}

TEST(RedactDatabaseUrl, Ipv6HostsAndUsersWithoutPasswords) {
  EXPECT_EQ(redact_database_url("postgresql://dancer:s3cr%3At@[::1]:5432/jobs"),
            "postgresql://dancer:***@[::1]:5432/jobs");
  EXPECT_EQ(redact_database_url("postgresql://dancer@[::1]:5432/jobs"),
            "postgresql://dancer@[::1]:5432/jobs");
  EXPECT_EQ(redact_database_url("postgresql://[::1]:5432/jobs"), "postgresql://[::1]:5432/jobs");
}

TEST(RedactDatabaseUrl, HidesPasswordQueryParameter) {
  EXPECT_EQ(redact_database_url("postgresql://db/jobs?sslmode=require&password=hunter2&x=1"),
            "postgresql://db/jobs?sslmode=require&password=***&x=1");
  EXPECT_EQ(redact_database_url("postgresql://db/jobs?password=hunter2"),
            "postgresql://db/jobs?password=***");
}

TEST(RedactDatabaseUrl, LeavesUrlsWithoutPasswordsAlone) {
  for (const std::string text : {"postgresql://dancer@db:5432/jobs", "sqlite:////var/lib/jobs.db",
                                 "sqlite:///:memory:", "postgresql://db/jobs?user=a:b"}) {
    EXPECT_EQ(redact_database_url(text), text);
  }
}

TEST(JobStatusNames, MatchTheSchemaCheckConstraint) {
  EXPECT_EQ(to_string(JobStatus::kProcessing), "processing");
  EXPECT_EQ(to_string(JobStatus::kCompleted), "completed");
  EXPECT_EQ(to_string(JobStatus::kFailed), "failed");
}

}  // namespace
}  // namespace dancer::store

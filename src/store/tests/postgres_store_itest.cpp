// The JobStore contract against PostgreSQL, plus server faults. Needs the throw-away server
// from scripts/lib/postgres.sh: DANCER_TEST_POSTGRES_URL and DANCER_TEST_POSTGRES_RESTART.
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <chrono>
#include <mutex>
#include <string_view>
#include <thread>
#include <vector>

#include "store/job_store.h"
#include "support/job_store_contract.h"
#include "support/test_support.h"

namespace dancer::testing {

INSTANTIATE_TEST_SUITE_P(PostgreSQL, JobStoreContract, ::testing::Values(postgres_backend()),
                         backend_name);

namespace {

using std::chrono::seconds;
using store::ClaimOutcome;
using store::StoreError;
using store::StoreErrorCode;

store::ObjectVersion object(const std::string& key) { return {"uploads", key, "e", "", 1}; }

// The service's contract for a dropped connection: the call either succeeds after a
// transparent reconnect or throws a transient error, and trying again then succeeds.
template <typename Action>
auto succeeds_within_one_retry(Action&& action, int& transient_errors) {
  try {
    return action();
  } catch (const StoreError& e) {
    EXPECT_TRUE(e.transient()) << e.what();
    ++transient_errors;
  }
  return action();
}

class PostgresFaults : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = integration_env("DANCER_TEST_POSTGRES_URL");
    if (!server) return;
    auto restart = integration_env("DANCER_TEST_POSTGRES_RESTART");
    if (!restart) return;
    restart_command_ = *restart;
    // Restarting the server would break PostgreSQL tests running in parallel processes.
    database_ = make_postgres_test_database(*server, /*exclusive_server=*/true);
  }

  std::string restart_command_;
  std::unique_ptr<TestDatabase> database_;
};

TEST_F(PostgresFaults, ServerRestartInTheMiddleIsSurvived) {
  if (!database_) return;
  store::StoreOptions options;
  options.pool_size = 3;
  auto store = store::open_job_store(database_->url(), options);
  // Open every pooled connection before the restart, so all of them go stale.
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 3; ++i) {
    ids.push_back(
        store->claim_job(object("before-" + std::to_string(i)), "w", seconds(600)).job.id);
  }

  ASSERT_EQ(run_command(restart_command_).exit_code, 0) << restart_command_;

  int transient_errors = 0;
  for (int i = 0; i < 3; ++i) {
    const auto claim = succeeds_within_one_retry(
        [&] { return store->claim_job(object("after-" + std::to_string(i)), "w", seconds(600)); },
        transient_errors);
    EXPECT_EQ(claim.outcome, ClaimOutcome::kClaimed);
  }
  // Leases written before the restart are still held: the holder can finish its jobs.
  for (const auto id : ids) {
    succeeds_within_one_retry(
        [&] {
          store->complete_job(id, "w", "{}", R"({"ok": true})", "");
          return 0;
        },
        transient_errors);
    EXPECT_EQ(store->find_job(id)->status, store::JobStatus::kCompleted);
  }
  EXPECT_TRUE(store->ping());
  RecordProperty("transient_errors_after_restart", transient_errors);
}

TEST_F(PostgresFaults, UnreachableServerIsUnavailable) {
  if (!database_) return;
  // Port 1 on loopback: nothing listens there, so the connection is refused at once.
  try {
    store::open_job_store("postgresql://postgres:secret-pw@127.0.0.1:1/postgres");
    FAIL() << "connected to a closed port";
  } catch (const StoreError& e) {
    EXPECT_EQ(e.code(), StoreErrorCode::kUnavailable) << e.what();
    EXPECT_TRUE(e.transient());
    EXPECT_EQ(std::string(e.what()).find("secret-pw"), std::string::npos) << e.what();
  }
}

TEST_F(PostgresFaults, StoresJsonAsQueryableJsonb) {
  if (!database_) return;
  auto store = store::open_job_store(database_->url());
  const auto job = store->claim_job(object("a.mp4"), "w", seconds(60)).job;
  store->complete_job(job.id, "w", R"({"format": {"duration": "2.5"}})", R"({"steps": 17})", "");
  // What the web backend does: query into the JSON on the server side.
  EXPECT_EQ(database_->query_integer(
                "SELECT (results_json->>'steps')::int FROM processing_jobs WHERE id = " +
                std::to_string(job.id)),
            17);
}

// Tests on a database of their own that leave the server alone (run in parallel).
class PostgresStore : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = integration_env("DANCER_TEST_POSTGRES_URL");
    if (!server) return;
    database_ = make_postgres_test_database(*server);
  }
  std::unique_ptr<TestDatabase> database_;
};

// A second session, as the web backend would hold one.
class BackendSession {
 public:
  explicit BackendSession(const std::string& url) : connection_(PQconnectdb(url.c_str())) {
    EXPECT_EQ(PQstatus(connection_), CONNECTION_OK) << PQerrorMessage(connection_);
  }
  ~BackendSession() { PQfinish(connection_); }
  BackendSession(const BackendSession&) = delete;
  BackendSession& operator=(const BackendSession&) = delete;
  bool run(const std::string& sql) {
    PGresult* result = PQexec(connection_, sql.c_str());
    const auto status = PQresultStatus(result);
    PQclear(result);
    return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
  }

 private:
  PGconn* connection_;
};

TEST_F(PostgresStore, NoticesGoToTheSinkNotToStderr) {
  if (!database_) return;
  std::mutex mutex;
  std::vector<std::string> notices;
  store::StoreOptions options;
  options.notice_sink = [&](std::string_view message) {
    std::lock_guard lock(mutex);
    notices.emplace_back(message);
  };
  auto store = store::open_job_store(database_->url(), options);
  // What a trigger the web backend installs might do.
  database_->execute(
      "CREATE FUNCTION backend_audit() RETURNS trigger LANGUAGE plpgsql AS "
      "$$ BEGIN RAISE NOTICE 'hello from the backend: %', NEW.object_key; RETURN NEW; END $$");
  database_->execute(
      "CREATE TRIGGER backend_audit BEFORE INSERT ON processing_jobs "
      "FOR EACH ROW EXECUTE FUNCTION backend_audit()");

  ::testing::internal::CaptureStderr();
  const auto claim = store->claim_job(object("a.mp4"), "w", seconds(60));
  const std::string stderr_text = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(claim.outcome, ClaimOutcome::kClaimed);
  EXPECT_EQ(stderr_text, "");
  std::lock_guard lock(mutex);
  ASSERT_EQ(notices.size(), 1u);
  EXPECT_EQ(notices[0], "NOTICE:  hello from the backend: a.mp4");
}

TEST_F(PostgresStore, WithoutASinkNoticesAreDropped) {
  if (!database_) return;
  auto store = store::open_job_store(database_->url());
  database_->execute(
      "CREATE FUNCTION backend_audit() RETURNS trigger LANGUAGE plpgsql AS "
      "$$ BEGIN RAISE NOTICE 'hello from the backend'; RETURN NEW; END $$");
  database_->execute(
      "CREATE TRIGGER backend_audit BEFORE INSERT ON processing_jobs "
      "FOR EACH ROW EXECUTE FUNCTION backend_audit()");
  ::testing::internal::CaptureStderr();
  const auto claim = store->claim_job(object("a.mp4"), "w", seconds(60));
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  EXPECT_EQ(claim.outcome, ClaimOutcome::kClaimed);
}

TEST_F(PostgresStore, ARowLockHeldBeyondTheBusyTimeoutIsATransientBusyError) {
  if (!database_) return;
  store::StoreOptions options;
  options.busy_timeout = std::chrono::milliseconds(200);
  auto store = store::open_job_store(database_->url(), options);
  const auto job = store->claim_job(object("a.mp4"), "w", seconds(60)).job;
  {
    BackendSession backend(database_->url());
    ASSERT_TRUE(backend.run("BEGIN"));
    ASSERT_TRUE(backend.run("SELECT id FROM processing_jobs WHERE id = " + std::to_string(job.id) +
                            " FOR UPDATE"));
    try {
      store->complete_job(job.id, "w", "{}", "{}", "");
      FAIL() << "updated a row another session holds locked";
    } catch (const StoreError& e) {
      EXPECT_EQ(e.code(), StoreErrorCode::kBusy) << e.what();
      EXPECT_TRUE(e.transient());
    }
    ASSERT_TRUE(backend.run("ROLLBACK"));
  }
  store->complete_job(job.id, "w", "{}", "{}", "");
  EXPECT_EQ(store->find_job(job.id)->status, store::JobStatus::kCompleted);
}

TEST_F(PostgresStore, ARowLockReleasedWithinTheBusyTimeoutIsWaitedOut) {
  if (!database_) return;
  store::StoreOptions options;
  options.busy_timeout = std::chrono::milliseconds(5000);
  auto store = store::open_job_store(database_->url(), options);
  const auto job = store->claim_job(object("a.mp4"), "w", seconds(60)).job;
  BackendSession backend(database_->url());
  ASSERT_TRUE(backend.run("BEGIN"));
  ASSERT_TRUE(backend.run("SELECT id FROM processing_jobs WHERE id = " + std::to_string(job.id) +
                          " FOR UPDATE"));
  std::thread releaser([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    EXPECT_TRUE(backend.run("COMMIT"));
  });
  store->complete_job(job.id, "w", "{}", "{}", "");
  releaser.join();
  EXPECT_EQ(store->find_job(job.id)->status, store::JobStatus::kCompleted);
}

}  // namespace
}  // namespace dancer::testing

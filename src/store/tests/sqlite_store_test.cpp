// SQLite-specific behaviour: locking, WAL, paths. The shared contract is in
// job_store_contract_test.cpp.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <thread>
#include <vector>

#include "store/job_store.h"
#include "store/migrations.h"
#include "support/test_support.h"

namespace dancer::store {
namespace {

using std::chrono::seconds;
using testing::TempDir;

ObjectVersion object(const std::string& key) { return {"uploads", key, "etag", "", 10}; }

// A second, independent connection (as another process would have).
class RawConnection {
 public:
  explicit RawConnection(const std::filesystem::path& path) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) ADD_FAILURE() << "cannot open " << path;
  }
  ~RawConnection() { sqlite3_close(db_); }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;
  int exec(const char* sql) { return sqlite3_exec(db_, sql, nullptr, nullptr, nullptr); }
  std::string text(const char* sql) {
    sqlite3_stmt* statement = nullptr;
    sqlite3_prepare_v2(db_, sql, -1, &statement, nullptr);
    std::string value;
    if (sqlite3_step(statement) == SQLITE_ROW) {
      value = reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
    }
    sqlite3_finalize(statement);
    return value;
  }

 private:
  sqlite3* db_ = nullptr;
};

TEST(SqliteStore, ALockHeldLongerThanBusyTimeoutIsReportedAsBusy) {
  TempDir dir;
  StoreOptions options;
  options.busy_timeout = std::chrono::milliseconds(100);
  auto store = open_job_store("sqlite:///" + (dir / "jobs.db").string(), options);

  RawConnection other(dir / "jobs.db");
  ASSERT_EQ(other.exec("BEGIN EXCLUSIVE"), SQLITE_OK);
  try {
    store->claim_job(object("a.mp4"), "worker-1", seconds(60));
    FAIL() << "claim succeeded while another connection held the write lock";
  } catch (const StoreError& e) {
    EXPECT_EQ(e.code(), StoreErrorCode::kBusy) << e.what();
    EXPECT_TRUE(e.transient());
  }
  ASSERT_EQ(other.exec("COMMIT"), SQLITE_OK);
  // Nothing half-done was left behind: the retry claims normally.
  EXPECT_EQ(store->claim_job(object("a.mp4"), "worker-1", seconds(60)).outcome,
            ClaimOutcome::kClaimed);
}

TEST(SqliteStore, AShortLockIsWaitedOut) {
  TempDir dir;
  StoreOptions options;
  options.busy_timeout = std::chrono::milliseconds(30000);
  auto store = open_job_store("sqlite:///" + (dir / "jobs.db").string(), options);

  std::promise<void> locked;
  std::promise<void> claim_started;
  std::thread holder([&] {
    RawConnection other(dir / "jobs.db");
    ASSERT_EQ(other.exec("BEGIN EXCLUSIVE"), SQLITE_OK);
    locked.set_value();
    claim_started.get_future().wait();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    other.exec("COMMIT");
  });
  locked.get_future().wait();
  claim_started.set_value();
  const auto claim = store->claim_job(object("a.mp4"), "worker-1", seconds(60));
  holder.join();
  EXPECT_EQ(claim.outcome, ClaimOutcome::kClaimed);
}

// Another program (the web backend) holding SQLite's write lock: BEGIN IMMEDIATE on its own
// connection until release() (or the end of `hold`).
class LockHolder {
 public:
  explicit LockHolder(const std::filesystem::path& path) : path_(path) {
    std::promise<void> locked;
    auto locked_future = locked.get_future();
    thread_ = std::thread([this, locked = std::move(locked)]() mutable {
      RawConnection other(path_);
      locked_ok_ = other.exec("BEGIN IMMEDIATE") == SQLITE_OK;
      locked.set_value();
      release_.get_future().wait();
      commit_ok_ = other.exec("COMMIT") == SQLITE_OK;
    });
    locked_future.wait();
  }
  ~LockHolder() { release(); }
  LockHolder(const LockHolder&) = delete;
  LockHolder& operator=(const LockHolder&) = delete;

  bool locked() const { return locked_ok_; }
  void release() {
    if (!thread_.joinable()) return;
    release_.set_value();
    thread_.join();
    EXPECT_TRUE(commit_ok_);
  }
  // Releases from another thread after `delay`, while the caller blocks in a store call.
  std::thread release_after(std::chrono::milliseconds delay) {
    return std::thread([this, delay] {
      std::this_thread::sleep_for(delay);
      release();
    });
  }

 private:
  std::filesystem::path path_;
  std::promise<void> release_;
  std::thread thread_;
  bool locked_ok_ = false;
  bool commit_ok_ = false;
};

TEST(SqliteStore, AFinalWriteWaitsForTheBackendsWriteTransaction) {
  TempDir dir;
  StoreOptions options;
  options.busy_timeout = std::chrono::milliseconds(5000);
  auto store = open_job_store("sqlite:///" + (dir / "jobs.db").string(), options);
  const auto job = store->claim_job(object("a.mp4"), "worker-1", seconds(60)).job;

  LockHolder backend(dir / "jobs.db");
  ASSERT_TRUE(backend.locked());
  std::thread releaser = backend.release_after(std::chrono::milliseconds(1500));
  store->complete_job(job.id, "worker-1", "{}", R"({"steps": 4})", "s3://r/a");
  releaser.join();
  EXPECT_EQ(store->find_job(job.id)->status, JobStatus::kCompleted);
}

TEST(SqliteStore, AFinalWriteBeyondTheBusyTimeoutIsATransientBusyError) {
  TempDir dir;
  StoreOptions options;
  options.busy_timeout = std::chrono::milliseconds(200);
  auto store = open_job_store("sqlite:///" + (dir / "jobs.db").string(), options);
  const auto job = store->claim_job(object("a.mp4"), "worker-1", seconds(60)).job;
  {
    LockHolder backend(dir / "jobs.db");
    ASSERT_TRUE(backend.locked());
    for (const auto& write : std::vector<std::function<void()>>{
             [&] { store->complete_job(job.id, "worker-1", "{}", "{}", ""); },
             [&] { store->fail_job(job.id, "worker-1", "x"); },
             [&] { store->record_retry(job.id, "worker-1", "x"); },
             [&] { store->renew_lease(job.id, "worker-1", seconds(60)); },
             [&] { store->save_metadata(job.id, "worker-1", "{}"); },
             [&] { store->claim_job(object("b.mp4"), "worker-1", seconds(60)); }}) {
      try {
        write();
        ADD_FAILURE() << "a write succeeded while the backend held the write lock";
      } catch (const StoreError& e) {
        EXPECT_EQ(e.code(), StoreErrorCode::kBusy) << e.what();
        EXPECT_TRUE(e.transient());
      }
    }
    // Reads are not blocked by a writer in WAL mode.
    EXPECT_EQ(store->find_job(job.id)->status, JobStatus::kProcessing);
  }
  store->complete_job(job.id, "worker-1", "{}", "{}", "");
  EXPECT_EQ(store->find_job(job.id)->status, JobStatus::kCompleted);
}

TEST(SqliteStore, AnUpToDateDatabaseOpensWhileTheBackendHoldsTheWriteLock) {
  TempDir dir;
  const std::string url = "sqlite:///" + (dir / "jobs.db").string();
  open_job_store(url).reset();  // migrated
  LockHolder backend(dir / "jobs.db");
  ASSERT_TRUE(backend.locked());
  StoreOptions options;
  options.busy_timeout = std::chrono::milliseconds(100);
  auto store = open_job_store(url, options);
  EXPECT_EQ(store->schema_version(), latest_schema_version());
  EXPECT_TRUE(store->list_jobs(10).empty());
}

// A database file the backend created (WAL mode, no tables yet) and holds locked: migrating
// needs the write lock.
std::filesystem::path locked_fresh_database(const TempDir& dir) {
  const auto path = dir / "jobs.db";
  RawConnection creator(path);
  EXPECT_EQ(creator.text("PRAGMA journal_mode = WAL"), "wal");
  return path;
}

TEST(SqliteStore, OpeningWhileMigrationsAreLockedOutIsATransientBusyError) {
  TempDir dir;
  const auto path = locked_fresh_database(dir);
  LockHolder backend(path);
  ASSERT_TRUE(backend.locked());
  StoreOptions options;
  options.busy_timeout = std::chrono::milliseconds(200);
  try {
    open_job_store("sqlite:///" + path.string(), options);
    FAIL() << "migrated while another connection held the write lock";
  } catch (const StoreError& e) {
    EXPECT_EQ(e.code(), StoreErrorCode::kBusy) << e.what();
    EXPECT_TRUE(e.transient());
  }
}

// SQLite fails the switch to WAL at once while another connection holds the write lock
// (no busy handler call); the store waits for it like for any other lock.
TEST(SqliteStore, SwitchingALockedRollbackJournalDatabaseToWalWaitsForTheLock) {
  TempDir dir;
  const auto path = dir / "jobs.db";
  ASSERT_EQ(RawConnection(path).exec("CREATE TABLE backend_table (x)"), SQLITE_OK);  // DELETE mode
  LockHolder backend(path);
  ASSERT_TRUE(backend.locked());
  StoreOptions options;
  options.busy_timeout = std::chrono::milliseconds(5000);
  std::thread releaser = backend.release_after(std::chrono::milliseconds(500));
  auto store = open_job_store("sqlite:///" + path.string(), options);
  releaser.join();
  EXPECT_EQ(store->schema_version(), latest_schema_version());
  EXPECT_EQ(RawConnection(path).text("PRAGMA journal_mode"), "wal");
}

TEST(SqliteStore, SwitchingALockedRollbackJournalDatabaseToWalIsATransientBusyError) {
  TempDir dir;
  const auto path = dir / "jobs.db";
  ASSERT_EQ(RawConnection(path).exec("CREATE TABLE backend_table (x)"), SQLITE_OK);  // DELETE mode
  LockHolder backend(path);
  ASSERT_TRUE(backend.locked());
  StoreOptions options;
  options.busy_timeout = std::chrono::milliseconds(200);
  try {
    open_job_store("sqlite:///" + path.string(), options);
    FAIL() << "opened while another connection held the write lock";
  } catch (const StoreError& e) {
    EXPECT_EQ(e.code(), StoreErrorCode::kBusy) << e.what();
  }
  backend.release();
  auto store = open_job_store("sqlite:///" + path.string(), options);
  EXPECT_EQ(RawConnection(path).text("PRAGMA journal_mode"), "wal");
}

TEST(SqliteStore, OpenWaitingReturnsOnceTheLockIsReleased) {
  TempDir dir;
  const auto path = locked_fresh_database(dir);
  LockHolder backend(path);
  ASSERT_TRUE(backend.locked());
  int retries = 0;
  OpenBackoff backoff;
  backoff.initial = std::chrono::milliseconds(10);
  backoff.attempt_busy_timeout = std::chrono::milliseconds(100);
  auto store = open_job_store_waiting(
      "sqlite:///" + path.string(), {}, nullptr,
      [&](const StoreError& e) {
        EXPECT_EQ(e.code(), StoreErrorCode::kBusy) << e.what();
        if (++retries == 2) backend.release();
      },
      backoff);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(retries, 2);
  EXPECT_EQ(store->schema_version(), latest_schema_version());
  EXPECT_EQ(store->claim_job(object("a.mp4"), "w", seconds(60)).outcome, ClaimOutcome::kClaimed);
}

TEST(SqliteStore, OpenWaitingStopsWhenCancelled) {
  TempDir dir;
  const auto path = locked_fresh_database(dir);
  LockHolder backend(path);
  ASSERT_TRUE(backend.locked());
  std::atomic<bool> cancel{false};
  int retries = 0;
  OpenBackoff backoff;
  backoff.attempt_busy_timeout = std::chrono::milliseconds(100);
  backoff.initial = std::chrono::milliseconds(60000);  // cancel must cut the wait short
  auto store = open_job_store_waiting(
      "sqlite:///" + path.string(), {}, &cancel,
      [&](const StoreError&) {
        ++retries;
        cancel = true;
      },
      backoff);
  EXPECT_EQ(store, nullptr);
  EXPECT_EQ(retries, 1);
}

TEST(SqliteStore, OpenWaitingDoesNotRetryANewerSchema) {
  TempDir dir;
  const std::string url = "sqlite:///" + (dir / "jobs.db").string();
  open_job_store(url).reset();
  RawConnection(dir / "jobs.db")
      .exec("INSERT INTO schema_migrations (version, description) VALUES (9999, 'future')");
  int retries = 0;
  try {
    auto store = open_job_store_waiting(url, {}, nullptr, [&](const StoreError&) { ++retries; });
    FAIL() << "opened a database from a newer build";
  } catch (const StoreError& e) {
    EXPECT_EQ(e.code(), StoreErrorCode::kSchema) << e.what();
  }
  EXPECT_EQ(retries, 0);
}

TEST(SqliteStore, UsesWriteAheadLogging) {
  TempDir dir;
  auto store = open_job_store("sqlite:///" + (dir / "jobs.db").string());
  RawConnection other(dir / "jobs.db");
  EXPECT_EQ(other.text("PRAGMA journal_mode"), "wal");
}

TEST(SqliteStore, CompletedJobIsVisibleToAnotherConnectionOnReturn) {
  TempDir dir;
  auto store = open_job_store("sqlite:///" + (dir / "jobs.db").string());
  const auto job = store->claim_job(object("a.mp4"), "worker-1", seconds(60)).job;
  store->complete_job(job.id, "worker-1", "{}", R"({"steps":1})", "");
  RawConnection other(dir / "jobs.db");
  EXPECT_EQ(other.text("SELECT status FROM processing_jobs"), "completed");
}

TEST(SqliteStore, RelativePathIsRelativeToTheWorkingDirectory) {
  TempDir dir;
  const auto previous = std::filesystem::current_path();
  std::filesystem::current_path(dir.path());
  try {
    auto store = open_job_store("sqlite:///relative-jobs.db");
    store->claim_job(object("a.mp4"), "worker-1", seconds(60));
  } catch (...) {
    std::filesystem::current_path(previous);
    throw;
  }
  std::filesystem::current_path(previous);
  EXPECT_TRUE(std::filesystem::exists(dir / "relative-jobs.db"));
}

TEST(SqliteStore, InMemoryDatabaseIsSharedByAllThreadsOfTheStore) {
  StoreOptions options;
  options.pool_size = 4;
  auto store = open_job_store("sqlite:///:memory:", options);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back(
        [&, t] { store->claim_job(object("m-" + std::to_string(t)), "w", seconds(60)); });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(store->list_jobs(10).size(), 4u);
  EXPECT_EQ(store->claim_job(object("m-0"), "w2", seconds(60)).outcome,
            ClaimOutcome::kInProgressElsewhere);
}

TEST(SqliteStore, UnopenablePathIsUnavailable) {
  TempDir dir;
  try {
    open_job_store("sqlite:///" + (dir / "missing-dir" / "jobs.db").string());
    FAIL() << "opened a database in a directory that does not exist";
  } catch (const StoreError& e) {
    EXPECT_EQ(e.code(), StoreErrorCode::kUnavailable) << e.what();
  }
}

TEST(SqliteStore, PingIsTrueForAnOpenDatabase) {
  auto store = open_job_store("sqlite:///:memory:");
  EXPECT_TRUE(store->ping());
}

}  // namespace
}  // namespace dancer::store

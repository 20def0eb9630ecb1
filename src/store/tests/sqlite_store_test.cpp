// SQLite-specific behaviour: locking, WAL, paths. The shared contract is in
// job_store_contract_test.cpp.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <thread>

#include "store/job_store.h"
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

#include "store/sqlite_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/uuid.h"
#include "store/connection_pool.h"
#include "store/migrations.h"

namespace dancer::store {
namespace {

// Millisecond ISO 8601 UTC, e.g. 2026-11-23T21:00:00.123Z (fixed width, so it sorts as time).
#define DANCER_SQLITE_NOW "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
#define DANCER_SQLITE_NOW_PLUS(param) "strftime('%Y-%m-%dT%H:%M:%fZ', 'now', " param ")"
#define DANCER_JOB_COLUMNS                                                                     \
  "id, bucket, object_key, etag, version_id, size_bytes, status, retry_count, error_message, " \
  "metadata_json, results_json, report_location, worker_id, created_at, updated_at, "          \
  "completed_at, "                                                                             \
  "job_uuid"

constexpr const char* kInsertIfAbsent =
    "INSERT INTO processing_jobs (bucket, object_key, etag, version_id, size_bytes, status, "
    "worker_id, lease_expires_at, job_uuid) VALUES (?1, ?2, ?3, ?4, ?5, 'processing', ?6, " DANCER_SQLITE_NOW_PLUS(
        "?7") ", ?8) ON CONFLICT (bucket, object_key, etag, version_id) DO NOTHING "
              "RETURNING " DANCER_JOB_COLUMNS;
// Takes over a job whose lease expired (its worker died: counts as a retry) or was released
// by record_retry (already counted). A row without a job_uuid (inserted by the web backend)
// gets one.
constexpr const char* kTakeOver =
    "UPDATE processing_jobs SET worker_id = ?5, job_uuid = COALESCE(job_uuid, ?7), "
    "retry_count = retry_count + (CASE WHEN lease_expires_at IS NULL THEN 0 ELSE 1 END), "
    "lease_expires_at = " DANCER_SQLITE_NOW_PLUS(
        "?6") ", updated_at = " DANCER_SQLITE_NOW
              " WHERE bucket = ?1 AND object_key = ?2 AND etag = ?3 AND version_id = ?4 "
              "AND status = 'processing' AND (lease_expires_at IS NULL OR lease_expires_at "
              "<= " DANCER_SQLITE_NOW ") RETURNING " DANCER_JOB_COLUMNS;
constexpr const char* kSelectByObject =
    "SELECT " DANCER_JOB_COLUMNS
    " FROM processing_jobs WHERE bucket = ?1 AND object_key = ?2 AND etag = ?3 AND version_id = ?4";
constexpr const char* kClaimInspect =
    "SELECT " DANCER_JOB_COLUMNS
    ", (lease_expires_at IS NOT NULL AND lease_expires_at > " DANCER_SQLITE_NOW
    ") FROM processing_jobs WHERE bucket = ?1 AND object_key = ?2 AND etag = ?3 AND version_id = "
    "?4";
constexpr const char* kSelectById =
    "SELECT " DANCER_JOB_COLUMNS " FROM processing_jobs WHERE id = ?1";
constexpr const char* kList =
    "SELECT " DANCER_JOB_COLUMNS " FROM processing_jobs ORDER BY id DESC LIMIT ?1";
// Lease-holder updates: ?1 = id, ?2 = worker. A released lease (NULL) belongs to nobody.
#define DANCER_HELD_BY_CALLER \
  " WHERE id = ?1 AND worker_id = ?2 AND status = 'processing' AND lease_expires_at IS NOT NULL"
constexpr const char* kRenew =
    "UPDATE processing_jobs SET lease_expires_at = " DANCER_SQLITE_NOW_PLUS(
        "?3") ", updated_at = " DANCER_SQLITE_NOW DANCER_HELD_BY_CALLER;
constexpr const char* kSaveMetadata =
    "UPDATE processing_jobs SET metadata_json = ?3, updated_at = " DANCER_SQLITE_NOW
        DANCER_HELD_BY_CALLER;
constexpr const char* kComplete =
    "UPDATE processing_jobs SET status = 'completed', metadata_json = ?3, results_json = ?4, "
    "report_location = ?5, error_message = '', lease_expires_at = NULL, "
    "completed_at = " DANCER_SQLITE_NOW ", updated_at = " DANCER_SQLITE_NOW DANCER_HELD_BY_CALLER;
constexpr const char* kFail =
    "UPDATE processing_jobs SET status = 'failed', error_message = ?3, lease_expires_at = NULL, "
    "completed_at = " DANCER_SQLITE_NOW ", updated_at = " DANCER_SQLITE_NOW DANCER_HELD_BY_CALLER;
constexpr const char* kRecordRetry =
    "UPDATE processing_jobs SET retry_count = retry_count + 1, error_message = ?3, "
    "lease_expires_at = NULL, updated_at = " DANCER_SQLITE_NOW DANCER_HELD_BY_CALLER
    " RETURNING retry_count";
constexpr const char* kRelease =
    "UPDATE processing_jobs SET error_message = ?3, "
    "lease_expires_at = NULL, updated_at = " DANCER_SQLITE_NOW DANCER_HELD_BY_CALLER
    " RETURNING retry_count";
constexpr const char* kSchemaVersion = "SELECT COALESCE(MAX(version), 0) FROM schema_migrations";
constexpr const char* kMigrationsTableExists =
    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'";
constexpr const char* kRecordMigration =
    "INSERT INTO schema_migrations (version, description) VALUES (?1, ?2)";
constexpr const char* kPing = "SELECT 1";

StoreErrorCode classify(int rc) {
  switch (rc & 0xff) {  // primary result code
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return StoreErrorCode::kBusy;
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_FULL:
      return StoreErrorCode::kUnavailable;
    default:
      return StoreErrorCode::kOther;
  }
}

[[noreturn]] void throw_sqlite(sqlite3* db, int rc, std::string_view what) {
  std::string message = "sqlite: " + std::string(what) + ": ";
  message += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  throw StoreError(classify(rc), message);
}

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StmtFinalizer {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using DbHandle = std::unique_ptr<sqlite3, DbCloser>;
using StmtHandle = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

int busy_milliseconds(std::chrono::milliseconds timeout) {
  return static_cast<int>(std::clamp<std::int64_t>(timeout.count(), 0, INT32_MAX));
}

class Connection {
 public:
  Connection(const std::string& path, std::chrono::milliseconds busy_timeout) {
    sqlite3* raw = nullptr;
    // NOMUTEX: the pool hands a connection to one thread at a time.
    const int rc =
        sqlite3_open_v2(path.c_str(), &raw,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    db_.reset(raw);  // sqlite3_open_v2 allocates a handle even on failure
    if (rc != SQLITE_OK) throw_sqlite(raw, rc, "cannot open '" + path + "'");
    sqlite3_extended_result_codes(db_.get(), 1);
    // Before any statement: even reading the schema waits for locks. sqlite3_busy_timeout
    // retries a statement that meets SQLITE_BUSY until the total time exceeds the timeout.
    set_busy_timeout(busy_timeout);
    // WAL lets readers run while one writer commits. synchronous=FULL fsyncs the WAL at each
    // commit, so complete_job/fail_job survive power loss once they return (NORMAL would
    // only guarantee that against process crashes).
    switch_to_wal(busy_timeout);
    exec("PRAGMA synchronous = FULL");
    exec("PRAGMA foreign_keys = ON");
  }

  sqlite3* db() const { return db_.get(); }

  // Leaving rollback-journal mode needs an exclusive lock. While another connection holds
  // the write lock SQLite fails this at once with SQLITE_BUSY, without calling the busy
  // handler (waiting there could deadlock), so the busy timeout is honoured here.
  void switch_to_wal(std::chrono::milliseconds busy_timeout) {
    const auto deadline = std::chrono::steady_clock::now() + busy_timeout;
    for (;;) {
      try {
        exec("PRAGMA journal_mode = WAL");
        return;
      } catch (const StoreError& e) {
        if (e.code() != StoreErrorCode::kBusy || std::chrono::steady_clock::now() >= deadline) {
          throw;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  void set_busy_timeout(std::chrono::milliseconds timeout) {
    sqlite3_busy_timeout(db_.get(), busy_milliseconds(timeout));
  }

  void exec(const char* sql) {
    char* error = nullptr;
    const int rc = sqlite3_exec(db_.get(), sql, nullptr, nullptr, &error);
    if (rc != SQLITE_OK) {
      std::string message = error != nullptr ? error : sqlite3_errstr(rc);
      sqlite3_free(error);
      throw StoreError(classify(rc), "sqlite: " + message);
    }
  }

  // Prepared once per connection; the SQL constants above are the cache keys.
  sqlite3_stmt* statement(const char* sql) {
    auto& slot = statements_[sql];
    if (!slot) {
      sqlite3_stmt* raw = nullptr;
      const int rc =
          sqlite3_prepare_v3(db_.get(), sql, -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
      if (rc != SQLITE_OK) throw_sqlite(db_.get(), rc, "prepare");
      slot.reset(raw);
    }
    return slot.get();
  }

 private:
  DbHandle db_;  // declared first so statements are finalized before the close
  std::unordered_map<const char*, StmtHandle> statements_;
};

// One use of a cached prepared statement; resets it (releasing its read snapshot) when done.
class Query {
 public:
  Query(Connection& connection, const char* sql)
      : db_(connection.db()), stmt_(connection.statement(sql)) {}
  ~Query() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;

  Query& bind(int index, std::string_view text) {
    // SQLITE_TRANSIENT: SQLite copies, so temporaries are safe to pass.
    check(sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()),
                            SQLITE_TRANSIENT));
    return *this;
  }
  Query& bind_json(int index, const std::string& json) {
    if (json.empty()) {
      check(sqlite3_bind_null(stmt_, index));
      return *this;
    }
    return bind(index, json);
  }
  Query& bind(int index, std::int64_t value) {
    check(sqlite3_bind_int64(stmt_, index, value));
    return *this;
  }

  // True when a row is available.
  bool step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw_sqlite(db_, rc, "step");
  }

  std::string text(int column) const {
    const auto* data = sqlite3_column_text(stmt_, column);
    if (data == nullptr) return {};
    return {reinterpret_cast<const char*>(data),
            static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column))};
  }
  std::int64_t integer(int column) const { return sqlite3_column_int64(stmt_, column); }
  int changes() const { return sqlite3_changes(db_); }

  Job job() const {
    Job job;
    job.id = integer(0);
    job.object = {text(1), text(2), text(3), text(4), integer(5)};
    const std::string status = text(6);
    job.status = status == "completed" ? JobStatus::kCompleted
                 : status == "failed"  ? JobStatus::kFailed
                                       : JobStatus::kProcessing;
    job.retry_count = static_cast<int>(integer(7));
    job.error_message = text(8);
    job.metadata_json = text(9);
    job.results_json = text(10);
    job.report_location = text(11);
    job.worker_id = text(12);
    job.created_at = text(13);
    job.updated_at = text(14);
    job.completed_at = text(15);
    job.job_uuid = text(16);
    return job;
  }

 private:
  void check(int rc) {
    if (rc != SQLITE_OK) throw_sqlite(db_, rc, "bind");
  }
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

// BEGIN IMMEDIATE takes the write lock up front (waiting up to busy_timeout), so a
// read-then-write transaction can never fail half way with an unresolvable SQLITE_BUSY.
class WriteTransaction {
 public:
  explicit WriteTransaction(Connection& connection) : connection_(connection) {
    connection_.exec("BEGIN IMMEDIATE");
  }
  ~WriteTransaction() {
    if (!committed_) sqlite3_exec(connection_.db(), "ROLLBACK", nullptr, nullptr, nullptr);
  }
  WriteTransaction(const WriteTransaction&) = delete;
  WriteTransaction& operator=(const WriteTransaction&) = delete;
  void commit() {
    connection_.exec("COMMIT");
    committed_ = true;
  }

 private:
  Connection& connection_;
  bool committed_ = false;
};

std::string lease_modifier(std::chrono::seconds lease) {
  // Built with append: GCC 12 warns falsely (-Wrestrict, GCC bug 105329) on "+" + string.
  std::string modifier = "+";
  modifier += std::to_string(std::max<std::int64_t>(0, lease.count()));
  modifier += " seconds";
  return modifier;
}

class SqliteJobStore final : public JobStore {
 public:
  SqliteJobStore(std::string path, const StoreOptions& options,
                 std::optional<std::chrono::milliseconds> open_busy_timeout)
      : path_(std::move(path)),
        options_(options),
        // Each connection to ":memory:" is a different database: share exactly one.
        pool_(path_ == ":memory:" ? 1 : std::max(1, options.pool_size),
              [this] { return std::make_unique<Connection>(path_, options_.busy_timeout); }) {
    auto connection =
        std::make_unique<Connection>(path_, open_busy_timeout.value_or(options_.busy_timeout));
    // Migrating takes the write lock (BEGIN IMMEDIATE), so another program's open write
    // transaction makes this wait, and fail with kBusy after the timeout.
    migrate(*connection);
    connection->set_busy_timeout(options_.busy_timeout);
    pool_.add(std::move(connection));
  }

  ClaimResult claim_job(const ObjectVersion& object, const std::string& worker_id,
                        std::chrono::seconds lease) override {
    validate_object(object);
    auto connection = borrow();
    std::lock_guard writer(write_mutex_);
    WriteTransaction transaction(*connection);
    // Look first: an INSERT that hits the UNIQUE constraint still rewrites sqlite_sequence
    // (AUTOINCREMENT), turning every duplicate delivery into a commit with an fsync.
    std::optional<ClaimResult> result;
    bool takeover_possible = false;
    {
      Query inspect(*connection, kClaimInspect);
      bind_object_key(inspect, object);
      if (inspect.step()) {
        Job job = inspect.job();
        const bool lease_live = inspect.integer(17) != 0;
        if (job.status == JobStatus::kCompleted) {
          result = ClaimResult{ClaimOutcome::kAlreadyCompleted, std::move(job)};
        } else if (job.status == JobStatus::kFailed) {
          result = ClaimResult{ClaimOutcome::kAlreadyFailed, std::move(job)};
        } else if (lease_live) {
          result = ClaimResult{ClaimOutcome::kInProgressElsewhere, std::move(job)};
        } else {
          takeover_possible = true;
        }
      }
    }
    if (takeover_possible) {
      Query take_over(*connection, kTakeOver);
      bind_object_key(take_over, object);
      take_over.bind(5, worker_id).bind(6, lease_modifier(lease)).bind(7, common::random_uuid_v4());
      if (!take_over.step()) {
        throw StoreError(StoreErrorCode::kOther, "sqlite: claim_job: takeover matched no row");
      }
      result = ClaimResult{ClaimOutcome::kClaimed, take_over.job()};
    } else if (!result) {
      Query insert(*connection, kInsertIfAbsent);
      bind_object(insert, object);
      insert.bind(6, worker_id).bind(7, lease_modifier(lease)).bind(8, common::random_uuid_v4());
      if (!insert.step()) {
        throw StoreError(StoreErrorCode::kOther, "sqlite: claim_job: insert conflicted");
      }
      result = ClaimResult{ClaimOutcome::kClaimed, insert.job()};
    }
    transaction.commit();
    return std::move(*result);
  }

  void renew_lease(std::int64_t job_id, const std::string& worker_id,
                   std::chrono::seconds lease) override {
    auto connection = borrow();
    std::lock_guard writer(write_mutex_);
    Query query(*connection, kRenew);
    query.bind(1, job_id).bind(2, worker_id).bind(3, lease_modifier(lease));
    run_lease_holder_update(query, job_id, worker_id, "renew_lease");
  }

  void save_metadata(std::int64_t job_id, const std::string& worker_id,
                     const std::string& metadata_json) override {
    auto connection = borrow();
    std::lock_guard writer(write_mutex_);
    Query query(*connection, kSaveMetadata);
    query.bind(1, job_id).bind(2, worker_id).bind_json(3, metadata_json);
    run_lease_holder_update(query, job_id, worker_id, "save_metadata");
  }

  void complete_job(std::int64_t job_id, const std::string& worker_id,
                    const std::string& metadata_json, const std::string& results_json,
                    const std::string& report_location) override {
    auto connection = borrow();
    std::lock_guard writer(write_mutex_);
    Query query(*connection, kComplete);
    query.bind(1, job_id).bind(2, worker_id).bind_json(3, metadata_json);
    query.bind_json(4, results_json).bind(5, report_location);
    run_lease_holder_update(query, job_id, worker_id, "complete_job");
  }

  void fail_job(std::int64_t job_id, const std::string& worker_id,
                const std::string& error_message) override {
    auto connection = borrow();
    std::lock_guard writer(write_mutex_);
    Query query(*connection, kFail);
    query.bind(1, job_id).bind(2, worker_id).bind(3, to_storable_text(error_message));
    run_lease_holder_update(query, job_id, worker_id, "fail_job");
  }

  int record_retry(std::int64_t job_id, const std::string& worker_id,
                   const std::string& error_message) override {
    auto connection = borrow();
    std::lock_guard writer(write_mutex_);
    Query query(*connection, kRecordRetry);
    query.bind(1, job_id).bind(2, worker_id).bind(3, to_storable_text(error_message));
    if (!query.step()) throw lease_lost(job_id, worker_id, "record_retry");
    return static_cast<int>(query.integer(0));
  }

  int release_job(std::int64_t job_id, const std::string& worker_id,
                  const std::string& reason) override {
    auto connection = borrow();
    std::lock_guard writer(write_mutex_);
    Query query(*connection, kRelease);
    query.bind(1, job_id).bind(2, worker_id).bind(3, to_storable_text(reason));
    if (!query.step()) throw lease_lost(job_id, worker_id, "release_job");
    return static_cast<int>(query.integer(0));
  }

  std::optional<Job> find_job(std::int64_t job_id) override {
    auto connection = borrow();
    Query query(*connection, kSelectById);
    query.bind(1, job_id);
    if (!query.step()) return std::nullopt;
    return query.job();
  }

  std::optional<Job> find_job(const ObjectVersion& object) override {
    if (!is_storable_object(object)) return std::nullopt;
    auto connection = borrow();
    Query query(*connection, kSelectByObject);
    bind_object_key(query, object);
    if (!query.step()) return std::nullopt;
    return query.job();
  }

  std::vector<Job> list_jobs(int limit) override {
    auto connection = borrow();
    Query query(*connection, kList);
    query.bind(1, std::int64_t{std::max(0, limit)});
    std::vector<Job> jobs;
    while (query.step()) jobs.push_back(query.job());
    return jobs;
  }

  int schema_version() override {
    auto connection = borrow();
    Query query(*connection, kSchemaVersion);
    query.step();
    return static_cast<int>(query.integer(0));
  }

  bool ping() override {
    try {
      auto connection = borrow();
      Query query(*connection, kPing);
      return query.step() && query.integer(0) == 1;
    } catch (const StoreError&) {
      return false;
    }
  }

 private:
  ConnectionPool<Connection>::Lease borrow() { return pool_.borrow(); }

  static void bind_object_key(Query& query, const ObjectVersion& object) {
    query.bind(1, object.bucket)
        .bind(2, object.key)
        .bind(3, object.etag)
        .bind(4, object.version_id);
  }
  static void bind_object(Query& query, const ObjectVersion& object) {
    bind_object_key(query, object);
    query.bind(5, object.size_bytes);
  }

  static StoreError lease_lost(std::int64_t job_id, const std::string& worker_id,
                               std::string_view operation) {
    return StoreError(StoreErrorCode::kLeaseLost,
                      std::string(operation) + ": job " + std::to_string(job_id) +
                          " is not processing under a lease held by worker '" + worker_id + "'");
  }

  static void run_lease_holder_update(Query& query, std::int64_t job_id,
                                      const std::string& worker_id, std::string_view operation) {
    query.step();
    if (query.changes() != 1) throw lease_lost(job_id, worker_id, operation);
  }

  // The applied schema version read without the write lock (WAL readers do not wait for a
  // writer), or nullopt when the database has no schema_migrations table yet.
  static std::optional<int> read_schema_version(Connection& connection) {
    {
      Query exists(connection, kMigrationsTableExists);
      if (!exists.step()) return std::nullopt;
    }
    Query query(connection, kSchemaVersion);
    query.step();
    return static_cast<int>(query.integer(0));
  }

  static void reject_newer_schema(int current) {
    if (current > latest_schema_version()) {
      throw StoreError(StoreErrorCode::kSchema,
                       "sqlite: database schema version " + std::to_string(current) +
                           " is newer than this build's " +
                           std::to_string(latest_schema_version()) + ": upgrade the service");
    }
  }

  static void migrate(Connection& connection) {
    // An up-to-date database opens without the write lock, so a long write transaction of
    // the web backend does not hold up the service's start.
    if (const auto applied = read_schema_version(connection)) {
      reject_newer_schema(*applied);
      if (*applied == latest_schema_version()) return;
    }
    WriteTransaction transaction(connection);
    connection.exec(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY,"
        " description TEXT NOT NULL DEFAULT '',"
        " applied_at TEXT NOT NULL DEFAULT (" DANCER_SQLITE_NOW "))");
    int current = 0;
    {
      Query query(connection, kSchemaVersion);
      query.step();
      current = static_cast<int>(query.integer(0));
    }
    reject_newer_schema(current);
    for (const Migration& migration : sqlite_migrations()) {
      if (migration.version <= current) continue;
      try {
        connection.exec(std::string(migration.sql).c_str());
        Query record(connection, kRecordMigration);
        record.bind(1, std::int64_t{migration.version}).bind(2, migration.description);
        record.step();
      } catch (const StoreError& e) {
        if (e.transient()) throw;
        throw StoreError(
            StoreErrorCode::kSchema,
            "sqlite: migration " + std::to_string(migration.version) + " failed: " + e.what());
      }
    }
    transaction.commit();
  }

  const std::string path_;
  const StoreOptions options_;
  // SQLite has one writer at a time per database. Writers of this process queue here instead
  // of in SQLite's busy handler, which polls with sleeps of up to 100 ms; busy_timeout still
  // applies to writers in other processes.
  std::mutex write_mutex_;
  ConnectionPool<Connection> pool_;
};

}  // namespace

std::unique_ptr<JobStore> open_sqlite_job_store(
    const std::string& path, const StoreOptions& options,
    std::optional<std::chrono::milliseconds> open_busy_timeout) {
  return std::make_unique<SqliteJobStore>(path, options, open_busy_timeout);
}

}  // namespace dancer::store

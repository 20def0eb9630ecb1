#include "store/postgres_store.h"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <array>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "common/uuid.h"
#include "store/connection_pool.h"
#include "store/database_url.h"
#include "store/migrations.h"

namespace dancer::store {
namespace {

#define DANCER_PG_ISO(column) \
  "to_char(" column " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
#define DANCER_PG_JOB_COLUMNS \
  "id, bucket, object_key, etag, version_id, size_bytes, status, retry_count, error_message, " \
  "metadata_json, results_json, report_location, worker_id, " DANCER_PG_ISO(                   \
      "created_at") ", " DANCER_PG_ISO("updated_at") ", " DANCER_PG_ISO("completed_at") ", "   \
                                                                                        "job_uuid"
#define DANCER_PG_OBJECT_KEY "bucket = $1 AND object_key = $2 AND etag = $3 AND version_id = $4"
// A released lease (NULL) belongs to nobody.
#define DANCER_PG_HELD_BY_CALLER \
  " WHERE id = $1 AND worker_id = $2 AND status = 'processing' AND lease_expires_at IS NOT NULL"

struct PreparedStatement {
  const char* name;
  const char* sql;
};

// Prepared once per connection (PQprepare), executed with PQexecPrepared: every value is
// a parameter. now() is the statement's start time in autocommit mode.
constexpr PreparedStatement kClaimInsert{
    "claim_insert",
    "INSERT INTO processing_jobs (bucket, object_key, etag, version_id, size_bytes, status, "
    "worker_id, lease_expires_at, job_uuid) VALUES ($1, $2, $3, $4, $5::bigint, 'processing', $6, "
    "now() + $7::integer * interval '1 second', $8::uuid) "
    "ON CONFLICT ON CONSTRAINT processing_jobs_object_version_key DO NOTHING "
    "RETURNING " DANCER_PG_JOB_COLUMNS};
// Takes over a job whose lease expired (its worker died: counts as a retry) or was released
// by record_retry (already counted). Under READ COMMITTED a concurrent takeover makes this
// UPDATE wait for the row lock and then re-check the WHERE clause on the new row version,
// so only one of two racing workers gets a row back. job_uuid is NOT NULL here (the column's
// default), so the takeover keeps it.
constexpr PreparedStatement kClaimTakeOver{
    "claim_take_over",
    "UPDATE processing_jobs SET worker_id = $5, "
    "retry_count = retry_count + (CASE WHEN lease_expires_at IS NULL THEN 0 ELSE 1 END), "
    "lease_expires_at = now() + $6::integer * interval '1 second', updated_at = now() "
    "WHERE " DANCER_PG_OBJECT_KEY
    " AND status = 'processing' "
    "AND (lease_expires_at IS NULL OR lease_expires_at <= now()) RETURNING " DANCER_PG_JOB_COLUMNS};
constexpr PreparedStatement kClaimInspect{
    "claim_inspect", "SELECT " DANCER_PG_JOB_COLUMNS
                     ", (lease_expires_at IS NOT NULL AND lease_expires_at > now()) "
                     "FROM processing_jobs WHERE " DANCER_PG_OBJECT_KEY};
constexpr PreparedStatement kSelectByObject{"select_by_object",
                                            "SELECT " DANCER_PG_JOB_COLUMNS
                                            " FROM processing_jobs WHERE " DANCER_PG_OBJECT_KEY};
constexpr PreparedStatement kSelectById{
    "select_by_id", "SELECT " DANCER_PG_JOB_COLUMNS " FROM processing_jobs WHERE id = $1::bigint"};
constexpr PreparedStatement kList{"list",
                                  "SELECT " DANCER_PG_JOB_COLUMNS
                                  " FROM processing_jobs ORDER BY id DESC LIMIT $1::bigint"};
constexpr PreparedStatement kRenew{
    "renew",
    "UPDATE processing_jobs SET lease_expires_at = now() + $3::integer * interval '1 second', "
    "updated_at = now()" DANCER_PG_HELD_BY_CALLER};
constexpr PreparedStatement kSaveMetadata{"save_metadata",
                                          "UPDATE processing_jobs SET metadata_json = $3::jsonb, "
                                          "updated_at = now()" DANCER_PG_HELD_BY_CALLER};
constexpr PreparedStatement kComplete{
    "complete",
    "UPDATE processing_jobs SET status = 'completed', metadata_json = $3::jsonb, "
    "results_json = $4::jsonb, report_location = $5, error_message = '', "
    "lease_expires_at = NULL, completed_at = now(), updated_at = now()" DANCER_PG_HELD_BY_CALLER};
constexpr PreparedStatement kFail{
    "fail",
    "UPDATE processing_jobs SET status = 'failed', error_message = $3, lease_expires_at = NULL, "
    "completed_at = now(), updated_at = now()" DANCER_PG_HELD_BY_CALLER};
constexpr PreparedStatement kRecordRetry{
    "record_retry",
    "UPDATE processing_jobs SET retry_count = retry_count + 1, error_message = $3, "
    "lease_expires_at = NULL, updated_at = now()" DANCER_PG_HELD_BY_CALLER
    " RETURNING retry_count"};
constexpr PreparedStatement kRelease{
    "release_job",
    "UPDATE processing_jobs SET error_message = $3, "
    "lease_expires_at = NULL, updated_at = now()" DANCER_PG_HELD_BY_CALLER
    " RETURNING retry_count"};
constexpr PreparedStatement kSchemaVersion{
    "schema_version", "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"};
constexpr PreparedStatement kPing{"ping", "SELECT 1"};

constexpr std::array kAllStatements{kClaimInsert,   kClaimTakeOver, kClaimInspect, kSelectByObject,
                                    kSelectById,    kList,          kRenew,        kSaveMetadata,
                                    kComplete,      kFail,          kRecordRetry,  kRelease,
                                    kSchemaVersion, kPing};

// Serialises concurrent migrations from several service processes (any constant works; this
// is "dancer" in ASCII).
constexpr const char* kMigrationLockKey = "110442863026034";

struct ConnectionCloser {
  void operator()(PGconn* connection) const { PQfinish(connection); }
};
struct ResultClearer {
  void operator()(PGresult* result) const { PQclear(result); }
};
using ConnectionHandle = std::unique_ptr<PGconn, ConnectionCloser>;
using ResultHandle = std::unique_ptr<PGresult, ResultClearer>;

StoreErrorCode classify(PGconn* connection, const PGresult* result) {
  if (PQstatus(connection) != CONNECTION_OK) return StoreErrorCode::kUnavailable;
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  if (state == nullptr) return StoreErrorCode::kUnavailable;  // no result: connection trouble
  const std::string_view sqlstate(state);
  // 55P03 lock_not_available: lock_timeout (StoreOptions::busy_timeout) passed.
  if (sqlstate == "40001" || sqlstate == "40P01" || sqlstate == "55P03") {
    return StoreErrorCode::kBusy;
  }
  // 08: connection exception; 57P01-03: admin/crash shutdown, cannot connect now;
  // 53: insufficient resources (too many connections, disk full).
  if (sqlstate.starts_with("08") || sqlstate.starts_with("57P") || sqlstate.starts_with("53")) {
    return StoreErrorCode::kUnavailable;
  }
  return StoreErrorCode::kOther;
}

// Only the primary message: DETAIL lines can quote row values ("Failing row contains ...").
std::string describe(PGconn* connection, const PGresult* result) {
  if (result != nullptr) {
    const char* primary = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
    const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
    if (primary != nullptr) {
      return std::string(primary) +
             (state != nullptr ? " (SQLSTATE " + std::string(state) + ")" : "");
    }
  }
  std::string message = PQerrorMessage(connection);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  return message;
}

// A query parameter: nullopt is SQL NULL.
using Param = std::optional<std::string>;

Param json_param(const std::string& json) {
  if (json.empty()) return std::nullopt;
  return json;
}

// PQsetNoticeProcessor callback: `arg` is the store's StoreOptions::notice_sink (which outlives
// every connection of the store). libpq formats the message as "NOTICE:  text\n".
void forward_notice(void* arg, const char* message) {
  const auto& sink = *static_cast<const std::function<void(std::string_view)>*>(arg);
  if (!sink || message == nullptr) return;
  std::string_view text(message);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  sink(text);
}

class PgConnection {
 public:
  PgConnection(const std::string& uri, const StoreOptions& options) {
    // Keywords are processed in order and later ones win, so the URI (expanded from dbname)
    // overrides these defaults.
    const std::array<const char*, 4> keywords{"connect_timeout", "application_name", "dbname",
                                              nullptr};
    const std::array<const char*, 4> values{"5", "dancer-analysis", uri.c_str(), nullptr};
    connection_.reset(PQconnectdbParams(keywords.data(), values.data(), 1));
    if (!connection_) throw StoreError(StoreErrorCode::kUnavailable, "postgres: out of memory");
    if (PQstatus(connection_.get()) != CONNECTION_OK) {
      throw StoreError(StoreErrorCode::kUnavailable, "postgres: cannot connect to " +
                                                         redact_database_url(uri) + ": " +
                                                         describe(connection_.get(), nullptr));
    }
    // libpq's default processor writes notices to stderr, bypassing the service's log.
    PQsetNoticeProcessor(connection_.get(), forward_notice,
                         const_cast<std::function<void(std::string_view)>*>(&options.notice_sink));
    // lock_timeout bounds every lock wait of this session (row locks held by the web
    // backend's transactions, the migration advisory lock); PostgreSQL reads 0 as "forever".
    const auto lock_ms = std::clamp<std::int64_t>(options.busy_timeout.count(), 1, INT32_MAX);
    const std::string set_timeout = "SET lock_timeout = " + std::to_string(lock_ms);
    execute_script(set_timeout.c_str(), "set lock_timeout");
  }

  PGconn* get() const { return connection_.get(); }

  void prepare_statements() {
    for (const auto& statement : kAllStatements) {
      ResultHandle result(PQprepare(connection_.get(), statement.name, statement.sql, 0, nullptr));
      check(result.get(), PGRES_COMMAND_OK, statement.name);
    }
  }

  // False when the connection must be replaced. An idle connection receives nothing (we
  // never LISTEN), so a readable socket means the server sent its FATAL termination notice
  // (e.g. 57P01 on a fast shutdown) and/or closed the socket: replacing it now spares the
  // caller a failed query after a server restart.
  bool healthy() const {
    if (PQstatus(connection_.get()) != CONNECTION_OK) return false;
    if (PQtransactionStatus(connection_.get()) != PQTRANS_IDLE) return false;
    pollfd descriptor{PQsocket(connection_.get()), POLLIN, 0};
    return poll(&descriptor, 1, 0) == 0;
  }

  ResultHandle execute(const PreparedStatement& statement, const std::vector<Param>& params,
                       ExecStatusType expected) {
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& param : params) values.push_back(param ? param->c_str() : nullptr);
    ResultHandle result(PQexecPrepared(connection_.get(), statement.name,
                                       static_cast<int>(values.size()), values.data(), nullptr,
                                       nullptr, 0));
    check(result.get(), expected, statement.name);
    return result;
  }

  // Static SQL without values (DDL, BEGIN/COMMIT).
  void execute_script(const char* sql, std::string_view what) {
    ResultHandle result(PQexec(connection_.get(), sql));
    check(result.get(), PGRES_COMMAND_OK, what);
  }

  void check(const PGresult* result, ExecStatusType expected, std::string_view what) {
    if (result != nullptr && PQresultStatus(result) == expected) return;
    throw StoreError(classify(connection_.get(), result),
                     "postgres: " + std::string(what) + ": " + describe(connection_.get(), result));
  }

 private:
  ConnectionHandle connection_;
};

std::string text(const PGresult* result, int row, int column) {
  if (PQgetisnull(result, row, column)) return {};
  return {PQgetvalue(result, row, column),
          static_cast<std::size_t>(PQgetlength(result, row, column))};
}

Job job_from_row(const PGresult* result, int row) {
  Job job;
  job.id = std::stoll(text(result, row, 0));
  job.object = {text(result, row, 1), text(result, row, 2), text(result, row, 3),
                text(result, row, 4), std::stoll(text(result, row, 5))};
  const std::string status = text(result, row, 6);
  job.status = status == "completed" ? JobStatus::kCompleted
               : status == "failed"  ? JobStatus::kFailed
                                     : JobStatus::kProcessing;
  job.retry_count = std::stoi(text(result, row, 7));
  job.error_message = text(result, row, 8);
  job.metadata_json = text(result, row, 9);
  job.results_json = text(result, row, 10);
  job.report_location = text(result, row, 11);
  job.worker_id = text(result, row, 12);
  job.created_at = text(result, row, 13);
  job.updated_at = text(result, row, 14);
  job.completed_at = text(result, row, 15);
  job.job_uuid = text(result, row, 16);
  return job;
}

std::string lease_seconds(std::chrono::seconds lease) {
  return std::to_string(std::clamp<std::int64_t>(lease.count(), 0, 2'000'000'000));
}

std::vector<Param> object_key_params(const ObjectVersion& object) {
  return {object.bucket, object.key, object.etag, object.version_id};
}

class PostgresJobStore final : public JobStore {
 public:
  PostgresJobStore(std::string uri, const StoreOptions& options)
      : uri_(std::move(uri)),
        options_(options),
        // A broken idle connection is closed and replaced; one returned broken is dropped.
        pool_(
            std::max(1, options.pool_size),
            [this] {
              auto connection = std::make_unique<PgConnection>(uri_, options_);
              connection->prepare_statements();
              return connection;
            },
            [](const PgConnection& c) { return c.healthy(); },
            [](const PgConnection& c) { return PQstatus(c.get()) == CONNECTION_OK; }) {
    auto connection = std::make_unique<PgConnection>(uri_, options_);
    migrate(*connection);
    connection->prepare_statements();
    pool_.add(std::move(connection));
  }

  ClaimResult claim_job(const ObjectVersion& object, const std::string& worker_id,
                        std::chrono::seconds lease) override {
    // PostgreSQL would reject invalid UTF-8 on every attempt and cut a key at a NUL byte
    // (libpq parameters are C strings), matching another object's row.
    validate_object(object);
    auto connection = borrow();
    // Each statement is atomic on its own; a job changing state between them (released by
    // record_retry, deleted by an operator) just sends us round again.
    for (int attempt = 0; attempt < 5; ++attempt) {
      auto params = object_key_params(object);
      params.emplace_back(std::to_string(object.size_bytes));
      params.emplace_back(worker_id);
      params.emplace_back(lease_seconds(lease));
      params.emplace_back(common::random_uuid_v4());
      auto inserted = connection->execute(kClaimInsert, params, PGRES_TUPLES_OK);
      if (PQntuples(inserted.get()) == 1)
        return {ClaimOutcome::kClaimed, job_from_row(inserted.get(), 0)};

      params = object_key_params(object);
      params.emplace_back(worker_id);
      params.emplace_back(lease_seconds(lease));
      auto taken = connection->execute(kClaimTakeOver, params, PGRES_TUPLES_OK);
      if (PQntuples(taken.get()) == 1)
        return {ClaimOutcome::kClaimed, job_from_row(taken.get(), 0)};

      auto inspected =
          connection->execute(kClaimInspect, object_key_params(object), PGRES_TUPLES_OK);
      if (PQntuples(inspected.get()) != 1) continue;
      Job job = job_from_row(inspected.get(), 0);
      if (job.status == JobStatus::kCompleted)
        return {ClaimOutcome::kAlreadyCompleted, std::move(job)};
      if (job.status == JobStatus::kFailed) return {ClaimOutcome::kAlreadyFailed, std::move(job)};
      const bool lease_live = text(inspected.get(), 0, 17) == "t";
      if (lease_live) return {ClaimOutcome::kInProgressElsewhere, std::move(job)};
    }
    throw StoreError(StoreErrorCode::kBusy,
                     "postgres: claim_job: the job kept changing state; try again");
  }

  void renew_lease(std::int64_t job_id, const std::string& worker_id,
                   std::chrono::seconds lease) override {
    lease_holder_update(kRenew, {std::to_string(job_id), worker_id, lease_seconds(lease)}, job_id,
                        worker_id);
  }

  void save_metadata(std::int64_t job_id, const std::string& worker_id,
                     const std::string& metadata_json) override {
    lease_holder_update(kSaveMetadata,
                        {std::to_string(job_id), worker_id, json_param(metadata_json)}, job_id,
                        worker_id);
  }

  void complete_job(std::int64_t job_id, const std::string& worker_id,
                    const std::string& metadata_json, const std::string& results_json,
                    const std::string& report_location) override {
    lease_holder_update(kComplete,
                        {std::to_string(job_id), worker_id, json_param(metadata_json),
                         json_param(results_json), report_location},
                        job_id, worker_id);
  }

  void fail_job(std::int64_t job_id, const std::string& worker_id,
                const std::string& error_message) override {
    lease_holder_update(kFail, {std::to_string(job_id), worker_id, to_storable_text(error_message)},
                        job_id, worker_id);
  }

  int record_retry(std::int64_t job_id, const std::string& worker_id,
                   const std::string& error_message) override {
    auto connection = borrow();
    auto result = connection->execute(
        kRecordRetry, {std::to_string(job_id), worker_id, to_storable_text(error_message)},
        PGRES_TUPLES_OK);
    if (PQntuples(result.get()) != 1) throw lease_lost(kRecordRetry, job_id, worker_id);
    return std::stoi(text(result.get(), 0, 0));
  }

  int release_job(std::int64_t job_id, const std::string& worker_id,
                  const std::string& reason) override {
    auto connection = borrow();
    auto result = connection->execute(
        kRelease, {std::to_string(job_id), worker_id, to_storable_text(reason)}, PGRES_TUPLES_OK);
    if (PQntuples(result.get()) != 1) throw lease_lost(kRelease, job_id, worker_id);
    return std::stoi(text(result.get(), 0, 0));
  }

  std::optional<Job> find_job(std::int64_t job_id) override {
    auto connection = borrow();
    auto result = connection->execute(kSelectById, {std::to_string(job_id)}, PGRES_TUPLES_OK);
    if (PQntuples(result.get()) == 0) return std::nullopt;
    return job_from_row(result.get(), 0);
  }

  std::optional<Job> find_job(const ObjectVersion& object) override {
    // Invalid UTF-8 would be an error, and a NUL would cut the key to another object's.
    if (!is_storable_object(object)) return std::nullopt;
    auto connection = borrow();
    auto result = connection->execute(kSelectByObject, object_key_params(object), PGRES_TUPLES_OK);
    if (PQntuples(result.get()) == 0) return std::nullopt;
    return job_from_row(result.get(), 0);
  }

  std::vector<Job> list_jobs(int limit) override {
    auto connection = borrow();
    auto result = connection->execute(kList, {std::to_string(std::max(0, limit))}, PGRES_TUPLES_OK);
    std::vector<Job> jobs;
    for (int row = 0; row < PQntuples(result.get()); ++row)
      jobs.push_back(job_from_row(result.get(), row));
    return jobs;
  }

  int schema_version() override {
    auto connection = borrow();
    auto result = connection->execute(kSchemaVersion, {}, PGRES_TUPLES_OK);
    return std::stoi(text(result.get(), 0, 0));
  }

  bool ping() override {
    try {
      auto connection = borrow();
      auto result = connection->execute(kPing, {}, PGRES_TUPLES_OK);
      return text(result.get(), 0, 0) == "1";
    } catch (const StoreError&) {
      return false;
    }
  }

 private:
  ConnectionPool<PgConnection>::Lease borrow() { return pool_.borrow(); }

  static StoreError lease_lost(const PreparedStatement& statement, std::int64_t job_id,
                               const std::string& worker_id) {
    return StoreError(StoreErrorCode::kLeaseLost,
                      std::string(statement.name) + ": job " + std::to_string(job_id) +
                          " is not processing under a lease held by worker '" + worker_id + "'");
  }

  void lease_holder_update(const PreparedStatement& statement, const std::vector<Param>& params,
                           std::int64_t job_id, const std::string& worker_id) {
    auto connection = borrow();
    auto result = connection->execute(statement, params, PGRES_COMMAND_OK);
    if (std::string_view(PQcmdTuples(result.get())) != "1") {
      throw lease_lost(statement, job_id, worker_id);
    }
  }

  static void migrate(PgConnection& connection) {
    connection.execute_script("BEGIN", "migrate: begin");
    try {
      const std::array<const char*, 1> lock_params{kMigrationLockKey};
      ResultHandle locked(PQexecParams(connection.get(), "SELECT pg_advisory_xact_lock($1::bigint)",
                                       1, nullptr, lock_params.data(), nullptr, nullptr, 0));
      connection.check(locked.get(), PGRES_TUPLES_OK, "migrate: lock");
      connection.execute_script(
          "CREATE TABLE IF NOT EXISTS schema_migrations ("
          " version INTEGER PRIMARY KEY,"
          " description TEXT NOT NULL DEFAULT '',"
          " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
          "migrate: schema_migrations");
      ResultHandle current_result(
          PQexec(connection.get(), "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"));
      connection.check(current_result.get(), PGRES_TUPLES_OK, "migrate: current version");
      const int current = std::stoi(text(current_result.get(), 0, 0));
      if (current > latest_schema_version()) {
        throw StoreError(StoreErrorCode::kSchema,
                         "postgres: database schema version " + std::to_string(current) +
                             " is newer than this build's " +
                             std::to_string(latest_schema_version()) + ": upgrade the service");
      }
      for (const Migration& migration : postgres_migrations()) {
        if (migration.version <= current) continue;
        const std::string what = "migration " + std::to_string(migration.version);
        try {
          connection.execute_script(std::string(migration.sql).c_str(), what);
          const std::string version = std::to_string(migration.version);
          const std::string description(migration.description);
          const std::array<const char*, 2> values{version.c_str(), description.c_str()};
          ResultHandle recorded(PQexecParams(
              connection.get(),
              "INSERT INTO schema_migrations (version, description) VALUES ($1::integer, $2)", 2,
              nullptr, values.data(), nullptr, nullptr, 0));
          connection.check(recorded.get(), PGRES_COMMAND_OK, what);
        } catch (const StoreError& e) {
          if (e.transient()) throw;
          throw StoreError(StoreErrorCode::kSchema, std::string("postgres: ") + e.what());
        }
      }
      connection.execute_script("COMMIT", "migrate: commit");
    } catch (...) {
      ResultHandle ignored(PQexec(connection.get(), "ROLLBACK"));
      throw;
    }
  }

  const std::string uri_;
  const StoreOptions options_;  // connections point at options_.notice_sink
  ConnectionPool<PgConnection> pool_;
};

}  // namespace

std::unique_ptr<JobStore> open_postgres_job_store(const std::string& uri,
                                                  const StoreOptions& options) {
  return std::make_unique<PostgresJobStore>(uri, options);
}

}  // namespace dancer::store

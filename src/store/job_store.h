// The processing_jobs table behind one interface, for SQLite and PostgreSQL alike.
// The schema is a contract shared with the web backend: see docs/database.md and
// the versioned migrations in migrations.cpp. Implementations are thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace dancer::store {

enum class JobStatus { kProcessing, kCompleted, kFailed };
std::string_view to_string(JobStatus status);  // "processing", "completed", "failed"

// One version of one S3 object: the unit that is processed exactly once.
struct ObjectVersion {
  std::string bucket;
  std::string key;
  std::string etag;        // without quotes; may be empty when the event had none
  std::string version_id;  // empty for unversioned buckets
  std::int64_t size_bytes = 0;
};

struct Job {
  std::int64_t id = 0;
  // Random version 4 UUID (canonical lower-case text), unique across databases: names the
  // job outside this database (its artifacts: RESULTS_PREFIX/job-<uuid>/). Set by claim_job.
  std::string job_uuid;
  ObjectVersion object;
  JobStatus status = JobStatus::kProcessing;
  int retry_count = 0;
  std::string error_message;
  std::string metadata_json;  // empty when not yet known
  std::string results_json;
  std::string report_location;
  std::string worker_id;                             // who holds the lease while processing
  std::string created_at, updated_at, completed_at;  // ISO 8601 UTC; completed_at may be empty
};

enum class ClaimOutcome {
  kClaimed,              // the caller owns the job now and must process it
  kAlreadyCompleted,     // a completed job exists for this object version: skip, delete message
  kAlreadyFailed,        // permanently failed before: skip, delete message
  kInProgressElsewhere,  // another worker holds a live lease: leave the message for later
};

struct ClaimResult {
  ClaimOutcome outcome;
  Job job;
};

enum class StoreErrorCode {
  kUnavailable,  // cannot connect / connection lost: transient
  kBusy,         // locked (SQLITE_BUSY), serialization failure, deadlock: transient
  kLeaseLost,    // the job's lease belongs to another worker now
  kInvalidUrl,   // DATABASE_URL malformed or unsupported scheme: configuration
  kSchema,       // migration failed or schema newer than this build
  // claim_job was given a bucket/key/etag/version_id that is not storable text (invalid
  // UTF-8, a NUL byte, longer than kMaxObjectFieldBytes). Permanent: nothing was stored.
  kInvalidObject,
  kOther,
};

class StoreError : public std::runtime_error {
 public:
  StoreError(StoreErrorCode code, const std::string& message)
      : std::runtime_error(message), code_(code) {}
  StoreErrorCode code() const noexcept { return code_; }
  bool transient() const noexcept {
    return code_ == StoreErrorCode::kUnavailable || code_ == StoreErrorCode::kBusy;
  }

 private:
  StoreErrorCode code_;
};

class JobStore {
 public:
  virtual ~JobStore() = default;

  // Throws StoreError(kInvalidObject), before touching the database, when a field of `object`
  // fails is_storable_object_field (see validate_object).
  // Atomically creates the job (status processing, a new job_uuid from
  // common::random_uuid_v4) or takes over one whose lease expired or that is awaiting retry
  // (keeping its job_uuid; one is assigned if the row has none). `lease` bounds how long a crashed
  // worker can block others.
  virtual ClaimResult claim_job(const ObjectVersion& object, const std::string& worker_id,
                                std::chrono::seconds lease) = 0;
  // Extends the lease (heartbeat). Throws StoreError(kLeaseLost) if another worker owns it.
  virtual void renew_lease(std::int64_t job_id, const std::string& worker_id,
                           std::chrono::seconds lease) = 0;
  // Intermediate facts (metadata) recorded while the job runs.
  virtual void save_metadata(std::int64_t job_id, const std::string& worker_id,
                             const std::string& metadata_json) = 0;
  // status=completed, completed_at=now, results stored, lease released. Durable on return.
  virtual void complete_job(std::int64_t job_id, const std::string& worker_id,
                            const std::string& metadata_json, const std::string& results_json,
                            const std::string& report_location) = 0;
  // status=failed with the reason (through to_storable_text), lease released. Durable on return.
  virtual void fail_job(std::int64_t job_id, const std::string& worker_id,
                        const std::string& error_message) = 0;
  // Transient failure: retry_count+1, error_message kept, status stays processing,
  // lease released so the next delivery can claim it. Returns the new retry_count.
  // error_message goes through to_storable_text.
  virtual int record_retry(std::int64_t job_id, const std::string& worker_id,
                           const std::string& error_message) = 0;
  // Not the file's fault (shutdown, no room on this machine): the lease is released and
  // the reason kept, but retry_count is unchanged, so no attempt is spent. Returns the
  // retry_count.
  virtual int release_job(std::int64_t job_id, const std::string& worker_id,
                          const std::string& reason) = 0;

  virtual std::optional<Job> find_job(std::int64_t job_id) = 0;
  // nullopt for an object claim_job would refuse (it cannot have a row).
  virtual std::optional<Job> find_job(const ObjectVersion& object) = 0;
  virtual std::vector<Job> list_jobs(int limit) = 0;
  virtual int schema_version() = 0;
  // Cheap round trip for readiness probes; false instead of throwing.
  virtual bool ping() = 0;
};

struct StoreOptions {
  // How long one statement waits for a lock another connection holds before failing with
  // StoreError(kBusy). SQLite: sqlite3_busy_timeout on every connection (write transactions
  // use BEGIN IMMEDIATE, so the wait covers the whole transaction). PostgreSQL: the session's
  // lock_timeout (at least 1 ms: PostgreSQL reads 0 as "wait forever").
  std::chrono::milliseconds busy_timeout{30000};
  int pool_size = 4;  // PostgreSQL connections
  // PostgreSQL NOTICE/WARNING messages (RAISE NOTICE in a trigger or function the web
  // backend installed, deprecation warnings...), one call per message without the trailing
  // newline, from the thread that ran the statement. libpq's default prints them to stderr;
  // this store installs its own processor on every connection, so when notice_sink is empty
  // they are dropped. Unused by SQLite.
  std::function<void(std::string_view)> notice_sink;
};

// "sqlite:///relative.db", "sqlite:////abs/path.db", "postgresql://user:pw@host:port/db".
// Opens the database and applies pending migrations. Throws StoreError: kInvalidUrl for a
// malformed URL, kSchema for a failed migration or a newer schema, kBusy when another
// connection held a lock (SQLite's write lock, needed for migrations) for longer than
// busy_timeout, kUnavailable when the database cannot be reached.
std::unique_ptr<JobStore> open_job_store(const std::string& database_url,
                                         const StoreOptions& options = {});

// Delays between the attempts of open_job_store_waiting: doubling from `initial`, at most `max`.
struct OpenBackoff {
  std::chrono::milliseconds initial{250};
  std::chrono::milliseconds max{10000};
  // SQLite only: how long one attempt waits for a lock, at most (the returned store then uses
  // options.busy_timeout). Short, so that `cancel` is seen within about this long.
  std::chrono::milliseconds attempt_busy_timeout{1000};
};

// For start-up: open_job_store, retried while it fails with a transient StoreError (kBusy,
// kUnavailable: the database is locked by another program, the server is restarting), with
// `on_retry(error)` called before each wait. Permanent errors (kInvalidUrl, kSchema, kOther)
// are thrown at once. Returns nullptr when `*cancel` becomes true (checked between attempts
// and during waits; `cancel` may be null).
[[nodiscard]] std::unique_ptr<JobStore> open_job_store_waiting(
    const std::string& database_url, const StoreOptions& options, const std::atomic<bool>* cancel,
    const std::function<void(const StoreError&)>& on_retry, const OpenBackoff& backoff = {});

// The longest bucket, key, etag or version id claim_job accepts: S3's own limit on key length.
inline constexpr std::size_t kMaxObjectFieldBytes = 1024;

// True when `text` can be stored as a text column in both backends and read back unchanged by
// any client: well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates U+D800..U+DFFF,
// nothing above U+10FFFF, no truncated sequences) without NUL bytes. PostgreSQL rejects
// invalid UTF-8 and cuts text at NUL; SQLite stores both, but readers such as Python's
// sqlite3 then fail to decode the row.
bool is_storable_text(std::string_view text);

// `text` with every invalid UTF-8 sequence and every NUL byte replaced by U+FFFD. fail_job and
// record_retry store error messages through it: a failure reason may quote a tool's output,
// and a reason that cannot be stored would leave the job unfinished.
std::string to_storable_text(std::string_view text);

// Throws StoreError(kInvalidObject) naming the first field of `object` that is not storable
// text or is longer than kMaxObjectFieldBytes. The message escapes the offending bytes.
void validate_object(const ObjectVersion& object);
// validate_object as a predicate: false when claim_job would refuse `object`.
bool is_storable_object(const ObjectVersion& object);

// DATABASE_URL with any password replaced by "***", for logs.
std::string redact_database_url(const std::string& database_url);

}  // namespace dancer::store

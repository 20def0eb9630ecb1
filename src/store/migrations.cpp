#include "store/migrations.h"

#include <array>

namespace dancer::store {
namespace {

// Version 2 adds job_uuid, the job's identity outside this database: artifacts are stored
// under it (RESULTS_PREFIX/job-<uuid>/), so deployments sharing a bucket never write to each
// other's objects, which the per-database id would. The service generates it (getrandom, see
// common/uuid.h) when it inserts a row and fills it in when it claims a row that lacks one;
// rows that exist when the migration runs get one from the database's own generator
// (SQLite: randomblob, PostgreSQL 13+: gen_random_uuid).
//
// SQLite: timestamps are ISO 8601 UTC text with milliseconds ("2026-11-23T21:00:00.123Z"),
// which sorts lexicographically in time order, so lease checks compare strings.
// json_valid() keeps the JSON columns as strict as PostgreSQL's JSONB (JSON1 is built into
// SQLite since 3.38).
constexpr std::array kSqliteMigrations{
    Migration{1, "processing_jobs", R"sql(
CREATE TABLE processing_jobs (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  bucket           TEXT    NOT NULL,
  object_key       TEXT    NOT NULL,
  etag             TEXT    NOT NULL DEFAULT '',
  version_id       TEXT    NOT NULL DEFAULT '',
  size_bytes       INTEGER NOT NULL DEFAULT 0 CHECK (size_bytes >= 0),
  status           TEXT    NOT NULL CHECK (status IN ('processing', 'completed', 'failed')),
  retry_count      INTEGER NOT NULL DEFAULT 0 CHECK (retry_count >= 0),
  error_message    TEXT    NOT NULL DEFAULT '',
  metadata_json    TEXT    CHECK (metadata_json IS NULL OR json_valid(metadata_json)),
  results_json     TEXT    CHECK (results_json IS NULL OR json_valid(results_json)),
  report_location  TEXT    NOT NULL DEFAULT '',
  worker_id        TEXT    NOT NULL DEFAULT '',
  lease_expires_at TEXT,
  created_at       TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  updated_at       TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  completed_at     TEXT,
  CONSTRAINT processing_jobs_object_version_key UNIQUE (bucket, object_key, etag, version_id)
);
CREATE INDEX processing_jobs_status_idx ON processing_jobs (status);
CREATE INDEX processing_jobs_created_at_idx ON processing_jobs (created_at);
)sql"},
    Migration{2, "processing_jobs.job_uuid", R"sql(
ALTER TABLE processing_jobs ADD COLUMN job_uuid TEXT;
UPDATE processing_jobs SET job_uuid =
  lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' ||
  substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) ||
  substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6)))
WHERE job_uuid IS NULL;
CREATE UNIQUE INDEX processing_jobs_job_uuid_key ON processing_jobs (job_uuid);
)sql"},
};

// PostgreSQL: JSONB so the web backend can query into results (results_json->>'cadence')
// and invalid JSON is rejected at write time; the service reads it back as text.
constexpr std::array kPostgresMigrations{
    Migration{1, "processing_jobs", R"sql(
CREATE TABLE processing_jobs (
  id               BIGSERIAL   PRIMARY KEY,
  bucket           TEXT        NOT NULL,
  object_key       TEXT        NOT NULL,
  etag             TEXT        NOT NULL DEFAULT '',
  version_id       TEXT        NOT NULL DEFAULT '',
  size_bytes       BIGINT      NOT NULL DEFAULT 0 CHECK (size_bytes >= 0),
  status           TEXT        NOT NULL CHECK (status IN ('processing', 'completed', 'failed')),
  retry_count      INTEGER     NOT NULL DEFAULT 0 CHECK (retry_count >= 0),
  error_message    TEXT        NOT NULL DEFAULT '',
  metadata_json    JSONB,
  results_json     JSONB,
  report_location  TEXT        NOT NULL DEFAULT '',
  worker_id        TEXT        NOT NULL DEFAULT '',
  lease_expires_at TIMESTAMPTZ,
  created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
  completed_at     TIMESTAMPTZ,
  CONSTRAINT processing_jobs_object_version_key UNIQUE (bucket, object_key, etag, version_id)
);
CREATE INDEX processing_jobs_status_idx ON processing_jobs (status);
CREATE INDEX processing_jobs_created_at_idx ON processing_jobs (created_at);
)sql"},
    Migration{2, "processing_jobs.job_uuid", R"sql(
ALTER TABLE processing_jobs ADD COLUMN job_uuid UUID NOT NULL DEFAULT gen_random_uuid();
ALTER TABLE processing_jobs ADD CONSTRAINT processing_jobs_job_uuid_key UNIQUE (job_uuid);
)sql"},
};

static_assert(kSqliteMigrations.size() == kPostgresMigrations.size(),
              "every schema version must exist in both dialects");

}  // namespace

std::span<const Migration> sqlite_migrations() { return kSqliteMigrations; }
std::span<const Migration> postgres_migrations() { return kPostgresMigrations; }
int latest_schema_version() { return kSqliteMigrations.back().version; }

}  // namespace dancer::store

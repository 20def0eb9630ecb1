#include "support/job_store_contract.h"

#include <gmock/gmock.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <map>
#include <mutex>
#include <regex>
#include <thread>
#include <vector>

#include "common/uuid.h"
#include "store/migrations.h"

namespace dancer::testing {
namespace {

using std::chrono::seconds;
using store::ClaimOutcome;
using store::JobStatus;
using store::ObjectVersion;
using store::StoreError;
using store::StoreErrorCode;

constexpr seconds kLongLease{3600};
constexpr seconds kExpiredLease{0};  // expires the moment it is granted

ObjectVersion object(const std::string& key, const std::string& etag = "etag-1",
                     const std::string& version_id = "") {
  return {"uploads", key, etag, version_id, 1234};
}

// A random (version 4) UUID in canonical form.
bool is_uuid_v4(const std::string& text) {
  return common::is_canonical_uuid(text) && text[14] == '4' &&
         std::string_view("89ab").find(text[19]) != std::string_view::npos;
}

bool is_iso_utc(const std::string& text) {
  static const std::regex pattern(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");
  return std::regex_match(text, pattern);
}

// Runs `action` and returns the StoreError code it threw (fails the test if none).
template <typename Action>
StoreErrorCode error_code_of(Action&& action) {
  try {
    action();
  } catch (const StoreError& e) {
    return e.code();
  }
  ADD_FAILURE() << "expected a StoreError";
  return StoreErrorCode::kOther;
}

// What the service does with transient errors: try again.
template <typename Action>
auto retry_transient(Action&& action) {
  for (int attempt = 0;; ++attempt) {
    try {
      return action();
    } catch (const StoreError& e) {
      if (!e.transient() || attempt >= 20) throw;
    }
  }
}

}  // namespace

void JobStoreContract::SetUp() {
  database_ = GetParam().make();
  if (!database_) {
    if (!IsSkipped()) FAIL() << GetParam().name << " backend unavailable";
    return;
  }
}

std::unique_ptr<store::JobStore> JobStoreContract::open(const store::StoreOptions& options) {
  return store::open_job_store(database_->url(), options);
}

std::string backend_name(const ::testing::TestParamInfo<StoreBackend>& info) {
  return info.param.name;
}

TEST_P(JobStoreContract, MigrationsAreAppliedOnceAndReopeningIsANoOp) {
  auto store = open();
  EXPECT_EQ(store->schema_version(), store::latest_schema_version());
  const auto job = store->claim_job(object("a.mp4"), "worker-1", kLongLease).job;
  store.reset();

  auto reopened = open();
  EXPECT_EQ(reopened->schema_version(), store::latest_schema_version());
  EXPECT_EQ(database_->query_integer("SELECT COUNT(*) FROM schema_migrations"),
            static_cast<long long>(store::sqlite_migrations().size()));
  auto found = reopened->find_job(job.id);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->object.key, "a.mp4");
}

TEST_P(JobStoreContract, ClaimingANewObjectCreatesAProcessingJob) {
  auto store = open();
  const auto claim = store->claim_job(object("walk.mp4", "abc", "v1"), "worker-1", kLongLease);
  ASSERT_EQ(claim.outcome, ClaimOutcome::kClaimed);
  const auto& job = claim.job;
  EXPECT_GT(job.id, 0);
  EXPECT_EQ(job.object.bucket, "uploads");
  EXPECT_EQ(job.object.key, "walk.mp4");
  EXPECT_EQ(job.object.etag, "abc");
  EXPECT_EQ(job.object.version_id, "v1");
  EXPECT_EQ(job.object.size_bytes, 1234);
  EXPECT_EQ(job.status, JobStatus::kProcessing);
  EXPECT_EQ(job.retry_count, 0);
  EXPECT_EQ(job.worker_id, "worker-1");
  EXPECT_TRUE(is_iso_utc(job.created_at)) << job.created_at;
  EXPECT_TRUE(is_iso_utc(job.updated_at)) << job.updated_at;
  EXPECT_EQ(job.completed_at, "");
  EXPECT_EQ(job.metadata_json, "");
}

TEST_P(JobStoreContract, EachJobHasItsOwnRandomUuidThatItKeeps) {
  auto store = open();
  const auto first = store->claim_job(object("a.mp4"), "crashed-worker", kExpiredLease).job;
  const auto second = store->claim_job(object("b.mp4"), "worker-1", kLongLease).job;
  EXPECT_TRUE(is_uuid_v4(first.job_uuid)) << first.job_uuid;
  EXPECT_TRUE(is_uuid_v4(second.job_uuid)) << second.job_uuid;
  EXPECT_NE(first.job_uuid, second.job_uuid);
  // Taking over an expired lease, retrying and finishing keep the job's uuid.
  const auto takeover = store->claim_job(object("a.mp4"), "worker-2", kLongLease);
  ASSERT_EQ(takeover.outcome, ClaimOutcome::kClaimed);
  EXPECT_EQ(takeover.job.job_uuid, first.job_uuid);
  store->record_retry(first.id, "worker-2", "transient");
  EXPECT_EQ(store->claim_job(object("a.mp4"), "worker-3", kLongLease).job.job_uuid, first.job_uuid);
  store->complete_job(first.id, "worker-3", "{}", "{}", "");
  EXPECT_EQ(store->find_job(first.id)->job_uuid, first.job_uuid);
  EXPECT_EQ(store->find_job(object("a.mp4"))->job_uuid, first.job_uuid);
  EXPECT_EQ(store->list_jobs(10).back().job_uuid, first.job_uuid);
}

TEST_P(JobStoreContract, JobsOfTwoDatabasesWithTheSameIdHaveDifferentUuids) {
  // Two deployments (staging and production, two clinics) each number their jobs from 1.
  auto other_database = GetParam().make();
  ASSERT_TRUE(other_database);
  auto store = open();
  auto other = store::open_job_store(other_database->url());
  const auto here = store->claim_job(object("a.mp4"), "w", kLongLease).job;
  const auto there = other->claim_job(object("a.mp4"), "w", kLongLease).job;
  EXPECT_EQ(here.id, there.id);
  EXPECT_NE(here.job_uuid, there.job_uuid);
}

TEST_P(JobStoreContract, MigratingFromVersion1GivesExistingRowsAUuid) {
  // A database the previous release created, with rows of every status.
  const bool sqlite = GetParam().name == "SQLite";
  database_->execute(
      "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL "
      "DEFAULT '', applied_at TEXT)");
  database_->execute(std::string(
      (sqlite ? store::sqlite_migrations() : store::postgres_migrations()).front().sql));
  database_->execute("INSERT INTO schema_migrations (version, description) VALUES (1, 'v1')");
  database_->execute(
      "INSERT INTO processing_jobs (bucket, object_key, etag, version_id, size_bytes, status) "
      "VALUES ('uploads', 'done.mp4', 'etag-1', '', 1, 'completed'), "
      "('uploads', 'failed.mp4', 'etag-1', '', 1, 'failed'), "
      "('uploads', 'waiting.mp4', 'etag-1', '', 1, 'processing')");

  auto store = open();
  EXPECT_EQ(store->schema_version(), store::latest_schema_version());
  EXPECT_EQ(database_->query_integer("SELECT COUNT(DISTINCT job_uuid) FROM processing_jobs"), 3);
  for (const auto& job : store->list_jobs(10)) {
    EXPECT_TRUE(is_uuid_v4(job.job_uuid)) << job.object.key << ": " << job.job_uuid;
  }
  // The released job is claimed with the uuid it got.
  const auto before = store->find_job(object("waiting.mp4"))->job_uuid;
  const auto claim = store->claim_job(object("waiting.mp4"), "w", kLongLease);
  ASSERT_EQ(claim.outcome, ClaimOutcome::kClaimed);
  EXPECT_EQ(claim.job.job_uuid, before);
}

TEST_P(JobStoreContract, ARowTheBackendInsertsWithoutAUuidGetsOneWhenClaimed) {
  auto store = open();
  database_->execute(
      "INSERT INTO processing_jobs (bucket, object_key, etag, version_id, size_bytes, status) "
      "VALUES ('uploads', 'by-backend.mp4', 'etag-1', '', 1, 'processing')");
  const auto claim = store->claim_job(object("by-backend.mp4"), "w", kLongLease);
  ASSERT_EQ(claim.outcome, ClaimOutcome::kClaimed);
  EXPECT_TRUE(is_uuid_v4(claim.job.job_uuid)) << claim.job.job_uuid;
  EXPECT_EQ(store->find_job(claim.job.id)->job_uuid, claim.job.job_uuid);
}

TEST_P(JobStoreContract, ClaimingACompletedJobReportsAlreadyCompleted) {
  auto store = open();
  const auto job = store->claim_job(object("a.mp4"), "worker-1", kLongLease).job;
  store->complete_job(job.id, "worker-1", R"({"duration": 1})", R"({"steps": 3})", "s3://r/a");
  const auto again = store->claim_job(object("a.mp4"), "worker-2", kLongLease);
  EXPECT_EQ(again.outcome, ClaimOutcome::kAlreadyCompleted);
  EXPECT_EQ(again.job.id, job.id);
  EXPECT_EQ(again.job.status, JobStatus::kCompleted);
}

TEST_P(JobStoreContract, ClaimingAFailedJobReportsAlreadyFailed) {
  auto store = open();
  const auto job = store->claim_job(object("a.mp4"), "worker-1", kLongLease).job;
  store->fail_job(job.id, "worker-1", "not a video");
  const auto again = store->claim_job(object("a.mp4"), "worker-2", kExpiredLease);
  EXPECT_EQ(again.outcome, ClaimOutcome::kAlreadyFailed);
  EXPECT_EQ(again.job.id, job.id);
  EXPECT_EQ(again.job.error_message, "not a video");
}

TEST_P(JobStoreContract, ALiveLeaseKeepsOtherClaimsOut) {
  auto store = open();
  const auto job = store->claim_job(object("a.mp4"), "worker-1", kLongLease).job;
  const auto other = store->claim_job(object("a.mp4"), "worker-2", kLongLease);
  EXPECT_EQ(other.outcome, ClaimOutcome::kInProgressElsewhere);
  EXPECT_EQ(other.job.id, job.id);
  EXPECT_EQ(other.job.worker_id, "worker-1");
  // Threads of one process share a worker id: a redelivery must not start a second run.
  EXPECT_EQ(store->claim_job(object("a.mp4"), "worker-1", kLongLease).outcome,
            ClaimOutcome::kInProgressElsewhere);
}

TEST_P(JobStoreContract, AnExpiredLeaseIsTakenOverAndCountsAsARetry) {
  auto store = open();
  const auto first = store->claim_job(object("a.mp4"), "crashed-worker", kExpiredLease).job;
  const auto takeover = store->claim_job(object("a.mp4"), "worker-2", kLongLease);
  ASSERT_EQ(takeover.outcome, ClaimOutcome::kClaimed);
  EXPECT_EQ(takeover.job.id, first.id);
  EXPECT_EQ(takeover.job.worker_id, "worker-2");
  EXPECT_EQ(takeover.job.retry_count, 1);
  // The old holder wakes up: its writes must not land.
  EXPECT_EQ(error_code_of([&] { store->complete_job(first.id, "crashed-worker", "", "{}", ""); }),
            StoreErrorCode::kLeaseLost);
  EXPECT_EQ(store->find_job(first.id)->status, JobStatus::kProcessing);
}

TEST_P(JobStoreContract, RenewingALeaseKeepsOthersOut) {
  auto store = open();
  const auto job = store->claim_job(object("a.mp4"), "worker-1", kExpiredLease).job;
  store->renew_lease(job.id, "worker-1", kLongLease);
  EXPECT_EQ(store->claim_job(object("a.mp4"), "worker-2", kLongLease).outcome,
            ClaimOutcome::kInProgressElsewhere);
}

TEST_P(JobStoreContract, OnlyTheLeaseHolderMayUpdateTheJob) {
  auto store = open();
  const auto job = store->claim_job(object("a.mp4"), "worker-1", kLongLease).job;
  const std::string intruder = "worker-2";
  EXPECT_EQ(error_code_of([&] { store->renew_lease(job.id, intruder, kLongLease); }),
            StoreErrorCode::kLeaseLost);
  EXPECT_EQ(error_code_of([&] { store->save_metadata(job.id, intruder, "{}"); }),
            StoreErrorCode::kLeaseLost);
  EXPECT_EQ(error_code_of([&] { store->complete_job(job.id, intruder, "{}", "{}", "x"); }),
            StoreErrorCode::kLeaseLost);
  EXPECT_EQ(error_code_of([&] { store->fail_job(job.id, intruder, "no"); }),
            StoreErrorCode::kLeaseLost);
  EXPECT_EQ(error_code_of([&] { store->record_retry(job.id, intruder, "no"); }),
            StoreErrorCode::kLeaseLost);
  EXPECT_EQ(error_code_of([&] { store->renew_lease(job.id + 1000, "worker-1", kLongLease); }),
            StoreErrorCode::kLeaseLost);

  const auto unchanged = store->find_job(job.id);
  EXPECT_EQ(unchanged->status, JobStatus::kProcessing);
  EXPECT_EQ(unchanged->retry_count, 0);
  EXPECT_EQ(unchanged->metadata_json, "");

  store->complete_job(job.id, "worker-1", "{}", "{}", "s3://r/a");
  // Completion released the lease: a late failure report from the holder is refused.
  EXPECT_EQ(error_code_of([&] { store->fail_job(job.id, "worker-1", "late"); }),
            StoreErrorCode::kLeaseLost);
  EXPECT_EQ(store->find_job(job.id)->status, JobStatus::kCompleted);
}

TEST_P(JobStoreContract, RecordRetryIncrementsAndReleasesTheLease) {
  auto store = open();
  const auto job = store->claim_job(object("a.mp4"), "worker-1", kLongLease).job;
  EXPECT_EQ(store->record_retry(job.id, "worker-1", "S3 timed out"), 1);
  auto after = store->find_job(job.id);
  EXPECT_EQ(after->status, JobStatus::kProcessing);
  EXPECT_EQ(after->retry_count, 1);
  EXPECT_EQ(after->error_message, "S3 timed out");
  // Released: the old holder no longer owns it...
  EXPECT_EQ(error_code_of([&] { store->renew_lease(job.id, "worker-1", kLongLease); }),
            StoreErrorCode::kLeaseLost);
  // ...and the next delivery, on any worker, claims it at once without counting again.
  const auto next = store->claim_job(object("a.mp4"), "worker-2", kLongLease);
  ASSERT_EQ(next.outcome, ClaimOutcome::kClaimed);
  EXPECT_EQ(next.job.id, job.id);
  EXPECT_EQ(next.job.retry_count, 1);
  EXPECT_EQ(next.job.error_message, "S3 timed out");
  EXPECT_EQ(store->record_retry(job.id, "worker-2", "S3 timed out again"), 2);
}

TEST_P(JobStoreContract, ReleaseKeepsTheReasonWithoutSpendingAnAttempt) {
  auto store = open();
  const auto job = store->claim_job(object("a.mp4"), "worker-1", kLongLease).job;
  EXPECT_EQ(store->release_job(job.id, "worker-1", "no room in DOWNLOAD_DIR"), 0);
  EXPECT_EQ(error_code_of([&] { store->release_job(job.id, "worker-1", "again"); }),
            StoreErrorCode::kLeaseLost);
  const auto next = store->claim_job(object("a.mp4"), "worker-2", kLongLease);
  ASSERT_EQ(next.outcome, ClaimOutcome::kClaimed);
  EXPECT_EQ(next.job.retry_count, 0);
  EXPECT_EQ(next.job.error_message, "no room in DOWNLOAD_DIR");
  // A crashed holder (lease expired, never released) does count as an attempt.
  const auto crashed = store->claim_job(object("b.mp4"), "worker-1", std::chrono::seconds(0));
  const auto after_crash = store->claim_job(object("b.mp4"), "worker-2", kLongLease);
  ASSERT_EQ(after_crash.outcome, ClaimOutcome::kClaimed);
  EXPECT_EQ(after_crash.job.id, crashed.job.id);
  EXPECT_EQ(after_crash.job.retry_count, 1);
}

TEST_P(JobStoreContract, CompleteStoresResultsAndCompletedAt) {
  auto store = open();
  const auto job = store->claim_job(object("a.mp4"), "worker-1", kLongLease).job;
  const nlohmann::json early_metadata = {{"format", {{"format_name", "mov,mp4"}}}};
  store->save_metadata(job.id, "worker-1", early_metadata.dump());
  EXPECT_EQ(nlohmann::json::parse(store->find_job(job.id)->metadata_json), early_metadata);

  const nlohmann::json metadata = {{"format", {{"duration", "12.5"}}}, {"streams", {1, 2}}};
  const nlohmann::json results = {{"cadence_spm", 112.5}, {"steps", 23}, {"note", "ünïcødé"}};
  store->complete_job(job.id, "worker-1", metadata.dump(), results.dump(), "s3://reports/a.json");

  const auto done = store->find_job(job.id);
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->status, JobStatus::kCompleted);
  EXPECT_EQ(nlohmann::json::parse(done->metadata_json), metadata);
  EXPECT_EQ(nlohmann::json::parse(done->results_json), results);
  EXPECT_EQ(done->report_location, "s3://reports/a.json");
  EXPECT_TRUE(is_iso_utc(done->completed_at)) << done->completed_at;
  EXPECT_GE(done->completed_at, done->created_at);  // ISO text orders as time
  EXPECT_EQ(error_code_of([&] { store->renew_lease(job.id, "worker-1", kLongLease); }),
            StoreErrorCode::kLeaseLost);
}

TEST_P(JobStoreContract, InvalidJsonIsRejectedAndTheJobStaysClaimed) {
  auto store = open();
  const auto job = store->claim_job(object("a.mp4"), "worker-1", kLongLease).job;
  EXPECT_THROW(store->complete_job(job.id, "worker-1", "{}", "{not json", ""), StoreError);
  EXPECT_EQ(store->find_job(job.id)->status, JobStatus::kProcessing);
  store->complete_job(job.id, "worker-1", "{}", "[]", "");
  EXPECT_EQ(store->find_job(job.id)->status, JobStatus::kCompleted);
}

TEST_P(JobStoreContract, FailStoresTheReason) {
  auto store = open();
  const auto job = store->claim_job(object("a.mp4"), "worker-1", kLongLease).job;
  store->fail_job(job.id, "worker-1", "moov atom not found");
  const auto failed = store->find_job(job.id);
  EXPECT_EQ(failed->status, JobStatus::kFailed);
  EXPECT_EQ(failed->error_message, "moov atom not found");
  EXPECT_TRUE(is_iso_utc(failed->completed_at)) << failed->completed_at;
}

TEST_P(JobStoreContract, FailureReasonsThatAreNotTextAreStoredWithReplacementCharacters) {
  auto store = open();
  const auto job = store->claim_job(object("a.mp4"), "worker-1", kLongLease).job;
  // E.g. an external analyzer's stderr quoted in the reason.
  EXPECT_EQ(store->record_retry(job.id, "worker-1", std::string("tool said \xff\0!", 13)), 1);
  EXPECT_EQ(store->find_job(job.id)->error_message, "tool said \xef\xbf\xbd\xef\xbf\xbd!");
  store->claim_job(object("a.mp4"), "worker-1", kLongLease);
  store->fail_job(job.id, "worker-1", "bad \xc0\x80 bytes");
  const auto failed = store->find_job(job.id);
  EXPECT_EQ(failed->status, JobStatus::kFailed);
  EXPECT_TRUE(store::is_storable_text(failed->error_message)) << failed->error_message;
  EXPECT_EQ(failed->error_message.substr(0, 4), "bad ");
}

TEST_P(JobStoreContract, EachObjectVersionIsItsOwnJob) {
  auto store = open();
  const auto original = store->claim_job(object("a.mp4", "e1", ""), "w", kLongLease);
  store->complete_job(original.job.id, "w", "{}", "{}", "");

  const auto new_etag = store->claim_job(object("a.mp4", "e2", ""), "w", kLongLease);
  const auto new_version = store->claim_job(object("a.mp4", "e1", "v2"), "w", kLongLease);
  auto other_bucket_object = object("a.mp4", "e1", "");
  other_bucket_object.bucket = "other-bucket";
  const auto other_bucket = store->claim_job(other_bucket_object, "w", kLongLease);
  for (const auto* claim : {&new_etag, &new_version, &other_bucket}) {
    EXPECT_EQ(claim->outcome, ClaimOutcome::kClaimed);
    EXPECT_NE(claim->job.id, original.job.id);
  }
  EXPECT_NE(new_etag.job.id, new_version.job.id);
  EXPECT_EQ(store->claim_job(object("a.mp4", "e1", ""), "w", kLongLease).outcome,
            ClaimOutcome::kAlreadyCompleted);
  EXPECT_EQ(store->list_jobs(100).size(), 4u);
}

TEST_P(JobStoreContract, FindsAndListsJobs) {
  auto store = open();
  std::vector<std::int64_t> ids;
  for (const char* key : {"1.mp4", "2.mp4", "3.mp4"}) {
    ids.push_back(store->claim_job(object(key), "w", kLongLease).job.id);
  }
  EXPECT_EQ(store->find_job(ids[1])->object.key, "2.mp4");
  EXPECT_EQ(store->find_job(object("3.mp4"))->id, ids[2]);
  EXPECT_FALSE(store->find_job(ids[2] + 1000).has_value());
  EXPECT_FALSE(store->find_job(object("3.mp4", "other-etag")).has_value());

  const auto newest = store->list_jobs(2);
  ASSERT_EQ(newest.size(), 2u);
  EXPECT_EQ(newest[0].id, ids[2]);
  EXPECT_EQ(newest[1].id, ids[1]);
  EXPECT_TRUE(store->list_jobs(0).empty());
  EXPECT_TRUE(store->ping());
}

TEST_P(JobStoreContract, HostileStringsAreStoredAndReadBackIntact) {
  auto store = open();
  const std::vector<std::string> hostile = {
      "it's \"quoted\"; DROP TABLE processing_jobs; --",
      "Robert'); DELETE FROM schema_migrations;--",
      "ünïcødé 日本語 🕺💃 \u200b zero-width",
      std::string("control \x01\x02\x1f\t\r\n bytes \x7f and \\ backslash % _ ?1 $1"),
      // Keys are at most 1024 bytes (kMaxObjectFieldBytes); "/key" is appended below.
      std::string(1016, 'x') + "long",
  };
  for (std::size_t i = 0; i < hostile.size(); ++i) {
    ObjectVersion version{hostile[i], hostile[i] + "/key", hostile[i], hostile[i],
                          static_cast<std::int64_t>(i)};
    const auto claim = store->claim_job(version, hostile[i], kLongLease);
    ASSERT_EQ(claim.outcome, ClaimOutcome::kClaimed) << i;
    const nlohmann::json results = {{"text", hostile[i]}};
    store->complete_job(claim.job.id, hostile[i], "", results.dump(), hostile[i]);

    const auto stored = store->find_job(version);
    ASSERT_TRUE(stored.has_value()) << i;
    EXPECT_EQ(stored->object.bucket, hostile[i]);
    EXPECT_EQ(stored->object.key, hostile[i] + "/key");
    EXPECT_EQ(stored->object.etag, hostile[i]);
    EXPECT_EQ(stored->object.version_id, hostile[i]);
    EXPECT_EQ(stored->worker_id, hostile[i]);
    EXPECT_EQ(stored->report_location, hostile[i]);
    EXPECT_EQ(nlohmann::json::parse(stored->results_json), results);
  }
  EXPECT_EQ(store->list_jobs(100).size(), hostile.size());
  EXPECT_EQ(store->schema_version(), store::latest_schema_version());
}

TEST_P(JobStoreContract, ObjectsThatAreNotTextAreRejectedAndNothingIsStored) {
  auto store = open();
  // The genuine object K, mid-processing.
  const auto genuine = store->claim_job(object("K"), "worker-1", kLongLease).job;
  const auto before = store->find_job(genuine.id);

  std::vector<ObjectVersion> forged = {
      object("\xff"),                     // "%FF" in an event key, URL-decoded
      object("uploads/\xffwalk.mp4"),     // ... inside a key
      object(std::string("K\0junk", 6)),  // a NUL would cut the key to "K" in PostgreSQL
      object(std::string(1025, 'k')),     // over S3's 1024-byte key limit
      object("\xed\xa0\x80"),             // a UTF-16 surrogate encoded as UTF-8
      object("K", std::string("etag\0x", 6)),
      object("K", "etag-1", "\xc0\x80"),
  };
  forged.push_back(object("K"));
  forged.back().bucket = std::string("uploads\0other", 13);
  for (const auto& version : forged) {
    try {
      store->claim_job(version, "worker-2", kLongLease);
      ADD_FAILURE() << "claimed " << ::testing::PrintToString(version.key);
    } catch (const StoreError& e) {
      EXPECT_EQ(e.code(), StoreErrorCode::kInvalidObject) << e.what();
      EXPECT_FALSE(e.transient());
    }
  }

  // Nothing stored, K's row untouched, and K's own work still goes through.
  EXPECT_EQ(store->list_jobs(100).size(), 1u);
  for (const auto& version : forged) {
    EXPECT_FALSE(store->find_job(version).has_value()) << ::testing::PrintToString(version.key);
  }
  const auto after = store->find_job(genuine.id);
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->status, JobStatus::kProcessing);
  EXPECT_EQ(after->worker_id, "worker-1");
  EXPECT_EQ(after->retry_count, 0);
  EXPECT_EQ(after->updated_at, before->updated_at);
  store->complete_job(genuine.id, "worker-1", "{}", "{}", "");
  EXPECT_EQ(store->claim_job(object("K"), "worker-2", kLongLease).outcome,
            ClaimOutcome::kAlreadyCompleted);

  // The longest key S3 allows is fine.
  const auto longest = store->claim_job(object(std::string(1024, 'k')), "worker-1", kLongLease);
  EXPECT_EQ(longest.outcome, ClaimOutcome::kClaimed);
  EXPECT_EQ(longest.job.object.key, std::string(1024, 'k'));
}

TEST_P(JobStoreContract, ADatabaseFromANewerBuildIsRejected) {
  open().reset();
  database_->execute(
      "INSERT INTO schema_migrations (version, description) VALUES (9999, 'from the future')");
  EXPECT_EQ(error_code_of([&] { open(); }), StoreErrorCode::kSchema);
}

TEST_P(JobStoreContract, ConcurrentClaimsClaimEachObjectExactlyOnce) {
  store::StoreOptions options;
  options.pool_size = 4;
  auto store = open(options);
  constexpr int kThreads = 8, kClaimsPerThread = 200, kObjects = 50;
  std::vector<std::atomic<int>> claimed(kObjects);
  std::atomic<int> unexpected{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string worker = "worker-" + std::to_string(t);
      for (int i = 0; i < kClaimsPerThread; ++i) {
        const int n = (i * 7 + t * 13) % kObjects;  // threads hit objects in different orders
        const auto claim = retry_transient([&] {
          return store->claim_job(object("obj-" + std::to_string(n)), worker, kLongLease);
        });
        if (claim.outcome == ClaimOutcome::kClaimed) {
          ++claimed[n];
        } else if (claim.outcome != ClaimOutcome::kInProgressElsewhere) {
          ++unexpected;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int n = 0; n < kObjects; ++n) EXPECT_EQ(claimed[n].load(), 1) << "object " << n;
  EXPECT_EQ(unexpected.load(), 0);
  EXPECT_EQ(store->list_jobs(1000).size(), static_cast<std::size_t>(kObjects));
}

TEST_P(JobStoreContract, WorkersRacingToTakeOverExpiredLeasesEachWinOnce) {
  auto store = open();
  constexpr int kObjects = 30, kThreads = 6;
  for (int n = 0; n < kObjects; ++n) {
    const auto job =
        store->claim_job(object("stale-" + std::to_string(n)), "crashed", kExpiredLease).job;
    // Half expired (worker died), half released (worker recorded a retry).
    if (n % 2 == 0) store->record_retry(job.id, "crashed", "transient");
  }
  std::vector<std::atomic<int>> claimed(kObjects);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string worker = "rescuer-" + std::to_string(t);
      for (int i = 0; i < kObjects; ++i) {
        const int n = (i + t * 7) % kObjects;
        const auto claim = retry_transient([&] {
          return store->claim_job(object("stale-" + std::to_string(n)), worker, kLongLease);
        });
        if (claim.outcome == ClaimOutcome::kClaimed) ++claimed[n];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int n = 0; n < kObjects; ++n) EXPECT_EQ(claimed[n].load(), 1) << "object " << n;
  for (const auto& job : store->list_jobs(100)) {
    EXPECT_EQ(job.retry_count, 1) << job.object.key;  // counted once, released or expired
    EXPECT_NE(job.worker_id, "crashed");
  }
}

TEST_P(JobStoreContract, TwoStoreInstancesRacingProcessEachObjectExactlyOnce) {
  // Like two service processes on one database: separate pools, separate connections.
  auto first = open();
  auto second = open();
  constexpr int kThreadsPerStore = 3, kObjects = 40, kRounds = 3;
  std::map<int, int> completions;  // object -> times this test completed it
  std::mutex completions_mutex;
  std::vector<std::thread> threads;
  for (int t = 0; t < 2 * kThreadsPerStore; ++t) {
    store::JobStore& store = t % 2 == 0 ? *first : *second;
    threads.emplace_back([&, t] {
      const std::string worker =
          "process-" + std::to_string(t % 2) + "-thread-" + std::to_string(t);
      for (int round = 0; round < kRounds; ++round) {
        for (int n = 0; n < kObjects; ++n) {
          const auto version = object("race-" + std::to_string((n + t * 5) % kObjects));
          const auto claim =
              retry_transient([&] { return store.claim_job(version, worker, kLongLease); });
          if (claim.outcome != ClaimOutcome::kClaimed) continue;
          retry_transient([&] {
            store.complete_job(claim.job.id, worker, "{}", R"({"ok": true})", "");
            return 0;
          });
          std::lock_guard lock(completions_mutex);
          ++completions[(n + t * 5) % kObjects];
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  ASSERT_EQ(completions.size(), static_cast<std::size_t>(kObjects));
  for (const auto& [n, count] : completions) EXPECT_EQ(count, 1) << "object " << n;
  for (const auto& job : first->list_jobs(1000)) EXPECT_EQ(job.status, JobStatus::kCompleted);
}

}  // namespace dancer::testing

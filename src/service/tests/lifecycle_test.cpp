// The message lifecycle walked through every row of the README's outcome table, plus
// crash-redelivery, the poison pill, a busy database at the final write, a full disk and
// shutdown, with in-memory fakes of the queue, the object store and the analysis runner
// and a real SQLite job store (support/fakes.h).
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <thread>

#include "analysis/child_protocol.h"
#include "aws/error.h"
#include "common/sha256.h"
#include "media/metadata.h"
#include "service/download_area.h"
#include "service/events.h"
#include "service/processor.h"
#include "service/service.h"
#include "support/fakes.h"
#include "support/service_harness.h"
#include "support/test_support.h"

namespace dancer::service {
namespace {

using testing::FakeAnalysisRunner;
using testing::FakeObjects;
using testing::FakeQueue;
using testing::FaultyJobStore;

constexpr const char* kBucket = "dancer-uploads";

class Lifecycle : public ::testing::Test {
 protected:
  Lifecycle()
      : real_store_(store::open_job_store("sqlite:///" + (dir_ / "jobs.db").string())),
        store_(*real_store_),
        script_(std::make_shared<FakeAnalysisRunner::Script>()),
        runs_(std::make_shared<std::atomic<int>>(0)) {
    config_.queue.max_receive_count = 3;
    config_.queue.retry_base_delay_seconds = 10;
    config_.download_dir = dir_ / "downloads";
    config_.report_dir = dir_ / "reports";
    config_.download_dir_min_free_bytes = 0;
    std::filesystem::create_directories(dir_ / "work");
  }

  // Uploads `key` and returns the notification S3 would send for it.
  std::string upload(const std::string& key, const std::string& etag = "etag-1",
                     bool with_etag = true) {
    objects_.put(kBucket, key, "video bytes of " + key, etag);
    return make_object_created_body(kBucket, key, 20, with_etag ? etag : "", "us-east-1");
  }

  MessageOutcome process(const std::string& body, int receive_count = 1) {
    return process_with(store_, body, receive_count);
  }

  // As process(), recording in another database (another deployment sharing the bucket).
  MessageOutcome process_with(store::JobStore& store, const std::string& body,
                              int receive_count = 1) {
    auto objects = objects_.connect();
    FakeAnalysisRunner runner(script_, runs_);
    ProcessorDeps deps{
        config_, *objects, store, runner, metrics_, "worker-1", dir_ / "work", config_.report_dir,
        nullptr, nullptr,  {},    {},     {},       {}};
    deps.cancel = &cancel_;
    deps.free_space = free_space_;
    deps.sleep = [this](std::chrono::milliseconds d) { slept_ += d; };
    MessageProcessor processor(std::move(deps));
    aws::SqsMessage message;
    message.message_id = "m-1";
    message.receipt_handle = "r-1";
    message.body = body;
    message.approximate_receive_count = receive_count;
    return processor.process(message);
  }

  // The analysis writes report.html and strides.csv into its report directory, as pose-gait
  // does; each file's content names the job's request id and a running number.
  void analysis_writes_artifacts() {
    script_->run = [runs = runs_](const analysis::AnalysisRequest& request) {
      analysis::AnalysisResult result;
      result.analysis = {{"analyzer", {{"name", "fake"}}}, {"person_detected", true}};
      for (const char* name : {"report.html", "strides.csv"}) {
        std::ofstream(request.report_dir / name)
            << name << " of " << request.job.object_name << ", run " << runs->load();
        result.artifacts.push_back(request.report_dir / name);
      }
      result.report_path = request.report_dir / "report.html";
      return result;
    };
  }

  std::vector<std::string> staged_jobs() const {
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir_ / "downloads" / "staged", ec))
      names.push_back(entry.path().filename().string());
    return names;
  }

  store::Job job(const std::string& key) {
    for (const store::Job& j : store_.list_jobs(100)) {
      if (j.object.key == key) return j;
    }
    ADD_FAILURE() << "no job for " << key;
    return {};
  }

  dancer::testing::TempDir dir_;
  ServiceConfig config_;
  std::unique_ptr<store::JobStore> real_store_;
  FaultyJobStore store_;
  FakeObjects objects_;
  std::shared_ptr<FakeAnalysisRunner::Script> script_;
  std::shared_ptr<std::atomic<int>> runs_;
  Metrics metrics_;
  std::atomic<bool> cancel_{false};
  std::function<std::optional<std::uint64_t>()> free_space_ = [] {
    return std::optional<std::uint64_t>(1ull << 40);
  };
  std::chrono::milliseconds slept_{0};
};

TEST_F(Lifecycle, SuccessCompletesTheRowThenDeletesTheMessage) {
  const auto outcome = process(upload("uploads/walk.mp4"));
  EXPECT_EQ(outcome.action, MessageAction::kDelete);
  const store::Job j = job("uploads/walk.mp4");
  EXPECT_EQ(j.status, store::JobStatus::kCompleted);
  const auto results = nlohmann::json::parse(j.results_json);
  EXPECT_EQ(results["analysis"]["analyzer"]["name"], "fake");
  EXPECT_EQ(results["object"]["etag"], "etag-1");
  EXPECT_EQ(nlohmann::json::parse(j.metadata_json)["streams"][0]["codec_type"], "video");
  EXPECT_EQ(*runs_, 1);
  // The local copy is cleaned up.
  EXPECT_TRUE(std::filesystem::is_empty(dir_ / "work"));
}

TEST_F(Lifecycle, ObjectGoneFailsPermanently) {
  const std::string body = upload("uploads/gone.mp4");
  objects_.erase(kBucket, "uploads/gone.mp4");
  EXPECT_EQ(process(body).action, MessageAction::kDelete);
  const store::Job j = job("uploads/gone.mp4");
  EXPECT_EQ(j.status, store::JobStatus::kFailed);
  EXPECT_NE(j.error_message.find("NoSuchKey"), std::string::npos) << j.error_message;
}

TEST_F(Lifecycle, NotAVideoFailsWithTheFallbackFactsFromTheChild) {
  script_->probe = [](const std::filesystem::path&) -> nlohmann::json {
    throw analysis::child_protocol::ChildReportedMediaError(
        media::MediaErrorCode::kInvalidData, "Invalid data found when processing input",
        {{"size", 20}, {"detected_type", "text/plain"}});
  };
  EXPECT_EQ(process(upload("uploads/notes.mp4")).action, MessageAction::kDelete);
  const store::Job j = job("uploads/notes.mp4");
  EXPECT_EQ(j.status, store::JobStatus::kFailed);
  EXPECT_NE(j.error_message.find("not a readable video"), std::string::npos);
  EXPECT_EQ(nlohmann::json::parse(j.metadata_json)["fallback"]["detected_type"], "text/plain");
  EXPECT_EQ(*runs_, 0);
}

TEST_F(Lifecycle, ProbeLimitFailsPermanentlyAndSaysWhichLimit) {
  script_->probe = [](const std::filesystem::path&) -> nlohmann::json {
    throw media::MediaError(media::MediaErrorCode::kLimitExceeded,
                            "the file has 300 streams, more than the 32 allowed");
  };
  EXPECT_EQ(process(upload("uploads/streams.mkv")).action, MessageAction::kDelete);
  const store::Job j = job("uploads/streams.mkv");
  EXPECT_EQ(j.status, store::JobStatus::kFailed);
  EXPECT_NE(j.error_message.find("safety limit"), std::string::npos) << j.error_message;
  EXPECT_NE(j.error_message.find("300 streams"), std::string::npos) << j.error_message;
}

TEST_F(Lifecycle, NoVideoStreamFailsPermanently) {
  script_->probe = [](const std::filesystem::path&) {
    return nlohmann::json{{"format", {{"duration", "1.0"}}},
                          {"streams", {{{"codec_type", "audio"}}}}};
  };
  process(upload("uploads/audio.m4a"));
  EXPECT_EQ(job("uploads/audio.m4a").error_message, "the file has no video stream");
  EXPECT_EQ(*runs_, 0);
}

TEST_F(Lifecycle, TooLargeFailsBeforeTheDownload) {
  config_.storage.max_file_size_bytes = 5;
  process(upload("uploads/big.mp4"));
  EXPECT_EQ(job("uploads/big.mp4").status, store::JobStatus::kFailed);
  EXPECT_NE(job("uploads/big.mp4").error_message.find("MAX_FILE_SIZE"), std::string::npos);
  EXPECT_EQ(objects_.downloads(), 0);
}

TEST_F(Lifecycle, AnalysisCrashAndTimeoutFailPermanentlyWithTheirOwnReasons) {
  script_->run = [](const analysis::AnalysisRequest&) -> analysis::AnalysisResult {
    throw analysis::AnalysisError(analysis::AnalysisErrorCode::kCrashed,
                                  "analysis process killed by signal 11 (SIGSEGV)");
  };
  EXPECT_EQ(process(upload("uploads/crash.mp4")).action, MessageAction::kDelete);
  EXPECT_NE(job("uploads/crash.mp4").error_message.find("SIGSEGV"), std::string::npos);
  script_->run = [](const analysis::AnalysisRequest&) -> analysis::AnalysisResult {
    throw analysis::AnalysisError(analysis::AnalysisErrorCode::kTimeout,
                                  "analysis exceeded ANALYSIS_TIMEOUT (1800 s)");
  };
  EXPECT_EQ(process(upload("uploads/slow.mp4")).action, MessageAction::kDelete);
  EXPECT_EQ(job("uploads/slow.mp4").status, store::JobStatus::kFailed);
}

TEST_F(Lifecycle, InternalAnalysisFailureIsRetriedLikeInProcess) {
  script_->run = [](const analysis::AnalysisRequest&) -> analysis::AnalysisResult {
    throw analysis::AnalysisError(analysis::AnalysisErrorCode::kInternal, "cannot write");
  };
  const auto outcome = process(upload("uploads/internal.mp4"));
  EXPECT_EQ(outcome.action, MessageAction::kRetryLater);
  EXPECT_EQ(job("uploads/internal.mp4").status, store::JobStatus::kProcessing);
  EXPECT_EQ(job("uploads/internal.mp4").retry_count, 1);
}

TEST_F(Lifecycle, TransientFailureRetriesWithBackoffThenGivesUpAtMaxReceiveCount) {
  const std::string body = upload("uploads/flaky.mp4");
  objects_.fail_downloads(10, aws::ErrorCode::kNetwork);
  auto first = process(body, 1);
  EXPECT_EQ(first.action, MessageAction::kRetryLater);
  EXPECT_EQ(first.delay_seconds, 10);
  auto second = process(body, 2);
  EXPECT_EQ(second.delay_seconds, 20);
  EXPECT_EQ(job("uploads/flaky.mp4").retry_count, 2);
  // Delivery MAX_RECEIVE_COUNT: recorded as failed, left to the redrive policy.
  auto last = process(body, 3);
  EXPECT_EQ(last.action, MessageAction::kRetryLater);
  EXPECT_EQ(job("uploads/flaky.mp4").status, store::JobStatus::kFailed);
  EXPECT_NE(job("uploads/flaky.mp4").error_message.find("gave up after 3 deliveries"),
            std::string::npos);
  // With DEAD_LETTER_QUEUE_URL the message goes there instead.
  config_.queue.dead_letter_queue_url = "https://sqs.example/dlq";
  const std::string other = upload("uploads/flaky2.mp4");
  objects_.fail_downloads(1, aws::ErrorCode::kThrottled);
  EXPECT_EQ(process(other, 3).action, MessageAction::kSendToDeadLetter);
}

TEST_F(Lifecycle, DuplicatesOfAFinishedVersionAreDeletedWithoutWork) {
  const std::string body = upload("uploads/dup.mp4");
  process(body);
  EXPECT_EQ(process(body).action, MessageAction::kDelete);
  EXPECT_EQ(*runs_, 1);
  EXPECT_EQ(metrics_.snapshot().messages_duplicate, 1);
}

TEST_F(Lifecycle, AReuploadWithoutETagInTheEventIsNotADuplicate) {
  process(upload("uploads/same.mp4", "etag-A", /*with_etag=*/false));
  // A new upload of the same key: the event again lacks the ETag.
  process(upload("uploads/same.mp4", "etag-B", /*with_etag=*/false));
  EXPECT_EQ(*runs_, 2);
  int completed = 0;
  for (const store::Job& j : store_.list_jobs(10)) {
    completed += j.status == store::JobStatus::kCompleted ? 1 : 0;
    EXPECT_FALSE(j.object.etag.empty());
  }
  EXPECT_EQ(completed, 2);
}

TEST_F(Lifecycle, MalformedTestAndForeignMessagesAreDeletedWithoutARow) {
  EXPECT_EQ(process("not json").action, MessageAction::kDelete);
  EXPECT_EQ(metrics_.snapshot().messages_malformed, 1);
  EXPECT_EQ(process(R"({"Service":"Amazon S3","Event":"s3:TestEvent"})").action,
            MessageAction::kDelete);
  objects_.put("other-bucket", "uploads/x.mp4", "x", "e");
  EXPECT_EQ(process(make_object_created_body("other-bucket", "uploads/x.mp4", 1, "e", "us-east-1"))
                .action,
            MessageAction::kDelete);
  EXPECT_EQ(process(upload("elsewhere/x.mp4")).action, MessageAction::kDelete);
  EXPECT_TRUE(store_.list_jobs(10).empty());
}

TEST_F(Lifecycle, ShutdownReturnsTheMessageAndReleasesTheLease) {
  script_->hold = std::make_shared<std::atomic<bool>>(false);
  std::thread stopper([this] {
    while (*runs_ == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    cancel_ = true;
  });
  const auto outcome = process(upload("uploads/stop.mp4"));
  stopper.join();
  EXPECT_EQ(outcome.action, MessageAction::kReturnNow);
  const store::Job j = job("uploads/stop.mp4");
  EXPECT_EQ(j.status, store::JobStatus::kProcessing);
  EXPECT_EQ(j.error_message, "interrupted by shutdown");
  // Released: another worker can claim it at once.
  auto claim = store_.claim_job(j.object, "worker-2", std::chrono::seconds(60));
  EXPECT_EQ(claim.outcome, store::ClaimOutcome::kClaimed);
}

TEST_F(Lifecycle, ABusyDatabaseAtTheFinalWriteKeepsTheFinishedWork) {
  store_.fail_next("complete_job", 4, store::StoreErrorCode::kBusy);
  const auto outcome = process(upload("uploads/busy.mp4"));
  EXPECT_EQ(outcome.action, MessageAction::kDelete);
  EXPECT_EQ(job("uploads/busy.mp4").status, store::JobStatus::kCompleted);
  EXPECT_EQ(store_.calls("complete_job"), 5);
  EXPECT_EQ(*runs_, 1);  // the analysis was not redone
  // Backoff between the attempts: 250 + 500 + 1000 + 2000 ms.
  EXPECT_EQ(slept_.count(), 3750);
}

TEST_F(Lifecycle, ABusyDatabaseAtAPermanentFailureIsRetriedToo) {
  store_.fail_next("fail_job", 2, store::StoreErrorCode::kBusy);
  config_.storage.max_file_size_bytes = 5;
  EXPECT_EQ(process(upload("uploads/big-busy.mp4")).action, MessageAction::kDelete);
  EXPECT_EQ(job("uploads/big-busy.mp4").status, store::JobStatus::kFailed);
}

TEST_F(Lifecycle, ADatabaseThatStaysBusyReturnsTheMessageInsteadOfDeletingIt) {
  store_.fail_next("complete_job", 1000, store::StoreErrorCode::kBusy);
  const auto outcome = process(upload("uploads/locked.mp4"));
  EXPECT_EQ(outcome.action, MessageAction::kRetryLater);
  EXPECT_EQ(job("uploads/locked.mp4").status, store::JobStatus::kProcessing);
  EXPECT_GE(slept_, std::chrono::duration_cast<std::chrono::milliseconds>(kDurableWriteBudget) -
                        std::chrono::seconds(15));
}

TEST_F(Lifecycle, CrashRedeliveryIsProcessedByTheNextConsumer) {
  const std::string body = upload("uploads/crashed.mp4");
  // A consumer claimed the job and died: its lease expires.
  store::ObjectVersion version{kBucket, "uploads/crashed.mp4", "etag-1", "", 20};
  ASSERT_EQ(store_.claim_job(version, "dead-worker", std::chrono::seconds(0)).outcome,
            store::ClaimOutcome::kClaimed);
  EXPECT_EQ(process(body, 2).action, MessageAction::kDelete);
  EXPECT_EQ(job("uploads/crashed.mp4").status, store::JobStatus::kCompleted);
}

TEST_F(Lifecycle, PoisonPillIsGivenUpBeforeWorkAfterMaxReceiveCountCrashes) {
  const std::string body = upload("uploads/poison.mp4");
  store::ObjectVersion version{kBucket, "uploads/poison.mp4", "etag-1", "", 20};
  // Deliveries 1 and 2 each killed the process mid-job: each left its lease to expire.
  for (int crash = 0; crash < 2; ++crash) {
    ASSERT_EQ(store_.claim_job(version, "dead-worker", std::chrono::seconds(0)).outcome,
              store::ClaimOutcome::kClaimed);
  }
  // Delivery 3 reaches MAX_RECEIVE_COUNT (3) after an attempt that ended with the process.
  const auto outcome = process(body, 3);
  EXPECT_EQ(*runs_, 0);
  EXPECT_EQ(objects_.downloads(), 0);
  EXPECT_EQ(outcome.action, MessageAction::kRetryLater);  // left to the redrive policy
  const store::Job j = job("uploads/poison.mp4");
  EXPECT_EQ(j.status, store::JobStatus::kFailed);
  EXPECT_NE(j.error_message.find("gave up after 2 deliveries, the last without an outcome"),
            std::string::npos)
      << j.error_message;
  // Its next delivery is a duplicate of a failed job: deleted.
  EXPECT_EQ(process(body, 4).action, MessageAction::kDelete);
}

TEST_F(Lifecycle, TheLastDeliveryAfterRecordedFailuresStillDoesTheWork) {
  // Not a poison pill: the earlier attempts ended with recorded transient failures.
  const std::string body = upload("uploads/unlucky.mp4");
  objects_.fail_downloads(2, aws::ErrorCode::kNetwork);
  process(body, 1);
  process(body, 2);
  EXPECT_EQ(process(body, 3).action, MessageAction::kDelete);
  EXPECT_EQ(job("uploads/unlucky.mp4").status, store::JobStatus::kCompleted);
}

TEST_F(Lifecycle, AWorkerKilledOnceIsNotAPoisonPillBeforeTheLastDelivery) {
  const std::string body = upload("uploads/evicted.mp4");
  store::ObjectVersion version{kBucket, "uploads/evicted.mp4", "etag-1", "", 20};
  ASSERT_EQ(store_.claim_job(version, "evicted-pod", std::chrono::seconds(0)).outcome,
            store::ClaimOutcome::kClaimed);
  EXPECT_EQ(process(body, 2).action, MessageAction::kDelete);
  EXPECT_EQ(job("uploads/evicted.mp4").status, store::JobStatus::kCompleted);
}

TEST_F(Lifecycle, AFullDiskNeverSpendsTheGiveUpBudget) {
  free_space_ = [] { return std::optional<std::uint64_t>(1000); };
  config_.download_dir_min_free_bytes = 64ull << 20;
  const std::string body = upload("uploads/room.mp4");
  for (int delivery = 1; delivery <= 5; ++delivery) {
    const auto outcome = process(body, delivery);
    EXPECT_EQ(outcome.action, MessageAction::kRequeue) << delivery;
    EXPECT_EQ(job("uploads/room.mp4").status, store::JobStatus::kProcessing) << delivery;
  }
  EXPECT_NE(job("uploads/room.mp4").error_message.find("DOWNLOAD_DIR_MIN_FREE"), std::string::npos);
  EXPECT_EQ(objects_.downloads(), 0);
  // Room again: the job completes (no poison pill: every delivery recorded its outcome).
  free_space_ = [] { return std::optional<std::uint64_t>(1ull << 40); };
  EXPECT_EQ(process(body, 6).action, MessageAction::kDelete);
  EXPECT_EQ(job("uploads/room.mp4").status, store::JobStatus::kCompleted);
}

TEST_F(Lifecycle, DiskFullDuringTheDownloadIsNoRoomNotAFailure) {
  const std::string body = upload("uploads/enospc.mp4");
  objects_.fail_downloads(1, aws::ErrorCode::kLocalIo);
  // Room before the download; the file system filled up while it ran.
  config_.download_dir_min_free_bytes = 1 << 20;
  auto calls = std::make_shared<int>(0);
  free_space_ = [calls] { return std::optional<std::uint64_t>(++*calls == 1 ? 1ull << 40 : 1000); };
  EXPECT_EQ(process(body, 3).action, MessageAction::kRequeue);
  EXPECT_EQ(job("uploads/enospc.mp4").status, store::JobStatus::kProcessing);
  EXPECT_EQ(job("uploads/enospc.mp4").retry_count, 0);
}

TEST_F(Lifecycle, ALocalWriteErrorWithRoomLeftIsTransientAndSpendsAttempts) {
  // EIO, EACCES, EMFILE: not a full disk, so not retried for ever.
  const std::string body = upload("uploads/eio.mp4");
  objects_.fail_downloads(3, aws::ErrorCode::kLocalIo);
  EXPECT_EQ(process(body, 1).action, MessageAction::kRetryLater);
  EXPECT_EQ(job("uploads/eio.mp4").retry_count, 1);
  process(body, 2);
  process(body, 3);
  EXPECT_EQ(job("uploads/eio.mp4").status, store::JobStatus::kFailed);
}

// --- artifacts: published after the analysis, which is never redone for them ----------

TEST_F(Lifecycle, ArtifactUploadsFailingWith503AreRetriedAndTheAnalysisRunsOnce) {
  config_.storage.results_prefix = "results/";
  analysis_writes_artifacts();
  const std::string body = upload("uploads/s3-down.mp4");
  // S3 refuses every upload for a while: the five attempts of the first delivery and two
  // more.
  objects_.fail_puts(kUploadAttempts + 2, 503, "ServiceUnavailable");
  const auto first = process(body, 1);
  EXPECT_EQ(first.action, MessageAction::kRetryLater);
  EXPECT_EQ(job("uploads/s3-down.mp4").status, store::JobStatus::kProcessing);
  EXPECT_EQ(job("uploads/s3-down.mp4").retry_count, 1);
  EXPECT_EQ(objects_.failed_puts(), kUploadAttempts);
  // Backoff between the upload attempts inside the job: 2 + 4 + 8 + 16 s.
  EXPECT_EQ(slept_.count(), 30000);
  // The finished analysis waits in DOWNLOAD_DIR/staged, and a restart's sweep of the work
  // directories leaves it there.
  EXPECT_EQ(staged_jobs().size(), 1u);
  { DownloadArea restarted(dir_ / "downloads", "restarted"); }
  EXPECT_EQ(staged_jobs().size(), 1u);

  const auto second = process(body, 2);
  EXPECT_EQ(second.action, MessageAction::kDelete);
  const store::Job j = job("uploads/s3-down.mp4");
  EXPECT_EQ(j.status, store::JobStatus::kCompleted);
  EXPECT_EQ(*runs_, 1);                // analysed once
  EXPECT_EQ(objects_.downloads(), 1);  // downloaded once
  EXPECT_TRUE(staged_jobs().empty());
  const auto results = nlohmann::json::parse(j.results_json);
  ASSERT_EQ(results["artifacts"].size(), 2u);
  for (const auto& artifact : results["artifacts"]) {
    const std::string key = "results/job-" + j.job_uuid + "/" + artifact["name"].get<std::string>();
    EXPECT_EQ(artifact["location"], "s3://" + std::string(kBucket) + "/" + key);
    const auto stored = objects_.get(kBucket, key);
    ASSERT_TRUE(stored.has_value()) << key;
    EXPECT_EQ(artifact["size_bytes"], stored->bytes.size());
    EXPECT_EQ(artifact["sha256"], common::sha256_hex(stored->bytes));
  }
  EXPECT_EQ(results["report_location"],
            "s3://" + std::string(kBucket) + "/results/job-" + j.job_uuid + "/report.html");
}

TEST_F(Lifecycle, AnUploadAnsweredWithRequestTimeout400IsRetriedInTheSameDelivery) {
  config_.storage.results_prefix = "results/";
  analysis_writes_artifacts();
  objects_.fail_puts(2, 400, "RequestTimeout");
  EXPECT_EQ(process(upload("uploads/idle-socket.mp4"), 1).action, MessageAction::kDelete);
  EXPECT_EQ(job("uploads/idle-socket.mp4").status, store::JobStatus::kCompleted);
  EXPECT_EQ(objects_.failed_puts(), 2);
  EXPECT_EQ(*runs_, 1);
}

TEST_F(Lifecycle, APermanentUploadFailureFailsTheJobAndDeletesTheArtifactsAlreadyUploaded) {
  config_.storage.results_prefix = "results/";
  analysis_writes_artifacts();
  // report.html is uploaded; strides.csv is refused for good.
  objects_.fail_puts(1, 400, "InvalidArgument", /*skip=*/1);
  EXPECT_EQ(process(upload("uploads/refused.mp4"), 1).action, MessageAction::kDelete);
  const store::Job j = job("uploads/refused.mp4");
  EXPECT_EQ(j.status, store::JobStatus::kFailed);
  EXPECT_NE(j.error_message.find("InvalidArgument"), std::string::npos) << j.error_message;
  EXPECT_EQ(objects_.failed_puts(), 1);  // not retried
  EXPECT_TRUE(objects_.keys(kBucket, "results/").empty());
  EXPECT_GE(objects_.removes(), 1);
  EXPECT_TRUE(staged_jobs().empty());
}

TEST_F(Lifecycle, GivingUpOnUploadsDeletesWhatEarlierDeliveriesUploaded) {
  config_.storage.results_prefix = "results/";
  analysis_writes_artifacts();
  const std::string body = upload("uploads/never.mp4");
  objects_.fail_puts(1000, 503, "SlowDown", /*skip=*/1);
  EXPECT_EQ(process(body, 1).action, MessageAction::kRetryLater);
  EXPECT_EQ(objects_.keys(kBucket, "results/").size(), 1u);  // report.html made it
  EXPECT_EQ(process(body, 2).action, MessageAction::kRetryLater);
  EXPECT_EQ(process(body, 3).action, MessageAction::kRetryLater);  // given up: redrive policy
  const store::Job j = job("uploads/never.mp4");
  EXPECT_EQ(j.status, store::JobStatus::kFailed);
  EXPECT_NE(j.error_message.find("gave up after 3 deliveries"), std::string::npos);
  EXPECT_TRUE(objects_.keys(kBucket, "results/").empty());
  EXPECT_TRUE(staged_jobs().empty());
  EXPECT_EQ(*runs_, 1);
}

TEST_F(Lifecycle, AFailedJobLeavesNothingInReportDirEither) {
  analysis_writes_artifacts();
  // The files are copied to REPORT_DIR, then the final write fails on every delivery.
  store_.fail_next("complete_job", 1000, store::StoreErrorCode::kOther);
  const std::string body = upload("uploads/local.mp4");
  EXPECT_EQ(process(body, 1).action, MessageAction::kRetryLater);
  const auto dir = config_.report_dir / ("job-" + job("uploads/local.mp4").job_uuid);
  EXPECT_TRUE(std::filesystem::exists(dir / "report.html"));
  process(body, 2);
  process(body, 3);
  EXPECT_EQ(job("uploads/local.mp4").status, store::JobStatus::kFailed);
  EXPECT_FALSE(std::filesystem::exists(dir));
  EXPECT_TRUE(staged_jobs().empty());
  EXPECT_EQ(*runs_, 1);
}

TEST_F(Lifecycle, ABusyDatabaseAfterTheUploadsPublishesTheStagedAnalysisNextTime) {
  config_.storage.results_prefix = "results/";
  analysis_writes_artifacts();
  store_.fail_next("complete_job", 1000, store::StoreErrorCode::kBusy);
  EXPECT_EQ(process(upload("uploads/db-down.mp4"), 1).action, MessageAction::kRetryLater);
  store_.fail_next("complete_job", 0, store::StoreErrorCode::kBusy);
  EXPECT_EQ(process(upload("uploads/db-down.mp4"), 2).action, MessageAction::kDelete);
  EXPECT_EQ(job("uploads/db-down.mp4").status, store::JobStatus::kCompleted);
  EXPECT_EQ(*runs_, 1);
}

TEST_F(Lifecycle, ArtifactsOfTwoDatabasesSharingABucketDoNotOverwriteEachOther) {
  config_.storage.results_prefix = "results/";
  analysis_writes_artifacts();
  // Staging and production: each database numbers its jobs from 1.
  auto other_store = store::open_job_store("sqlite:///" + (dir_ / "other.db").string());
  process(upload("uploads/patient-a.mp4"));
  process_with(*other_store, upload("uploads/patient-b.mp4"));
  const store::Job a = job("uploads/patient-a.mp4");
  const store::Job b = other_store->list_jobs(1).front();
  ASSERT_EQ(a.id, b.id);
  EXPECT_NE(a.job_uuid, b.job_uuid);
  EXPECT_EQ(objects_.keys(kBucket, "results/").size(), 4u);
  // Each row's listing still matches what is stored at its locations.
  for (const store::Job& j : {a, b}) {
    const nlohmann::json results = nlohmann::json::parse(j.results_json);
    for (const auto& artifact : results["artifacts"]) {
      const std::string location = artifact["location"];
      const std::string key =
          location.substr(std::string("s3://").size() + std::strlen(kBucket) + 1);
      EXPECT_EQ(key.rfind("results/job-" + j.job_uuid + "/", 0), 0u) << key;
      const auto stored = objects_.get(kBucket, key);
      ASSERT_TRUE(stored.has_value()) << key;
      EXPECT_EQ(artifact["sha256"], common::sha256_hex(stored->bytes)) << key;
    }
  }
}

// --- the whole service, with the fakes behind ServiceDependencies --------------------

class ServiceLifecycle : public Lifecycle {
 protected:
  ServiceDependencies dependencies() {
    ServiceDependencies deps;
    deps.make_work_queue = [this] { return queue_.connect(); };
    deps.make_object_store = [this] { return objects_.connect(); };
    deps.make_analysis_runner = [this] {
      return std::make_unique<FakeAnalysisRunner>(script_, runs_);
    };
    deps.open_job_store = [this](const std::atomic<bool>*) {
      return std::make_unique<FaultyJobStore>(*real_store_);
    };
    return deps;
  }
  ServiceConfig service_config() {
    ServiceConfig c = config_;
    c.health_port = 0;
    c.queue.wait_time_seconds = 1;
    c.queue.visibility_timeout_seconds = 30;
    c.shutdown_timeout_seconds = 1;
    c.stats_interval_seconds = 3600;
    return c;
  }
  FakeQueue queue_;
};

TEST_F(ServiceLifecycle, UntilEmptyWaitsForAMessageAKilledProcessLeftInFlight) {
  queue_.send(upload("uploads/a.mp4"));
  queue_.send(upload("uploads/b.mp4"));
  // A killed process had received b: it stays invisible for 2 s, then comes back.
  ASSERT_EQ(queue_.receive_as_other_consumer(1, 2).size(), 1u);
  Service service(service_config(), dependencies());
  EXPECT_EQ(service.run(RunOptions{true}), 0);
  EXPECT_EQ(queue_.size(), 0u);
  EXPECT_EQ(job("uploads/a.mp4").status, store::JobStatus::kCompleted);
  EXPECT_EQ(job("uploads/b.mp4").status, store::JobStatus::kCompleted);
}

TEST_F(ServiceLifecycle, UntilEmptyWaitsForDelayedMessages) {
  queue_.send(upload("uploads/later.mp4"), /*delay_seconds=*/2);
  Service service(service_config(), dependencies());
  EXPECT_EQ(service.run(RunOptions{true}), 0);
  EXPECT_EQ(job("uploads/later.mp4").status, store::JobStatus::kCompleted);
}

TEST_F(ServiceLifecycle, StopDuringAJobReturnsItsMessageAtOnce) {
  script_->hold = std::make_shared<std::atomic<bool>>(false);
  const std::string id = queue_.send(upload("uploads/running.mp4"));
  Service service(service_config(), dependencies());
  std::thread stopper([&] {
    while (*runs_ == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    service.request_stop();
  });
  EXPECT_EQ(service.run(RunOptions{}), 0);
  stopper.join();
  EXPECT_EQ(queue_.size(), 1u);
  EXPECT_EQ(queue_.last_visibility(id), 0);
  EXPECT_EQ(job("uploads/running.mp4").error_message, "interrupted by shutdown");
}

TEST_F(ServiceLifecycle, NoRoomSendsTheMessageAgainSoItsReceiveCountNeverGrows) {
  config_.download_dir_max_bytes = 10;  // below the file's size: no room for this one
  config_.queue.retry_base_delay_seconds = 1;
  const std::string first = queue_.send(upload("uploads/wide.mp4"));
  Service service(service_config(), dependencies());
  std::thread stopper([&] {
    // Several rounds of "no room": each is a fresh message received once.
    dancer::testing::ServiceHarness::wait_until([&] { return queue_.deletes() >= 3; }, 30);
    service.request_stop();
  });
  EXPECT_EQ(service.run(RunOptions{}), 0);
  stopper.join();
  EXPECT_EQ(queue_.size(), 1u);
  EXPECT_EQ(queue_.receive_count(first), -1);  // the original is gone
  EXPECT_EQ(job("uploads/wide.mp4").status, store::JobStatus::kProcessing);
  EXPECT_EQ(job("uploads/wide.mp4").retry_count, 0);
  EXPECT_EQ(*runs_, 0);
}

TEST_F(ServiceLifecycle, DeletesOnlyAfterTheOutcomeIsDurable) {
  // The first final write fails; the message must still be there when it does.
  queue_.send(upload("uploads/durable.mp4"));
  Service service(service_config(), [&] {
    ServiceDependencies deps = dependencies();
    deps.open_job_store = [this](const std::atomic<bool>*) {
      auto store = std::make_unique<FaultyJobStore>(*real_store_);
      store->fail_next("complete_job", 1, store::StoreErrorCode::kBusy);
      return store;
    };
    return deps;
  }());
  EXPECT_EQ(service.run(RunOptions{true}), 0);
  EXPECT_EQ(queue_.size(), 0u);
  EXPECT_EQ(queue_.deletes(), 1);
  EXPECT_EQ(job("uploads/durable.mp4").status, store::JobStatus::kCompleted);
}

}  // namespace
}  // namespace dancer::service

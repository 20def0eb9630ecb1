// The life of one SQS message: parse, claim each object version in the job store,
// download, extract metadata, analyse, record the outcome, clean up, and decide what
// happens to the message. The message is deleted only after every object it names
// has a durable terminal outcome in the database.
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "aws/sqs_client.h"
#include "service/analysis_runner.h"
#include "service/config.h"
#include "service/events.h"
#include "service/metrics.h"
#include "service/ports.h"
#include "service/staging.h"
#include "store/job_store.h"

namespace dancer::service {

enum class MessageAction {
  kDelete,      // every object reached a recorded terminal state (or nothing to do)
  kRetryLater,  // make visible again after delay_seconds (ChangeMessageVisibility)
  kReturnNow,   // interrupted by shutdown: visibility 0
  // Sent again as a new message (after delay_seconds) and this one deleted: for outcomes
  // that are not the file's fault (no room), so they never use up the message's receive
  // count, which a redrive policy would count towards the dead-letter queue.
  kRequeue,
  kSendToDeadLetter  // DEAD_LETTER_QUEUE_URL: copy the body there, then delete
};

struct MessageOutcome {
  MessageAction action = MessageAction::kDelete;
  int delay_seconds = 0;
  std::string summary;
};

// How a failure is handled, decided from the error's type and code only.
//  kPermanent: the job fails with the reason, the message is deleted.
//  kTransient: retried on a later delivery, until MAX_RECEIVE_COUNT deliveries are spent.
//  kNoRoom:    this machine cannot take the file now (disk full); retried later without
//              spending the give-up budget, since the file is not at fault.
//  kCancelled: shutdown; the message goes straight back.
enum class FailureClass { kPermanent, kTransient, kNoRoom, kCancelled };
struct ClassifiedFailure {
  FailureClass kind;
  std::string reason;
};
// Call inside a catch block (uses std::current_exception()).
ClassifiedFailure classify_current_exception();

// Exponential backoff for redelivery after a transient failure: base * 2^(n-1), capped.
int retry_delay_seconds(const QueueSettings& settings, int receive_count);

// A local file name for an object: never derived from the key's path components, so a
// hostile key ("../../etc/passwd", NUL-free but anything else) cannot escape the directory.
std::string local_file_name(std::int64_t job_id, const std::string& key);

struct ProcessorDeps {
  const ServiceConfig& config;
  ObjectStore& objects;
  store::JobStore& store;
  AnalysisRunner& analysis;
  Metrics& metrics;
  std::string worker_id;
  std::filesystem::path work_dir;     // this process's private download directory
  std::filesystem::path reports_dir;  // where HTML reports are kept (REPORT_DIR)
  // Set when shutdown is requested: a probe in progress ends at once (it is cheap to redo).
  const std::atomic<bool>* stop = nullptr;
  // Set when SHUTDOWN_TIMEOUT has passed: every running step aborts.
  const std::atomic<bool>* cancel = nullptr;
  // Called with the job id once it is claimed, so the heartbeat can renew its lease.
  std::function<void(std::int64_t job_id)> on_job_claimed;
  // Bytes currently in DOWNLOAD_DIR (all workers), for DOWNLOAD_DIR_MAX_BYTES.
  std::function<std::uint64_t()> download_dir_usage;
  // Free bytes where downloads go; unset: std::filesystem::space(work_dir).
  std::function<std::optional<std::uint64_t>()> free_space;
  // How the processor waits between attempts at a durable write or an upload; unset:
  // sleeps, waking early when cancel is set.
  std::function<void(std::chrono::milliseconds)> sleep;
  // Where finished analyses wait for their artifacts to be published (staging.h); empty:
  // DOWNLOAD_DIR/staged.
  std::filesystem::path staging_dir = {};
};

// How long the outcome of a finished job is retried against a busy or unreachable
// database before the message is returned (the heartbeat keeps message and lease alive
// meanwhile, so the work is not redone while this lasts).
inline constexpr std::chrono::seconds kDurableWriteBudget{600};

// Attempts at uploading one artifact within a job before the delivery is given up as a
// transient failure (its staged analysis is then published by the next delivery), and the
// wait before the second attempt (doubling: 2 + 4 + 8 + 16 s between five attempts). Each
// attempt is itself a few tries of the S3 client (aws::RetryPolicy).
inline constexpr int kUploadAttempts = 5;
inline constexpr std::chrono::milliseconds kUploadRetryDelay{2000};

class MessageProcessor {
 public:
  explicit MessageProcessor(ProcessorDeps deps)
      : deps_(std::move(deps)),
        staging_(deps_.staging_dir.empty() ? deps_.config.download_dir / "staged"
                                           : deps_.staging_dir) {}
  MessageOutcome process(const aws::SqsMessage& message);

 private:
  enum class ObjectResult { kDone, kRetry, kNoRoom, kInterrupted, kBusyElsewhere, kGaveUp };
  // What one attempt at a job reached, for the failure handling.
  struct JobAttempt {
    bool publishing = false;  // it started storing artifacts
  };
  struct Fetched {
    aws::ObjectInfo head;        // HeadObject (or the claim's)
    aws::ObjectInfo downloaded;  // what the download received
  };
  struct PublishedArtifacts {
    nlohmann::json listing;  // results_json.artifacts
    std::string report_location;
  };

  // One object of a message, in its phases: accepted, its version identified, its job
  // claimed, the poison-pill rule, the job run, and a failure's outcome recorded.
  ObjectResult process_object(const ObjectCreated& object, const aws::SqsMessage& message);
  bool accepts(const ObjectCreated& object, const aws::SqsMessage& message) const;
  std::optional<ObjectResult> identify_version(const ObjectCreated& object,
                                               const aws::SqsMessage& message,
                                               store::ObjectVersion& version,
                                               std::optional<aws::ObjectInfo>& head);
  std::optional<ObjectResult> claim(const ObjectCreated& object, const aws::SqsMessage& message,
                                    const store::ObjectVersion& version,
                                    store::ClaimResult& claimed,
                                    std::optional<int>& retries_before);
  std::optional<ObjectResult> give_up_if_spent(const store::Job& job, const ObjectCreated& object,
                                               const aws::SqsMessage& message,
                                               std::optional<int> retries_before);
  ObjectResult record_failure(const store::Job& job, const ObjectCreated& object,
                              const aws::SqsMessage& message, const JobAttempt& attempt);
  // The phases of a job, in order.
  void run_job(const store::Job& job, const ObjectCreated& object,
               std::optional<aws::ObjectInfo> head, JobAttempt& attempt);
  StagedJob analyse_and_stage(const store::Job& job, const ObjectCreated& object,
                              std::optional<aws::ObjectInfo> head);
  Fetched fetch(const ObjectCreated& object, std::optional<aws::ObjectInfo> head,
                const std::filesystem::path& local);
  nlohmann::json probe(const store::Job& job, const ObjectCreated& object,
                       const std::filesystem::path& local);
  analysis::AnalysisResult analyse(const store::Job& job, const ObjectCreated& object,
                                   const aws::ObjectInfo& head, const nlohmann::json& metadata,
                                   const std::filesystem::path& local,
                                   const std::filesystem::path& report_dir);
  // The web-playable copy and poster (PROXY_ENABLED), after the analysis. Their failure is
  // not the job's: it returns no files and the warning proxy_failed. Cancellation (shutdown)
  // is rethrown.
  struct ProxyStep {
    std::vector<std::filesystem::path> files;
    std::optional<std::string> warning;
  };
  ProxyStep make_proxy(const store::Job& job, const std::filesystem::path& local,
                       const std::filesystem::path& report_dir);
  PublishedArtifacts publish_artifacts(const store::Job& job, const ObjectCreated& object,
                                       const StagedJob& staged, JobAttempt& attempt);
  void record(const store::Job& job, const StagedJob& staged, const PublishedArtifacts& published,
              double publish_s);
  // A failed job: its staging removed and, when an attempt may have published some, its
  // artifacts deleted (best effort, logged).
  void discard_outputs(const store::Job& job, const ObjectCreated& object, bool may_have_artifacts);
  void put_with_retries(const std::string& bucket, const std::string& key,
                        const std::filesystem::path& file, const std::string& content_type);
  static std::string artifact_dir_name(const store::Job& job);
  // Waits (deps_.sleep, or sleeping while not cancelled).
  void pause(std::chrono::milliseconds delay);
  // Runs a write of a job's outcome until it is durable: retried with backoff while the
  // database is busy or unreachable, within kDurableWriteBudget or until cancelled.
  void write_durably(const char* what, std::int64_t job_id, const std::function<void()>& write);
  bool cancelled() const { return deps_.cancel != nullptr && deps_.cancel->load(); }
  std::optional<std::uint64_t> free_space() const;

  ProcessorDeps deps_;
  StagingArea staging_;
};

}  // namespace dancer::service

// The life of one SQS message: parse, claim each object version in the job store,
// download, extract metadata, analyse, record the outcome, clean up, and decide what
// happens to the message. The message is deleted only after every object it names
// has a durable terminal outcome in the database.
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <string>

#include "aws/s3_client.h"
#include "aws/sqs_client.h"
#include "service/analysis_runner.h"
#include "service/config.h"
#include "service/events.h"
#include "service/metrics.h"
#include "store/job_store.h"

namespace dancer::service {

enum class MessageAction {
  kDelete,           // every object reached a recorded terminal state (or nothing to do)
  kRetryLater,       // make visible again after delay_seconds (ChangeMessageVisibility)
  kReturnNow,        // interrupted by shutdown: visibility 0
  kSendToDeadLetter  // DEAD_LETTER_QUEUE_URL: copy the body there, then delete
};

struct MessageOutcome {
  MessageAction action = MessageAction::kDelete;
  int delay_seconds = 0;
  std::string summary;
};

// How a failure is handled, decided from the error's type and code only.
enum class FailureClass { kPermanent, kTransient, kCancelled };
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
  aws::S3Client& s3;
  store::JobStore& store;
  AnalysisRunner& analysis;
  Metrics& metrics;
  std::string worker_id;
  std::filesystem::path work_dir;             // this process's private download directory
  std::filesystem::path reports_dir;          // where HTML reports are kept
  const std::atomic<bool>* cancel = nullptr;  // set when shutdown stops running jobs
  // Called with the job id once it is claimed, so the heartbeat can renew its lease.
  std::function<void(std::int64_t job_id)> on_job_claimed;
  // Bytes currently in DOWNLOAD_DIR (all workers), for DOWNLOAD_DIR_MAX_BYTES.
  std::function<std::uint64_t()> download_dir_usage;
};

class MessageProcessor {
 public:
  explicit MessageProcessor(ProcessorDeps deps) : deps_(std::move(deps)) {}
  MessageOutcome process(const aws::SqsMessage& message);

 private:
  enum class ObjectResult { kDone, kRetry, kInterrupted, kBusyElsewhere, kGaveUp };
  ObjectResult process_object(const ObjectCreated& object, const aws::SqsMessage& message);
  void run_job(const store::Job& job, const ObjectCreated& object);

  ProcessorDeps deps_;
};

}  // namespace dancer::service

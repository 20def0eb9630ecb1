#include "service/processor.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <system_error>
#include <thread>

#include "analysis/child_protocol.h"
#include "analysis/outputs.h"
#include "aws/error.h"
#include "aws/uri.h"
#include "common/sha256.h"
#include "common/strings.h"
#include "common/subject_height.h"
#include "media/metadata.h"
#include "service/reasons.h"
#include "service/report_files.h"
#include "service/results.h"
#include "service/staging.h"

namespace dancer::service {
namespace {

using Clock = std::chrono::steady_clock;

// A failure that no retry can fix (bad input, object gone, policy violation).
class PermanentFailure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A condition of this moment that a later delivery may not meet.
class TransientFailure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// This machine has no room for the file now; the file is not at fault.
class NoRoomFailure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string short_sha256_hex(const std::string& data, std::size_t chars) {
  return common::sha256_hex(data).substr(0, chars);
}

std::string truncate_for_log(const std::string& text, std::size_t max = 200) {
  if (text.size() <= max) return text;
  return text.substr(0, max) + "...(" + std::to_string(text.size()) + " bytes)";
}

bool has_video_stream(const nlohmann::json& metadata) {
  if (!metadata.contains("streams")) return false;
  for (const auto& stream : metadata["streams"]) {
    if (stream.value("codec_type", "") == "video") return true;
  }
  return false;
}

// Adds warning names to analysis.quality.warnings once each. The built-in analyzers list the
// request's warnings themselves (their reports explain them); an external command does not.
void add_quality_warnings(nlohmann::json& analysis, const std::vector<std::string>& names) {
  if (names.empty() || !analysis.is_object()) return;
  nlohmann::json& quality = analysis["quality"];
  if (quality.is_null()) quality = nlohmann::json::object();
  if (!quality.is_object()) return;
  nlohmann::json& warnings = quality["warnings"];
  if (warnings.is_null()) warnings = nlohmann::json::array();
  if (!warnings.is_array()) return;
  for (const std::string& name : names) {
    if (std::find(warnings.begin(), warnings.end(), name) == warnings.end()) {
      warnings.push_back(name);
    }
  }
}

void remove_quietly(const std::filesystem::path& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

}  // namespace

ClassifiedFailure classify_current_exception() {
  try {
    throw;
  } catch (const PermanentFailure& e) {
    return {FailureClass::kPermanent, e.what()};
  } catch (const TransientFailure& e) {
    return {FailureClass::kTransient, e.what()};
  } catch (const NoRoomFailure& e) {
    return {FailureClass::kNoRoom, e.what()};
  } catch (const aws::AwsError& e) {
    // AwsError's message starts with its code already ("not_found: NoSuchKey ...").
    std::string reason = e.what();
    if (e.code() == aws::ErrorCode::kCancelled) return {FailureClass::kCancelled, reason};
    // A short read, or a download that could not be written, is a condition of this
    // moment (run_job tells a full file system apart as "no room").
    if (e.transient() || e.code() == aws::ErrorCode::kLocalIo ||
        e.code() == aws::ErrorCode::kIntegrity || e.code() == aws::ErrorCode::kAccessDenied ||
        e.code() == aws::ErrorCode::kCredentials) {
      return {FailureClass::kTransient, reason};
    }
    return {FailureClass::kPermanent, reason};
  } catch (const store::StoreError& e) {
    // An object the store refuses to record (a key that is not text) will never be.
    if (e.code() == store::StoreErrorCode::kInvalidObject) {
      return {FailureClass::kPermanent, std::string("database: ") + e.what()};
    }
    return {FailureClass::kTransient, std::string("database: ") + e.what()};
  } catch (const media::MediaError& e) {
    if (e.code() == media::MediaErrorCode::kIo) return {FailureClass::kTransient, e.what()};
    return {FailureClass::kPermanent, e.what()};
  } catch (const analysis::AnalysisError& e) {
    switch (e.code()) {
      case analysis::AnalysisErrorCode::kCancelled:
        return {FailureClass::kCancelled, e.what()};
      case analysis::AnalysisErrorCode::kInternal:
        return {FailureClass::kTransient, e.what()};
      case analysis::AnalysisErrorCode::kInvalidInput:
      case analysis::AnalysisErrorCode::kTimeout:
      case analysis::AnalysisErrorCode::kCrashed:
      case analysis::AnalysisErrorCode::kResourceLimit:
      case analysis::AnalysisErrorCode::kFailed:
        break;
    }
    return {FailureClass::kPermanent, e.what()};
  } catch (const std::system_error& e) {
    return {FailureClass::kTransient, e.what()};
  } catch (const std::bad_alloc&) {
    return {FailureClass::kTransient, "out of memory"};
  } catch (const std::exception& e) {
    // Unknown failures are retried; MAX_RECEIVE_COUNT bounds how often.
    return {FailureClass::kTransient, e.what()};
  } catch (...) {
    return {FailureClass::kTransient, "unknown error"};
  }
}

int retry_delay_seconds(const QueueSettings& settings, int receive_count) {
  const int exponent = std::clamp(receive_count - 1, 0, 20);
  const long long delay = static_cast<long long>(settings.retry_base_delay_seconds) << exponent;
  // SQS caps a visibility timeout at 12 hours.
  return static_cast<int>(std::min<long long>({delay, settings.retry_max_delay_seconds, 43200}));
}

std::string local_file_name(std::int64_t job_id, const std::string& key) {
  // Keep a short, strictly alphanumeric extension so tools can tell the container.
  std::string extension;
  auto dot = key.find_last_of('.');
  auto slash = key.find_last_of('/');
  if (dot != std::string::npos && (slash == std::string::npos || dot > slash)) {
    std::string candidate = key.substr(dot + 1);
    if (!candidate.empty() && candidate.size() <= 8 &&
        std::all_of(candidate.begin(), candidate.end(),
                    [](unsigned char c) { return std::isalnum(c) != 0; })) {
      extension = "." + candidate;
    }
  }
  return "job-" + std::to_string(job_id) + "-" + short_sha256_hex(key, 16) + extension;
}

MessageOutcome MessageProcessor::process(const aws::SqsMessage& message) {
  ParsedMessage parsed = parse_message_body(message.body);
  switch (parsed.kind) {
    case EventKind::kTestEvent:
      spdlog::info("message {}: s3:TestEvent, acknowledged", message.message_id);
      return {MessageAction::kDelete, 0, "test event"};
    case EventKind::kIgnored:
      spdlog::info("message {}: nothing to process ({})", message.message_id, parsed.reason);
      return {MessageAction::kDelete, 0, "ignored: " + parsed.reason};
    case EventKind::kMalformed:
      deps_.metrics.message_malformed();
      spdlog::warn("message {}: malformed, deleting ({}); body: {}", message.message_id,
                   parsed.reason, truncate_for_log(message.body));
      return {MessageAction::kDelete, 0, "malformed: " + parsed.reason};
    case EventKind::kObjectsCreated:
      break;
  }
  // A broken record is reported on its own; the valid ones in the same message go on.
  for (const RejectedRecord& rejected : parsed.rejected) {
    deps_.metrics.message_malformed();
    spdlog::warn("message {}: record {} rejected: {}", message.message_id, rejected.index,
                 rejected.reason);
  }

  bool interrupted = false, retry = false, no_room = false, gave_up = false;
  for (const ObjectCreated& object : parsed.objects) {
    switch (process_object(object, message)) {
      case ObjectResult::kDone:
        break;
      case ObjectResult::kInterrupted:
        interrupted = true;
        break;
      case ObjectResult::kRetry:
      case ObjectResult::kBusyElsewhere:
        retry = true;
        break;
      case ObjectResult::kNoRoom:
        no_room = true;
        break;
      case ObjectResult::kGaveUp:
        gave_up = true;
        break;
    }
  }
  if (interrupted) return {MessageAction::kReturnNow, 0, "interrupted by shutdown"};
  if (retry) {
    return {MessageAction::kRetryLater,
            retry_delay_seconds(deps_.config.queue, message.approximate_receive_count),
            "transient failure, retry later"};
  }
  if (no_room) {
    // SQS accepts a delivery delay of at most 900 s.
    return {MessageAction::kRequeue, std::min(900, retry_delay_seconds(deps_.config.queue, 1)),
            "no room on this machine, sent again"};
  }
  if (gave_up) {
    // Recorded as failed. Either our own dead-letter queue takes the message, or it is
    // left alone so the queue's redrive policy moves it once maxReceiveCount is reached.
    if (!deps_.config.queue.dead_letter_queue_url.empty()) {
      return {MessageAction::kSendToDeadLetter, 0, "gave up after MAX_RECEIVE_COUNT"};
    }
    return {MessageAction::kRetryLater, deps_.config.queue.visibility_timeout_seconds,
            "gave up after MAX_RECEIVE_COUNT; left to the redrive policy"};
  }
  return {MessageAction::kDelete, 0, "done"};
}

// Only objects of the configured bucket and prefix, with keys S3 could have made.
bool MessageProcessor::accepts(const ObjectCreated& object, const aws::SqsMessage& message) const {
  const auto& storage = deps_.config.storage;
  if (object.bucket != storage.bucket) {
    spdlog::warn("message {}: object in bucket \"{}\" ignored (S3_BUCKET is \"{}\")",
                 message.message_id, object.bucket, storage.bucket);
    return false;
  }
  if (object.key.compare(0, storage.prefix.size(), storage.prefix) != 0) {
    spdlog::warn("message {}: key \"{}\" outside S3_PREFIX \"{}\" ignored", message.message_id,
                 object.key, storage.prefix);
    return false;
  }
  // S3 keys are at most 1024 bytes; anything longer did not come from S3.
  if (object.key.size() > 1024) {
    spdlog::warn("message {}: key longer than 1024 bytes ignored", message.message_id);
    return false;
  }
  return true;
}

// Without the notification's ETag, a re-upload of the same key would look like a duplicate of
// the first upload: the version identity comes from HeadObject instead. Returns how the
// object ends when that fails.
std::optional<MessageProcessor::ObjectResult> MessageProcessor::identify_version(
    const ObjectCreated& object, const aws::SqsMessage& message, store::ObjectVersion& version,
    std::optional<aws::ObjectInfo>& head) {
  if (!object.etag.empty()) return std::nullopt;
  const int max_deliveries = deps_.config.queue.max_receive_count;
  try {
    head = deps_.objects.head(object.bucket, object.key);
  } catch (...) {
    ClassifiedFailure f = classify_current_exception();
    if (f.kind == FailureClass::kPermanent) {
      spdlog::warn("s3://{}/{}: {}; nothing to process", object.bucket, object.key, f.reason);
      return ObjectResult::kDone;
    }
    if (f.kind == FailureClass::kCancelled) return ObjectResult::kInterrupted;
    if (message.approximate_receive_count >= max_deliveries) {
      // No row exists to fail: the message itself is given up (403 for a deleted key
      // without ListBucket permission would otherwise come back for ever).
      spdlog::error("s3://{}/{}: HeadObject failed on delivery {} ({}); given up", object.bucket,
                    object.key, message.approximate_receive_count, f.reason);
      deps_.metrics.message_failed();
      return ObjectResult::kDone;
    }
    spdlog::warn("s3://{}/{}: HeadObject failed ({}); will retry", object.bucket, object.key,
                 f.reason);
    deps_.metrics.message_retried();
    return ObjectResult::kRetry;
  }
  version.etag = head->etag;
  if (version.version_id.empty()) version.version_id = head->version_id;
  version.size_bytes = static_cast<std::int64_t>(head->size);
  return std::nullopt;
}

// Claims the job of this object version. Returns how the object ends when it is not ours to
// process (a duplicate, running elsewhere, not recordable, the store unreachable).
std::optional<MessageProcessor::ObjectResult> MessageProcessor::claim(
    const ObjectCreated& object, const aws::SqsMessage& message,
    const store::ObjectVersion& version, store::ClaimResult& claimed,
    std::optional<int>& retries_before) {
  const int max_deliveries = deps_.config.queue.max_receive_count;
  try {
    // On the last delivery, the row as it was: whether the claim takes over the lease of a
    // worker that died (the takeover counts it in retry_count).
    if (message.approximate_receive_count >= max_deliveries) {
      if (auto before = deps_.store.find_job(version)) retries_before = before->retry_count;
    }
    claimed =
        deps_.store.claim_job(version, deps_.worker_id,
                              std::chrono::seconds(deps_.config.queue.visibility_timeout_seconds));
  } catch (...) {
    ClassifiedFailure f = classify_current_exception();
    if (f.kind == FailureClass::kPermanent) {
      // The store refuses to record this object at all (a key that is not text, ...).
      deps_.metrics.message_malformed();
      spdlog::warn("s3://{}/{}: cannot be recorded ({}); ignored", object.bucket, object.key,
                   f.reason);
      return ObjectResult::kDone;
    }
    spdlog::warn("s3://{}/{}: cannot claim the job ({}); will retry", object.bucket, object.key,
                 f.reason);
    deps_.metrics.message_retried();
    return ObjectResult::kRetry;
  }
  switch (claimed.outcome) {
    case store::ClaimOutcome::kAlreadyCompleted:
    case store::ClaimOutcome::kAlreadyFailed:
      deps_.metrics.message_duplicate();
      spdlog::info("s3://{}/{} (etag {}): already {} as job {}, duplicate notification skipped",
                   object.bucket, object.key, version.etag, store::to_string(claimed.job.status),
                   claimed.job.id);
      return ObjectResult::kDone;
    case store::ClaimOutcome::kInProgressElsewhere:
      spdlog::info("s3://{}/{}: job {} is in progress on {}, message returned for later",
                   object.bucket, object.key, claimed.job.id, claimed.job.worker_id);
      return ObjectResult::kBusyElsewhere;
    case store::ClaimOutcome::kClaimed:
      break;
  }
  return std::nullopt;
}

// The poison-pill rule: the delivery that reaches MAX_RECEIVE_COUNT after an attempt that
// ended with the process (or once the attempts are spent) gives up before any work, rather
// than risk the process again: a message that kills the process is retired after
// MAX_RECEIVE_COUNT tries, with or without a redrive policy. Attempts already spent:
// retry_count counts each transient failure (record_retry) and each attempt whose worker
// died holding the lease (the claim that takes over an expired lease counts it). Shutdown
// and a full disk spend none (release_job).
std::optional<MessageProcessor::ObjectResult> MessageProcessor::give_up_if_spent(
    const store::Job& job, const ObjectCreated& object, const aws::SqsMessage& message,
    std::optional<int> retries_before) {
  const int max_deliveries = deps_.config.queue.max_receive_count;
  const bool previous_attempt_died = retries_before && job.retry_count > *retries_before;
  if (job.retry_count < max_deliveries &&
      (message.approximate_receive_count < max_deliveries || !previous_attempt_died)) {
    return std::nullopt;
  }
  try {
    write_durably("failure", job.id, [&] {
      deps_.store.fail_job(
          job.id, deps_.worker_id,
          "gave up after " +
              std::to_string(std::max(message.approximate_receive_count - 1, job.retry_count)) +
              " deliveries, the last without an outcome (processing this "
              "file may have ended the service)");
    });
  } catch (...) {
    return cancelled() ? ObjectResult::kInterrupted : ObjectResult::kRetry;
  }
  deps_.metrics.message_failed();
  spdlog::error(
      "job {}: delivery {}, {} attempts spent, the last without an outcome "
      "(MAX_RECEIVE_COUNT {}): given up before work",
      job.id, message.approximate_receive_count, job.retry_count, max_deliveries);
  discard_outputs(job, object, /*may_have_artifacts=*/true);
  return ObjectResult::kGaveUp;
}

// A failed attempt's outcome, recorded: failed, released (shutdown, no room) or counted as a
// retry, by the failure's class (classify_current_exception decides it in one place).
MessageProcessor::ObjectResult MessageProcessor::record_failure(const store::Job& job,
                                                                const ObjectCreated& object,
                                                                const aws::SqsMessage& message,
                                                                const JobAttempt& attempt) {
  const int max_deliveries = deps_.config.queue.max_receive_count;
  ClassifiedFailure failure = classify_current_exception();
  if (cancelled()) failure.kind = FailureClass::kCancelled;
  // The row is read by people through the web backend: no local paths, no host names.
  std::error_code no_temp_dir;
  const std::filesystem::path temp_dir = std::filesystem::temp_directory_path(no_temp_dir);
  const std::string reason = user_facing_reason(
      failure.reason,
      ReasonContext{deps_.work_dir / local_file_name(job.id, object.key),
                    {deps_.work_dir, deps_.config.download_dir, deps_.config.report_dir,
                     no_temp_dir ? deps_.work_dir : temp_dir},
                    {deps_.worker_id},
                    500});
  // Artifacts of this job may exist once an attempt (this one, or an earlier delivery's)
  // reached the publishing; a failed job deletes them.
  const bool may_have_artifacts = attempt.publishing || job.retry_count > 0;
  ObjectResult result = ObjectResult::kDone;
  try {
    switch (failure.kind) {
      case FailureClass::kPermanent:
        write_durably("failure", job.id,
                      [&] { deps_.store.fail_job(job.id, deps_.worker_id, reason); });
        deps_.metrics.message_failed();
        spdlog::error("job {}: failed permanently: {}", job.id, failure.reason);
        discard_outputs(job, object, may_have_artifacts);
        result = ObjectResult::kDone;
        break;
      case FailureClass::kCancelled:
        deps_.store.release_job(job.id, deps_.worker_id, "interrupted by shutdown");
        spdlog::warn("job {}: interrupted by shutdown, returned to the queue", job.id);
        result = ObjectResult::kInterrupted;
        break;
      case FailureClass::kNoRoom: {
        // Never given up for this: the file is not at fault, and it completes once room
        // exists (readiness is false meanwhile, so no new work arrives).
        write_durably("retry", job.id,
                      [&] { deps_.store.release_job(job.id, deps_.worker_id, reason); });
        deps_.metrics.message_retried();
        spdlog::warn("job {}: no room on this machine, returned for later: {}", job.id,
                     failure.reason);
        result = ObjectResult::kNoRoom;
        break;
      }
      case FailureClass::kTransient: {
        // Give up before record_retry: it releases the lease, and fail_job needs it.
        if (message.approximate_receive_count >= max_deliveries ||
            job.retry_count + 1 >= max_deliveries) {
          write_durably("failure", job.id, [&] {
            deps_.store.fail_job(job.id, deps_.worker_id,
                                 "gave up after " +
                                     std::to_string(message.approximate_receive_count) +
                                     " deliveries: " + reason);
          });
          deps_.metrics.message_failed();
          spdlog::error("job {}: gave up after {} deliveries: {}", job.id,
                        message.approximate_receive_count, failure.reason);
          discard_outputs(job, object, may_have_artifacts);
          result = ObjectResult::kGaveUp;
        } else {
          int retries = 0;
          write_durably("retry", job.id, [&] {
            retries = deps_.store.record_retry(job.id, deps_.worker_id, reason);
          });
          deps_.metrics.message_retried();
          spdlog::warn("job {}: transient failure (retry {}): {}", job.id, retries, failure.reason);
          result = ObjectResult::kRetry;
        }
        break;
      }
    }
  } catch (const std::exception& e) {
    // The outcome could not be recorded: the message must come back.
    spdlog::error("job {}: could not record the outcome ({}); message will be redelivered", job.id,
                  e.what());
    result = failure.kind == FailureClass::kCancelled || cancelled() ? ObjectResult::kInterrupted
                                                                     : ObjectResult::kRetry;
  }
  return result;
}

MessageProcessor::ObjectResult MessageProcessor::process_object(const ObjectCreated& object,
                                                                const aws::SqsMessage& message) {
  if (!accepts(object, message)) return ObjectResult::kDone;
  if (deps_.stop != nullptr && deps_.stop->load()) return ObjectResult::kInterrupted;
  store::ObjectVersion version{object.bucket, object.key, object.etag, object.version_id,
                               object.size < 0 ? 0 : object.size};
  std::optional<aws::ObjectInfo> head;
  if (auto ended = identify_version(object, message, version, head)) return *ended;
  store::ClaimResult claimed;
  std::optional<int> retries_before;
  if (auto ended = claim(object, message, version, claimed, retries_before)) return *ended;
  const store::Job& job = claimed.job;
  if (deps_.on_job_claimed) deps_.on_job_claimed(job.id);
  if (auto ended = give_up_if_spent(job, object, message, retries_before)) return *ended;

  deps_.metrics.job_started();
  const auto started = Clock::now();
  spdlog::info("job {}: processing s3://{}/{} ({} bytes, delivery {})", job.id, object.bucket,
               object.key, version.size_bytes, message.approximate_receive_count);
  ObjectResult result = ObjectResult::kDone;
  JobAttempt attempt;
  try {
    run_job(job, object, head, attempt);
    deps_.metrics.message_processed();
    spdlog::info("job {}: completed in {:.2f} s", job.id, seconds_since(started));
  } catch (...) {
    result = record_failure(job, object, message, attempt);
  }
  deps_.metrics.job_finished(seconds_since(started));
  return result;
}

std::optional<std::uint64_t> MessageProcessor::free_space() const {
  if (deps_.free_space) return deps_.free_space();
  std::error_code ec;
  auto space = std::filesystem::space(deps_.work_dir, ec);
  if (ec) return std::nullopt;
  return space.available;
}

void MessageProcessor::write_durably(const char* what, std::int64_t job_id,
                                     const std::function<void()>& write) {
  // The budget counts the waits between attempts (each attempt itself may also wait up to
  // DATABASE_BUSY_TIMEOUT inside the store).
  auto waited = std::chrono::milliseconds(0);
  auto delay = std::chrono::milliseconds(250);
  for (int attempt = 1;; ++attempt) {
    try {
      write();
      if (attempt > 1) spdlog::info("job {}: {} recorded on attempt {}", job_id, what, attempt);
      return;
    } catch (const store::StoreError& e) {
      // Only a busy or unreachable database is worth waiting for; a lost lease means
      // another worker owns the job now.
      if (!e.transient() || cancelled() || waited + delay > kDurableWriteBudget) throw;
      spdlog::warn("job {}: recording the {} failed ({}); attempt {} in {} ms", job_id, what,
                   e.what(), attempt + 1, delay.count());
    }
    pause(delay);
    waited += delay;
    delay = std::min<std::chrono::milliseconds>(delay * 2, std::chrono::seconds(15));
  }
}

void MessageProcessor::pause(std::chrono::milliseconds delay) {
  if (deps_.sleep) {
    deps_.sleep(delay);
    return;
  }
  for (auto slept = std::chrono::milliseconds(0); slept < delay && !cancelled();
       slept += std::chrono::milliseconds(50)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

// A job in phases: fetch, probe, analyse (then staged on local disk), publish the artifacts,
// record the outcome. A redelivery of a job whose analysis is staged on this host starts at
// the publishing (staging.h says why the finished analysis is kept there and not in the row).
void MessageProcessor::run_job(const store::Job& job, const ObjectCreated& object,
                               std::optional<aws::ObjectInfo> known_head, JobAttempt& attempt) {
  std::optional<StagedJob> staged = staging_.find(job.job_uuid);
  if (staged) {
    spdlog::info("job {}: reusing the analysis an earlier delivery staged; publishing it", job.id);
  } else {
    staged = analyse_and_stage(job, object, std::move(known_head));
  }
  const auto t_publish = Clock::now();
  const PublishedArtifacts published = publish_artifacts(job, object, *staged, attempt);
  record(job, *staged, published, seconds_since(t_publish));
  staging_.remove(job.job_uuid);
}

StagedJob MessageProcessor::analyse_and_stage(const store::Job& job, const ObjectCreated& object,
                                              std::optional<aws::ObjectInfo> known_head) {
  const auto t_start = Clock::now();
  const std::filesystem::path local = deps_.work_dir / local_file_name(job.id, object.key);
  const std::filesystem::path report_dir =
      deps_.work_dir / ("job-" + std::to_string(job.id) + "-report");
  struct Cleanup {
    const std::filesystem::path& file;
    const std::filesystem::path& reports;
    bool enabled;
    ~Cleanup() {
      if (enabled) remove_quietly(file);
      remove_quietly(reports);
    }
  } cleanup{local, report_dir, deps_.config.cleanup_after_processing};

  const Fetched fetched = fetch(object, std::move(known_head), local);
  const double download_s = seconds_since(t_start);

  const auto t_metadata = Clock::now();
  const nlohmann::json metadata = probe(job, object, local);
  const double metadata_s = seconds_since(t_metadata);

  const auto t_analysis = Clock::now();
  const analysis::AnalysisResult analysis =
      analyse(job, object, fetched.head, metadata, local, report_dir);
  const double analysis_s = seconds_since(t_analysis);

  const auto t_proxy = Clock::now();
  const ProxyStep proxy = make_proxy(job, local, report_dir);
  const double proxy_s = seconds_since(t_proxy);

  // The artifacts the analysis wrote, in its order, then the proxy's; only files of a known
  // kind are published.
  std::vector<std::filesystem::path> files;
  std::vector<std::filesystem::path> written = analysis.artifacts;
  written.insert(written.end(), proxy.files.begin(), proxy.files.end());
  for (const std::filesystem::path& file : written) {
    if (analysis::find_artifact(file.filename().string()) != nullptr &&
        std::filesystem::exists(file)) {
      files.push_back(file);
    }
  }
  nlohmann::json results = {{"results_version", kResultsVersion},
                            {"analysis", analysis.analysis},
                            {"object",
                             {{"bucket", object.bucket},
                              {"key", object.key},
                              {"etag", fetched.head.etag},
                              {"version_id", fetched.head.version_id},
                              {"size_bytes", fetched.downloaded.size},
                              {"content_type", fetched.head.content_type}}},
                            {"processing",
                             {{"worker_id", deps_.worker_id},
                              {"download_s", download_s},
                              {"metadata_s", metadata_s},
                              {"analysis_s", analysis_s},
                              {"total_s", 0.0}}}};
  if (deps_.config.proxy.enabled) results["processing"]["proxy_s"] = proxy_s;
  if (proxy.warning) results["processing"]["warnings"] = {*proxy.warning};
  StagedJob staged = staging_.stage(job.job_uuid, metadata, results, files, seconds_since(t_start));
  spdlog::info("job {}: analysed in {:.2f} s, staged with {} artifact(s) for publishing", job.id,
               analysis_s, staged.artifacts.size());
  return staged;
}

MessageProcessor::ProxyStep MessageProcessor::make_proxy(const store::Job& job,
                                                         const std::filesystem::path& local,
                                                         const std::filesystem::path& report_dir) {
  ProxyStep step;
  if (!deps_.config.proxy.enabled) return step;
  try {
    AnalysisRunner::ProxyFiles proxy =
        deps_.analysis.make_proxy(local, report_dir, deps_.config.proxy.max_height, deps_.cancel);
    step.files = std::move(proxy.files);
    if (proxy.summary.is_object()) {
      spdlog::info(
          "job {}: proxy {}x{}, {} frames, audio {}, {} bytes", job.id,
          proxy.summary.value("width", 0), proxy.summary.value("height", 0),
          proxy.summary.value("frames", 0),
          proxy.summary.contains("audio") && proxy.summary["audio"].is_object() ? "aac" : "none",
          proxy.summary.value("bytes", 0));
    }
  } catch (const analysis::AnalysisError& e) {
    // Shutdown: the job goes back to the queue as a whole, as for the analysis.
    if (e.code() == analysis::AnalysisErrorCode::kCancelled) throw;
    // Anything else, transient faults included: redoing the whole job (its analysis took
    // minutes) for the convenience copy costs more than it gives. The job completes without
    // it and says so.
    spdlog::warn("job {}: no proxy or poster: {}", job.id, e.what());
    step.warning = kProxyFailedWarning;
  } catch (const std::exception& e) {
    spdlog::warn("job {}: no proxy or poster: {}", job.id, e.what());
    step.warning = kProxyFailedWarning;
  }
  return step;
}

MessageProcessor::Fetched MessageProcessor::fetch(const ObjectCreated& object,
                                                  std::optional<aws::ObjectInfo> known_head,
                                                  const std::filesystem::path& local) {
  const auto& config = deps_.config;
  Fetched fetched;
  fetched.head = known_head ? *known_head : deps_.objects.head(object.bucket, object.key);
  const aws::ObjectInfo& head = fetched.head;
  if (!object.etag.empty() && !head.etag.empty() && head.etag != object.etag) {
    throw PermanentFailure("object was replaced after the notification (ETag " + head.etag +
                           ", notified " + object.etag + "); the newer upload has its own event");
  }
  if (head.size > config.storage.max_file_size_bytes) {
    throw PermanentFailure("object is " + std::to_string(head.size) +
                           " bytes, over MAX_FILE_SIZE (" +
                           std::to_string(config.storage.max_file_size_bytes) + ")");
  }
  // Check for room before the first byte: a full disk is a condition of this machine, so
  // the message goes back to the queue rather than failing the job.
  if (config.download_dir_max_bytes > 0 && deps_.download_dir_usage) {
    const std::uint64_t used = deps_.download_dir_usage();
    if (used + head.size > config.download_dir_max_bytes) {
      throw NoRoomFailure("DOWNLOAD_DIR is full: " + std::to_string(used) + " bytes used + " +
                          std::to_string(head.size) + " needed > DOWNLOAD_DIR_MAX_BYTES " +
                          std::to_string(config.download_dir_max_bytes));
    }
  }
  {
    const std::optional<std::uint64_t> available = free_space();
    if (available && *available < head.size + config.download_dir_min_free_bytes) {
      throw NoRoomFailure(
          "not enough free disk space in DOWNLOAD_DIR: " + std::to_string(*available) +
          " bytes free, " + std::to_string(head.size) + " needed plus DOWNLOAD_DIR_MIN_FREE " +
          std::to_string(config.download_dir_min_free_bytes));
    }
  }
  aws::DownloadOptions download;
  download.expected_etag = head.etag;
  download.max_size = config.storage.max_file_size_bytes;
  // A download is cheap to redo: shutdown abandons it at once.
  download.cancel = deps_.stop != nullptr ? deps_.stop : deps_.cancel;
  try {
    fetched.downloaded = deps_.objects.download(object.bucket, object.key, local, download);
  } catch (const aws::AwsError& e) {
    // The download could not be written. Only a full file system is "no room"; any other
    // local error (EIO, EACCES, EMFILE) is a transient fault that spends attempts.
    if (e.code() != aws::ErrorCode::kLocalIo) throw;
    const std::optional<std::uint64_t> available = free_space();
    if (available && *available < head.size + config.download_dir_min_free_bytes) {
      throw NoRoomFailure(std::string("no room for the download: ") + e.what());
    }
    throw TransientFailure(std::string("cannot write the download: ") + e.what());
  }
  deps_.metrics.file_downloaded();
  deps_.metrics.bytes_downloaded(fetched.downloaded.size);
  return fetched;
}

nlohmann::json MessageProcessor::probe(const store::Job& job, const ObjectCreated& object,
                                       const std::filesystem::path& local) {
  // Metadata, parsed in the sandboxed child. Shutdown ends a probe at once.
  nlohmann::json metadata;
  try {
    metadata = deps_.analysis.probe(local, deps_.stop != nullptr ? deps_.stop : deps_.cancel);
  } catch (const analysis::child_protocol::ChildReportedMediaError& e) {
    if (e.code() == media::MediaErrorCode::kIo) throw;
    // Not a readable video: keep the facts any file has, and say so.
    nlohmann::json fallback = {{"fallback", e.details()}, {"probe_error", e.what()}};
    deps_.store.save_metadata(job.id, deps_.worker_id, fallback.dump());
    if (e.code() == media::MediaErrorCode::kLimitExceeded) {
      throw PermanentFailure(std::string("the file exceeds a safety limit: ") + e.what());
    }
    throw PermanentFailure(std::string("not a readable video: ") + e.what());
  } catch (const media::MediaError& e) {
    if (e.code() == media::MediaErrorCode::kIo) throw;
    if (e.code() == media::MediaErrorCode::kLimitExceeded) {
      throw PermanentFailure(std::string("the file exceeds a safety limit: ") + e.what());
    }
    throw PermanentFailure(std::string("not a readable video: ") + e.what());
  }
  // ffprobe's "filename" is the file it was given; the stored one is the upload's key, not
  // a local path.
  if (metadata.contains("format") && metadata["format"].is_object()) {
    metadata["format"]["filename"] = object.key;
  }
  deps_.store.save_metadata(job.id, deps_.worker_id, metadata.dump());
  if (!has_video_stream(metadata)) {
    throw PermanentFailure("the file has no video stream");
  }
  return metadata;
}

analysis::AnalysisResult MessageProcessor::analyse(const store::Job& job,
                                                   const ObjectCreated& object,
                                                   const aws::ObjectInfo& head,
                                                   const nlohmann::json& metadata,
                                                   const std::filesystem::path& local,
                                                   const std::filesystem::path& report_dir) {
  const auto& config = deps_.config;
  analysis::AnalysisRequest request;
  request.video = local;
  request.metadata = metadata;
  request.subject_height_m = config.analysis.subject_height_m;
  // A per-object height (x-amz-meta-subject-height-m) overrides SUBJECT_HEIGHT_M. One that is
  // not a plausible height in metres is refused and named in the result's warnings; the job is
  // then measured in body heights only, since SUBJECT_HEIGHT_M is not this subject's height.
  if (auto it = head.metadata.find("subject-height-m"); it != head.metadata.end()) {
    request.subject_height_m = common::parse_subject_height_m(it->second);
    if (!request.subject_height_m) {
      request.warnings.emplace_back(common::kSubjectHeightRefusedWarning);
      spdlog::warn(
          "job {}: refusing x-amz-meta-subject-height-m \"{}\" ({} bytes): not a height in "
          "metres between 0.5 and 2.5; lengths and speed in body heights only",
          job.id, common::subject_height_excerpt(it->second), it->second.size());
    }
  }
  std::filesystem::create_directories(report_dir);
  request.report_dir = report_dir;
  // A URL, so the key is percent-encoded (RFC 3986; the FHIR bundle's Media.content.url).
  request.job = {std::to_string(job.id), object.key,
                 "s3://" + object.bucket + "/" + aws::uri_encode(object.key, true),
                 head.content_type};
  request.artifacts = {analysis::kStridesArtifact.name, analysis::kFhirArtifact.name};
  if (config.analysis.overlay_video) request.artifacts.push_back(analysis::kOverlayArtifact.name);
  analysis::AnalysisResult analysis = deps_.analysis.run(request, deps_.cancel);
  add_quality_warnings(analysis.analysis, request.warnings);
  return analysis;
}

std::string MessageProcessor::artifact_dir_name(const store::Job& job) {
  // The row's job_uuid, not its id: ids repeat across databases sharing a bucket.
  return "job-" + job.job_uuid;
}

void MessageProcessor::put_with_retries(const std::string& bucket, const std::string& key,
                                        const std::filesystem::path& file,
                                        const std::string& content_type) {
  // The S3 client already retries a request a few times within seconds; this rides out a
  // longer outage (a minute or so) without giving the delivery up, since the analysis is
  // done. A failure still transient after the last attempt is the job's transient failure:
  // the next delivery publishes the staged analysis.
  auto delay = kUploadRetryDelay;
  for (int attempt = 1;; ++attempt) {
    try {
      deps_.objects.put(bucket, key, file, content_type);
      if (attempt > 1) spdlog::info("s3://{}/{}: uploaded on attempt {}", bucket, key, attempt);
      return;
    } catch (const aws::AwsError& e) {
      if (!e.transient() || attempt >= kUploadAttempts || cancelled()) throw;
      spdlog::warn("s3://{}/{}: upload failed ({}); attempt {} of {} in {} ms", bucket, key,
                   e.what(), attempt + 1, kUploadAttempts, delay.count());
    }
    pause(delay);
    if (cancelled()) throw aws::AwsError(aws::ErrorCode::kCancelled, "upload cancelled");
    delay *= 2;
  }
}

MessageProcessor::PublishedArtifacts MessageProcessor::publish_artifacts(
    const store::Job& job, const ObjectCreated& object, const StagedJob& staged,
    JobAttempt& attempt) {
  const auto& config = deps_.config;
  // Every staged file goes under RESULTS_PREFIX/job-<uuid>/ in the upload's bucket, or into
  // REPORT_DIR/job-<uuid>/, and is listed with its size and SHA-256 so the backend can check
  // what it serves.
  PublishedArtifacts published;
  published.listing = nlohmann::json::array();
  const std::string job_dir = artifact_dir_name(job);
  for (const StagedArtifact& artifact : staged.artifacts) {
    const std::string& name = artifact.name;
    const analysis::ArtifactSpec* spec = analysis::find_artifact(name);
    if (spec == nullptr) continue;
    const std::filesystem::path file = staged.file(artifact);
    std::string location;
    attempt.publishing = true;
    if (!config.storage.results_prefix.empty()) {
      const std::string key = config.storage.results_prefix + job_dir + "/" + name;
      put_with_retries(object.bucket, key, file, spec->content_type);
      location = "s3://" + object.bucket + "/" + key;
    } else {
      const auto dir = deps_.reports_dir / job_dir;
      create_report_directories(dir, report_dir_mode(config.report_file_mode));
      std::filesystem::copy_file(file, dir / name,
                                 std::filesystem::copy_options::overwrite_existing);
      set_report_file_mode(dir / name, config.report_file_mode);
      location = std::filesystem::absolute(dir / name).lexically_normal().string();
    }
    if (name == analysis::kReportArtifact.name) published.report_location = location;
    published.listing.push_back({{"name", name},
                                 {"location", location},
                                 {"content_type", spec->content_type},
                                 {"size_bytes", artifact.size},
                                 {"sha256", artifact.sha256}});
  }
  return published;
}

void MessageProcessor::record(const store::Job& job, const StagedJob& staged,
                              const PublishedArtifacts& published, double publish_s) {
  nlohmann::json results = staged.results;
  // Time spent on the job: its analysis (once, whichever delivery did it) and this publishing.
  results["processing"]["worker_id"] = deps_.worker_id;
  results["processing"]["total_s"] = staged.prepared_s + publish_s;
  if (!published.report_location.empty()) results["report_location"] = published.report_location;
  if (!published.listing.empty()) results["artifacts"] = published.listing;
  const std::string metadata_text = staged.metadata.dump();
  const std::string results_text = results.dump();
  // The work is done: a busy database must not throw it away (the heartbeat keeps the
  // message and the lease alive while this retries; after that, the staged analysis is
  // published again by the next delivery).
  write_durably("result", job.id, [&] {
    deps_.store.complete_job(job.id, deps_.worker_id, metadata_text, results_text,
                             published.report_location);
  });
}

void MessageProcessor::discard_outputs(const store::Job& job, const ObjectCreated& object,
                                       bool may_have_artifacts) {
  staging_.remove(job.job_uuid);
  if (!may_have_artifacts || job.job_uuid.empty()) return;
  // Best effort: a failed job leaves no artifacts behind, including those an earlier delivery
  // (perhaps on another host) uploaded before it failed. Their names are the known kinds.
  const std::string job_dir = artifact_dir_name(job);
  if (!deps_.config.storage.results_prefix.empty()) {
    int removed = 0;
    for (const analysis::ArtifactSpec& spec : analysis::kArtifacts) {
      const std::string key = deps_.config.storage.results_prefix + job_dir + "/" + spec.name;
      try {
        deps_.objects.remove(object.bucket, key);
        ++removed;
      } catch (const std::exception& e) {
        spdlog::warn("job {}: could not delete s3://{}/{} of the failed job: {}", job.id,
                     object.bucket, key, e.what());
      }
    }
    spdlog::info("job {}: deleted the artifacts of the failed job under s3://{}/{}{}/ ({} of {})",
                 job.id, object.bucket, deps_.config.storage.results_prefix, job_dir, removed,
                 std::size(analysis::kArtifacts));
  } else {
    std::error_code ec;
    if (std::filesystem::remove_all(deps_.reports_dir / job_dir, ec) > 0) {
      spdlog::info("job {}: removed the artifacts of the failed job from REPORT_DIR", job.id);
    }
    if (ec) {
      spdlog::warn("job {}: could not remove REPORT_DIR/{}: {}", job.id, job_dir, ec.message());
    }
  }
}

}  // namespace dancer::service

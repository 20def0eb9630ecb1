// In-memory implementations of the lifecycle interfaces (ports.h, AnalysisRunner) and a
// fault-injecting JobStore decorator, for unit tests that walk every outcome of the
// message lifecycle without servers. They follow the real services' semantics where the
// lifecycle depends on them: SQS's visibility timeout, receive count and long poll; S3's
// ETag and NoSuchKey; the store's typed errors.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "aws/error.h"
#include "service/analysis_runner.h"
#include "service/ports.h"
#include "store/job_store.h"

namespace dancer::testing {

// One SQS queue shared by every connection made from it.
class FakeQueue {
 public:
  using Clock = std::chrono::steady_clock;
  struct Message {
    std::string id;
    std::string body;
    int receive_count = 0;
    Clock::time_point visible_at;
    std::string receipt;  // of the latest receive
  };

  // Adds a message; visible after delay_seconds.
  std::string send(const std::string& body, int delay_seconds = 0);
  // A connection to this queue (what ServiceDependencies::make_work_queue returns).
  std::unique_ptr<service::WorkQueue> connect();

  // Receives like another consumer would (e.g. a process that is then killed): the
  // message stays invisible for visibility_seconds.
  std::vector<aws::SqsMessage> receive_as_other_consumer(int max, int visibility_seconds);

  std::size_t size() const;                       // messages not deleted
  std::vector<std::string> dead_letters() const;  // bodies sent to other queues
  int deletes() const;
  // The last visibility a change_visibility set for the message with this id.
  std::optional<int> last_visibility(const std::string& message_id) const;
  int receive_count(const std::string& message_id) const;

 private:
  friend class FakeWorkQueue;
  std::vector<aws::SqsMessage> receive(int max, int wait_seconds, int visibility_seconds,
                                       const std::atomic<bool>* cancel);
  void remove(const std::string& receipt);
  void change_visibility(const std::string& receipt, int seconds);
  void send_to(const std::string& queue_url, const std::string& body);
  service::QueueCounts counts() const;

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Message> messages_;
  std::vector<std::string> dead_letters_;
  std::map<std::string, int> last_visibility_;
  int next_id_ = 0;
  int deletes_ = 0;
};

// S3 objects in memory.
class FakeObjects {
 public:
  struct Object {
    std::string bytes;
    std::string etag;
    std::map<std::string, std::string> metadata;
  };
  void put(const std::string& bucket, const std::string& key, std::string bytes, std::string etag,
           std::map<std::string, std::string> metadata = {});
  void erase(const std::string& bucket, const std::string& key);
  std::unique_ptr<service::ObjectStore> connect();
  // Next `count` downloads fail with this error code (transient network, disk full, ...).
  void fail_downloads(int count, aws::ErrorCode code);
  // After `skip` more puts succeed, the next `count` fail with the error S3 would send for this
  // HTTP status and AWS error code (classified by aws::classify_aws_error, as the S3 client does).
  void fail_puts(int count, long http_status, const std::string& aws_code, int skip = 0);
  std::optional<Object> get(const std::string& bucket, const std::string& key) const;
  // Keys (without the bucket) of the objects in `bucket` whose key starts with `prefix`.
  std::vector<std::string> keys(const std::string& bucket, const std::string& prefix = "") const;
  int downloads() const;
  int puts() const;         // put calls, failed ones included
  int failed_puts() const;  // put calls that failed
  int removes() const;

 private:
  friend class FakeObjectStore;
  mutable std::mutex mutex_;
  std::map<std::string, Object> objects_;  // "bucket/key"
  int failing_downloads_ = 0;
  aws::ErrorCode failure_code_ = aws::ErrorCode::kNetwork;
  int downloads_ = 0;
  int puts_to_skip_ = 0;
  int failing_puts_ = 0;
  long put_failure_status_ = 503;
  std::string put_failure_code_;
  int puts_ = 0;
  int failed_puts_ = 0;
  int removes_ = 0;
};

// The analysis runner: probe and analysis results are programmed by the test.
class FakeAnalysisRunner final : public service::AnalysisRunner {
 public:
  struct Script {
    // Metadata of a readable video unless set.
    std::function<nlohmann::json(const std::filesystem::path&)> probe;
    std::function<analysis::AnalysisResult(const analysis::AnalysisRequest&)> run;
    // When set, run() waits until it turns true or the cancel flag is set (then it
    // throws AnalysisError kCancelled, as the child runner does).
    std::shared_ptr<std::atomic<bool>> hold;
    // make_proxy(video, dir): unset, no proxy is made (and none fails).
    std::function<ProxyFiles(const std::filesystem::path&, const std::filesystem::path&)> proxy;
  };
  explicit FakeAnalysisRunner(std::shared_ptr<Script> script,
                              std::shared_ptr<std::atomic<int>> runs)
      : script_(std::move(script)), runs_(std::move(runs)) {}
  nlohmann::json probe(const std::filesystem::path& video,
                       const std::atomic<bool>* cancel) override;
  analysis::AnalysisResult run(const analysis::AnalysisRequest& request,
                               const std::atomic<bool>* cancel) override;
  ProxyFiles make_proxy(const std::filesystem::path& video, const std::filesystem::path& dir,
                        int max_height, const std::atomic<bool>* cancel) override;

  static nlohmann::json video_metadata();

 private:
  std::shared_ptr<Script> script_;
  std::shared_ptr<std::atomic<int>> runs_;
};

// A JobStore that forwards to a real one and fails chosen calls with chosen errors.
class FaultyJobStore final : public store::JobStore {
 public:
  explicit FaultyJobStore(store::JobStore& inner) : inner_(inner) {}
  // The next `count` calls of `method` ("claim_job", "complete_job", "fail_job",
  // "record_retry", "save_metadata") throw StoreError(code).
  void fail_next(const std::string& method, int count, store::StoreErrorCode code);
  int calls(const std::string& method) const;

  store::ClaimResult claim_job(const store::ObjectVersion& object, const std::string& worker_id,
                               std::chrono::seconds lease) override;
  void renew_lease(std::int64_t job_id, const std::string& worker_id,
                   std::chrono::seconds lease) override;
  void save_metadata(std::int64_t job_id, const std::string& worker_id,
                     const std::string& metadata_json) override;
  void complete_job(std::int64_t job_id, const std::string& worker_id,
                    const std::string& metadata_json, const std::string& results_json,
                    const std::string& report_location) override;
  void fail_job(std::int64_t job_id, const std::string& worker_id,
                const std::string& error_message) override;
  int record_retry(std::int64_t job_id, const std::string& worker_id,
                   const std::string& error_message) override;
  int release_job(std::int64_t job_id, const std::string& worker_id,
                  const std::string& reason) override;
  std::optional<store::Job> find_job(std::int64_t job_id) override;
  std::optional<store::Job> find_job(const store::ObjectVersion& object) override;
  std::vector<store::Job> list_jobs(int limit) override;
  int schema_version() override;
  bool ping() override;

 private:
  void maybe_fail(const std::string& method);
  store::JobStore& inner_;
  mutable std::mutex mutex_;
  std::map<std::string, std::pair<int, store::StoreErrorCode>> failures_;
  std::map<std::string, int> calls_;
};

}  // namespace dancer::testing

#include "support/fakes.h"

#include <fstream>
#include <thread>

#include "aws/error.h"
#include "support/test_support.h"

namespace dancer::testing {

// --- FakeQueue ----------------------------------------------------------------------

class FakeWorkQueue final : public service::WorkQueue {
 public:
  explicit FakeWorkQueue(FakeQueue& queue) : queue_(queue) {}
  std::vector<aws::SqsMessage> receive(int max_messages, int wait_seconds,
                                       int visibility_timeout_seconds) override {
    return queue_.receive(max_messages, wait_seconds, visibility_timeout_seconds, cancel_);
  }
  void remove(const std::string& receipt_handle) override { queue_.remove(receipt_handle); }
  void change_visibility(const std::string& receipt_handle, int seconds) override {
    queue_.change_visibility(receipt_handle, seconds);
  }
  void send(const std::string& queue_url, const std::string& body) override {
    queue_.send_to(queue_url, body);
  }
  void send_again(const std::string& body, int delay_seconds) override {
    queue_.send(body, delay_seconds);
  }
  service::QueueCounts counts() override { return queue_.counts(); }
  void set_cancel_flag(const std::atomic<bool>* flag) override { cancel_ = flag; }

 private:
  FakeQueue& queue_;
  const std::atomic<bool>* cancel_ = nullptr;
};

std::string FakeQueue::send(const std::string& body, int delay_seconds) {
  std::lock_guard lock(mutex_);
  Message m;
  m.id = "m-" + std::to_string(++next_id_);
  m.body = body;
  m.visible_at = Clock::now() + std::chrono::seconds(delay_seconds);
  messages_.push_back(m);
  changed_.notify_all();
  return m.id;
}

std::unique_ptr<service::WorkQueue> FakeQueue::connect() {
  return std::make_unique<FakeWorkQueue>(*this);
}

std::vector<aws::SqsMessage> FakeQueue::receive(int max, int wait_seconds, int visibility_seconds,
                                                const std::atomic<bool>* cancel) {
  const auto deadline = Clock::now() + std::chrono::seconds(wait_seconds);
  std::unique_lock lock(mutex_);
  while (true) {
    if (cancel != nullptr && cancel->load()) {
      throw aws::AwsError(aws::ErrorCode::kCancelled, "receive cancelled");
    }
    std::vector<aws::SqsMessage> out;
    const auto now = Clock::now();
    for (Message& m : messages_) {
      if (static_cast<int>(out.size()) >= max) break;
      if (m.visible_at > now) continue;
      ++m.receive_count;
      m.receipt = m.id + "-r" + std::to_string(m.receive_count);
      m.visible_at = now + std::chrono::seconds(visibility_seconds);
      aws::SqsMessage message;
      message.message_id = m.id;
      message.receipt_handle = m.receipt;
      message.body = m.body;
      message.approximate_receive_count = m.receive_count;
      out.push_back(std::move(message));
    }
    if (!out.empty() || now >= deadline) return out;
    changed_.wait_for(lock, std::chrono::milliseconds(50));
  }
}

std::vector<aws::SqsMessage> FakeQueue::receive_as_other_consumer(int max, int visibility_seconds) {
  return receive(max, 0, visibility_seconds, nullptr);
}

void FakeQueue::remove(const std::string& receipt) {
  std::lock_guard lock(mutex_);
  for (auto it = messages_.begin(); it != messages_.end(); ++it) {
    if (it->receipt == receipt) {
      messages_.erase(it);
      ++deletes_;
      changed_.notify_all();
      return;
    }
  }
  // SQS: a stale receipt handle of a message received again since is refused.
  throw aws::AwsError(aws::ErrorCode::kInvalidRequest, "ReceiptHandleIsInvalid");
}

void FakeQueue::change_visibility(const std::string& receipt, int seconds) {
  std::lock_guard lock(mutex_);
  for (Message& m : messages_) {
    if (m.receipt == receipt) {
      m.visible_at = Clock::now() + std::chrono::seconds(seconds);
      last_visibility_[m.id] = seconds;
      changed_.notify_all();
      return;
    }
  }
  throw aws::AwsError(aws::ErrorCode::kInvalidRequest, "ReceiptHandleIsInvalid");
}

void FakeQueue::send_to(const std::string&, const std::string& body) {
  std::lock_guard lock(mutex_);
  dead_letters_.push_back(body);
}

service::QueueCounts FakeQueue::counts() const {
  std::lock_guard lock(mutex_);
  service::QueueCounts counts;
  const auto now = Clock::now();
  for (const Message& m : messages_) {
    if (m.visible_at <= now) {
      ++counts.visible;
    } else if (m.receive_count > 0) {
      ++counts.in_flight;
    } else {
      ++counts.delayed;
    }
  }
  return counts;
}

std::size_t FakeQueue::size() const {
  std::lock_guard lock(mutex_);
  return messages_.size();
}

std::vector<std::string> FakeQueue::dead_letters() const {
  std::lock_guard lock(mutex_);
  return dead_letters_;
}

int FakeQueue::deletes() const {
  std::lock_guard lock(mutex_);
  return deletes_;
}

std::optional<int> FakeQueue::last_visibility(const std::string& message_id) const {
  std::lock_guard lock(mutex_);
  auto it = last_visibility_.find(message_id);
  if (it == last_visibility_.end()) return std::nullopt;
  return it->second;
}

int FakeQueue::receive_count(const std::string& message_id) const {
  std::lock_guard lock(mutex_);
  for (const Message& m : messages_) {
    if (m.id == message_id) return m.receive_count;
  }
  return -1;
}

// --- FakeObjects --------------------------------------------------------------------

class FakeObjectStore final : public service::ObjectStore {
 public:
  explicit FakeObjectStore(FakeObjects& objects) : objects_(objects) {}

  aws::ObjectInfo head(const std::string& bucket, const std::string& key) override {
    std::lock_guard lock(objects_.mutex_);
    auto it = objects_.objects_.find(bucket + "/" + key);
    if (it == objects_.objects_.end()) throw aws::AwsError(aws::ErrorCode::kNotFound, "NoSuchKey");
    aws::ObjectInfo info;
    info.size = it->second.bytes.size();
    info.etag = it->second.etag;
    info.content_type = "video/mp4";
    info.metadata = it->second.metadata;
    return info;
  }

  aws::ObjectInfo download(const std::string& bucket, const std::string& key,
                           const std::filesystem::path& destination,
                           const aws::DownloadOptions& options) override {
    std::string bytes;
    aws::ObjectInfo info;
    {
      std::lock_guard lock(objects_.mutex_);
      ++objects_.downloads_;
      if (objects_.failing_downloads_ > 0) {
        --objects_.failing_downloads_;
        throw aws::AwsError(objects_.failure_code_, "injected download failure");
      }
      auto it = objects_.objects_.find(bucket + "/" + key);
      if (it == objects_.objects_.end()) {
        throw aws::AwsError(aws::ErrorCode::kNotFound, "NoSuchKey");
      }
      if (!options.expected_etag.empty() && options.expected_etag != it->second.etag) {
        throw aws::AwsError(aws::ErrorCode::kPreconditionFailed, "PreconditionFailed");
      }
      bytes = it->second.bytes;
      info.size = bytes.size();
      info.etag = it->second.etag;
    }
    std::ofstream out(destination, std::ios::binary);
    out << bytes;
    if (!out) throw aws::AwsError(aws::ErrorCode::kLocalIo, "cannot write the download");
    return info;
  }

  void put(const std::string& bucket, const std::string& key, const std::filesystem::path& file,
           const std::string&) override {
    {
      std::lock_guard lock(objects_.mutex_);
      ++objects_.puts_;
      if (objects_.puts_to_skip_ > 0) {
        --objects_.puts_to_skip_;
      } else if (objects_.failing_puts_ > 0) {
        --objects_.failing_puts_;
        ++objects_.failed_puts_;
        throw aws::AwsError(
            aws::classify_aws_error(objects_.put_failure_status_, objects_.put_failure_code_),
            "injected PutObject failure: HTTP " + std::to_string(objects_.put_failure_status_) +
                " " + objects_.put_failure_code_,
            objects_.put_failure_status_, objects_.put_failure_code_);
      }
    }
    objects_.put(bucket, key, read_file(file), "put");
  }

  void remove(const std::string& bucket, const std::string& key) override {
    {
      std::lock_guard lock(objects_.mutex_);
      ++objects_.removes_;
    }
    objects_.erase(bucket, key);
  }

 private:
  FakeObjects& objects_;
};

void FakeObjects::put(const std::string& bucket, const std::string& key, std::string bytes,
                      std::string etag, std::map<std::string, std::string> metadata) {
  std::lock_guard lock(mutex_);
  objects_[bucket + "/" + key] = Object{std::move(bytes), std::move(etag), std::move(metadata)};
}

void FakeObjects::erase(const std::string& bucket, const std::string& key) {
  std::lock_guard lock(mutex_);
  objects_.erase(bucket + "/" + key);
}

std::unique_ptr<service::ObjectStore> FakeObjects::connect() {
  return std::make_unique<FakeObjectStore>(*this);
}

void FakeObjects::fail_downloads(int count, aws::ErrorCode code) {
  std::lock_guard lock(mutex_);
  failing_downloads_ = count;
  failure_code_ = code;
}

std::optional<FakeObjects::Object> FakeObjects::get(const std::string& bucket,
                                                    const std::string& key) const {
  std::lock_guard lock(mutex_);
  auto it = objects_.find(bucket + "/" + key);
  if (it == objects_.end()) return std::nullopt;
  return it->second;
}

int FakeObjects::downloads() const {
  std::lock_guard lock(mutex_);
  return downloads_;
}

void FakeObjects::fail_puts(int count, long http_status, const std::string& aws_code, int skip) {
  std::lock_guard lock(mutex_);
  failing_puts_ = count;
  puts_to_skip_ = skip;
  put_failure_status_ = http_status;
  put_failure_code_ = aws_code;
}

std::vector<std::string> FakeObjects::keys(const std::string& bucket,
                                           const std::string& prefix) const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  const std::string start = bucket + "/" + prefix;
  for (auto it = objects_.lower_bound(start);
       it != objects_.end() && it->first.compare(0, start.size(), start) == 0; ++it) {
    out.push_back(it->first.substr(bucket.size() + 1));
  }
  return out;
}

int FakeObjects::puts() const {
  std::lock_guard lock(mutex_);
  return puts_;
}

int FakeObjects::failed_puts() const {
  std::lock_guard lock(mutex_);
  return failed_puts_;
}

int FakeObjects::removes() const {
  std::lock_guard lock(mutex_);
  return removes_;
}

// --- FakeAnalysisRunner -------------------------------------------------------------

nlohmann::json FakeAnalysisRunner::video_metadata() {
  return {{"format", {{"duration", "2.000000"}, {"format_name", "mov,mp4,m4a,3gp,3g2,mj2"}}},
          {"streams", {{{"index", 0}, {"codec_type", "video"}, {"width", 640}, {"height", 360}}}}};
}

nlohmann::json FakeAnalysisRunner::probe(const std::filesystem::path& video,
                                         const std::atomic<bool>*) {
  if (script_->probe) return script_->probe(video);
  return video_metadata();
}

analysis::AnalysisResult FakeAnalysisRunner::run(const analysis::AnalysisRequest& request,
                                                 const std::atomic<bool>* cancel) {
  ++*runs_;
  if (script_->hold) {
    while (!script_->hold->load()) {
      if (cancel != nullptr && cancel->load()) {
        throw analysis::AnalysisError(analysis::AnalysisErrorCode::kCancelled, "cancelled");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  if (script_->run) return script_->run(request);
  analysis::AnalysisResult result;
  result.analysis = {{"analyzer", {{"name", "fake"}}}, {"person_detected", true}};
  return result;
}

service::AnalysisRunner::ProxyFiles FakeAnalysisRunner::make_proxy(
    const std::filesystem::path& video, const std::filesystem::path& dir, int /*max_height*/,
    const std::atomic<bool>* /*cancel*/) {
  if (script_->proxy) return script_->proxy(video, dir);
  return {};
}

// --- FaultyJobStore -----------------------------------------------------------------

void FaultyJobStore::fail_next(const std::string& method, int count, store::StoreErrorCode code) {
  std::lock_guard lock(mutex_);
  failures_[method] = {count, code};
}

int FaultyJobStore::calls(const std::string& method) const {
  std::lock_guard lock(mutex_);
  auto it = calls_.find(method);
  return it == calls_.end() ? 0 : it->second;
}

void FaultyJobStore::maybe_fail(const std::string& method) {
  std::lock_guard lock(mutex_);
  ++calls_[method];
  auto it = failures_.find(method);
  if (it == failures_.end() || it->second.first <= 0) return;
  --it->second.first;
  throw store::StoreError(it->second.second, "injected: database is locked");
}

store::ClaimResult FaultyJobStore::claim_job(const store::ObjectVersion& object,
                                             const std::string& worker_id,
                                             std::chrono::seconds lease) {
  maybe_fail("claim_job");
  return inner_.claim_job(object, worker_id, lease);
}
void FaultyJobStore::renew_lease(std::int64_t job_id, const std::string& worker_id,
                                 std::chrono::seconds lease) {
  maybe_fail("renew_lease");
  inner_.renew_lease(job_id, worker_id, lease);
}
void FaultyJobStore::save_metadata(std::int64_t job_id, const std::string& worker_id,
                                   const std::string& metadata_json) {
  maybe_fail("save_metadata");
  inner_.save_metadata(job_id, worker_id, metadata_json);
}
void FaultyJobStore::complete_job(std::int64_t job_id, const std::string& worker_id,
                                  const std::string& metadata_json, const std::string& results_json,
                                  const std::string& report_location) {
  maybe_fail("complete_job");
  inner_.complete_job(job_id, worker_id, metadata_json, results_json, report_location);
}
void FaultyJobStore::fail_job(std::int64_t job_id, const std::string& worker_id,
                              const std::string& error_message) {
  maybe_fail("fail_job");
  inner_.fail_job(job_id, worker_id, error_message);
}
int FaultyJobStore::record_retry(std::int64_t job_id, const std::string& worker_id,
                                 const std::string& error_message) {
  maybe_fail("record_retry");
  return inner_.record_retry(job_id, worker_id, error_message);
}
int FaultyJobStore::release_job(std::int64_t job_id, const std::string& worker_id,
                                const std::string& reason) {
  maybe_fail("release_job");
  return inner_.release_job(job_id, worker_id, reason);
}
std::optional<store::Job> FaultyJobStore::find_job(std::int64_t job_id) {
  return inner_.find_job(job_id);
}
std::optional<store::Job> FaultyJobStore::find_job(const store::ObjectVersion& object) {
  return inner_.find_job(object);
}
std::vector<store::Job> FaultyJobStore::list_jobs(int limit) { return inner_.list_jobs(limit); }
int FaultyJobStore::schema_version() { return inner_.schema_version(); }
bool FaultyJobStore::ping() { return inner_.ping(); }

}  // namespace dancer::testing

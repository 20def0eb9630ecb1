#include "service/metrics.h"

#include <charconv>
#include <cmath>
#include <string_view>

namespace dancer::service {

namespace {

constexpr auto kRelaxed = std::memory_order_relaxed;

// Shortest text that reads back as the same double (std::to_chars), which Prometheus'
// parser (Go strconv.ParseFloat) accepts.
std::string format_double(double value) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

void add_header(std::string& out, std::string_view name, std::string_view type,
                std::string_view help) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

template <typename Value>
void add_metric(std::string& out, std::string_view name, std::string_view type,
                std::string_view help, Value value) {
  add_header(out, name, type, help);
  out.append(name).append(" ").append(std::to_string(value)).append("\n");
}

}  // namespace

void Metrics::message_received(int n) {
  if (n > 0) messages_received_.fetch_add(static_cast<std::uint64_t>(n), kRelaxed);
}
void Metrics::message_processed() { messages_processed_.fetch_add(1, kRelaxed); }
void Metrics::message_failed() { messages_failed_.fetch_add(1, kRelaxed); }
void Metrics::message_retried() { messages_retried_.fetch_add(1, kRelaxed); }
void Metrics::message_malformed() { messages_malformed_.fetch_add(1, kRelaxed); }
void Metrics::message_duplicate() { messages_duplicate_.fetch_add(1, kRelaxed); }
void Metrics::bytes_downloaded(std::uint64_t n) { bytes_downloaded_.fetch_add(n, kRelaxed); }
void Metrics::file_downloaded() { files_downloaded_.fetch_add(1, kRelaxed); }
void Metrics::job_started() { jobs_started_.fetch_add(1, kRelaxed); }

void Metrics::job_finished(double duration_seconds) {
  if (!(duration_seconds > 0)) duration_seconds = 0;  // also catches NaN
  std::size_t bucket = 0;
  while (bucket < kJobDurationBuckets.size() && duration_seconds > kJobDurationBuckets[bucket]) {
    ++bucket;  // Prometheus buckets are "less than or equal to" their bound
  }
  job_duration_bucket_[bucket].fetch_add(1, kRelaxed);
  job_duration_sum_.fetch_add(duration_seconds, kRelaxed);
  jobs_finished_.fetch_add(1, kRelaxed);
}

void Metrics::set_queue_depth(long visible, long in_flight) {
  queue_visible_.store(visible, kRelaxed);
  queue_in_flight_.store(in_flight, kRelaxed);
}

void Metrics::set_download_dir_bytes(std::uint64_t n) { download_dir_bytes_.store(n, kRelaxed); }

Metrics::Snapshot Metrics::snapshot() const {
  Snapshot s;
  s.messages_received = messages_received_.load(kRelaxed);
  s.messages_processed = messages_processed_.load(kRelaxed);
  s.messages_failed = messages_failed_.load(kRelaxed);
  s.messages_retried = messages_retried_.load(kRelaxed);
  s.messages_malformed = messages_malformed_.load(kRelaxed);
  s.messages_duplicate = messages_duplicate_.load(kRelaxed);
  s.bytes_downloaded = bytes_downloaded_.load(kRelaxed);
  s.files_downloaded = files_downloaded_.load(kRelaxed);
  // Finished is read before started, and each only grows, so the gauge is never negative.
  const std::uint64_t finished = jobs_finished_.load(std::memory_order_acquire);
  const std::uint64_t started = jobs_started_.load(std::memory_order_acquire);
  s.jobs_in_flight = started >= finished ? static_cast<long>(started - finished) : 0;
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < job_duration_bucket_.size(); ++i) {
    cumulative += job_duration_bucket_[i].load(kRelaxed);
    s.job_duration_buckets[i] = cumulative;
  }
  // _count is derived from the buckets so that it always equals the +Inf bucket, as the
  // exposition format requires, even while observations are being added.
  s.job_duration_count = cumulative;
  s.job_duration_sum = job_duration_sum_.load(kRelaxed);
  s.queue_visible = queue_visible_.load(kRelaxed);
  s.queue_in_flight = queue_in_flight_.load(kRelaxed);
  s.download_dir_bytes = download_dir_bytes_.load(kRelaxed);
  return s;
}

std::string Metrics::render_prometheus() const {
  const Snapshot s = snapshot();
  std::string out;
  out.reserve(4096);
  add_metric(out, "dancer_up", "gauge", "1 while the service process is running.", 1);
  add_metric(out, "dancer_messages_received_total", "counter", "SQS messages received.",
             s.messages_received);
  add_metric(out, "dancer_messages_processed_total", "counter",
             "Messages whose video was analysed and recorded.", s.messages_processed);
  add_metric(out, "dancer_messages_failed_total", "counter", "Messages that failed permanently.",
             s.messages_failed);
  add_metric(out, "dancer_messages_retried_total", "counter",
             "Messages returned to the queue for another attempt.", s.messages_retried);
  add_metric(out, "dancer_messages_malformed_total", "counter",
             "Messages that were not valid S3 event notifications.", s.messages_malformed);
  add_metric(out, "dancer_messages_duplicate_total", "counter",
             "Redelivered messages for uploads already recorded.", s.messages_duplicate);
  add_metric(out, "dancer_bytes_downloaded_total", "counter", "Bytes downloaded from S3.",
             s.bytes_downloaded);
  add_metric(out, "dancer_files_downloaded_total", "counter", "Files downloaded from S3.",
             s.files_downloaded);
  add_metric(out, "dancer_jobs_in_flight", "gauge", "Analysis jobs currently running.",
             s.jobs_in_flight);

  constexpr std::string_view kDuration = "dancer_job_duration_seconds";
  add_header(out, kDuration, "histogram", "Wall-clock duration of analysis jobs.");
  for (std::size_t i = 0; i < s.job_duration_buckets.size(); ++i) {
    const std::string bound =
        i < kJobDurationBuckets.size() ? format_double(kJobDurationBuckets[i]) : "+Inf";
    out.append(kDuration).append("_bucket{le=\"").append(bound).append("\"} ");
    out.append(std::to_string(s.job_duration_buckets[i])).append("\n");
  }
  out.append(kDuration).append("_sum ").append(format_double(s.job_duration_sum)).append("\n");
  out.append(kDuration).append("_count ").append(std::to_string(s.job_duration_count));
  out.append("\n");

  add_metric(out, "dancer_queue_messages_visible", "gauge",
             "Approximate number of messages waiting in the queue.", s.queue_visible);
  add_metric(out, "dancer_queue_messages_in_flight", "gauge",
             "Approximate number of messages received but not yet deleted.", s.queue_in_flight);
  add_metric(out, "dancer_download_dir_bytes", "gauge", "Bytes used in the download directory.",
             s.download_dir_bytes);
  return out;
}

}  // namespace dancer::service

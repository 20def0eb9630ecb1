// Service counters and gauges, exposed in the Prometheus text exposition format 0.0.4.
// Every update is a single relaxed atomic operation, so workers never contend on a lock;
// a snapshot is therefore not one instant across metrics, which Prometheus tolerates.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

namespace dancer::service {

class Metrics {
 public:
  // Upper bounds (seconds) of dancer_job_duration_seconds; +Inf is implicit.
  static constexpr std::array<double, 10> kJobDurationBuckets = {1,   5,   15,  30,   60,
                                                                 120, 300, 600, 1800, 3600};

  void message_received(int n = 1);
  void message_processed();
  void message_failed();
  void message_retried();
  void message_malformed();
  void message_duplicate();
  void bytes_downloaded(std::uint64_t n);
  void file_downloaded();
  void job_started();
  // Ends a job started with job_started(); negative or NaN durations count as 0.
  void job_finished(double duration_seconds);
  void set_queue_depth(long visible, long in_flight);
  void set_download_dir_bytes(std::uint64_t n);

  struct Snapshot {
    std::uint64_t messages_received = 0;
    std::uint64_t messages_processed = 0;
    std::uint64_t messages_failed = 0;
    std::uint64_t messages_retried = 0;
    std::uint64_t messages_malformed = 0;
    std::uint64_t messages_duplicate = 0;
    std::uint64_t bytes_downloaded = 0;
    std::uint64_t files_downloaded = 0;
    long jobs_in_flight = 0;  // started - finished
    // Cumulative counts, one per kJobDurationBuckets entry, then +Inf (== job_duration_count).
    std::array<std::uint64_t, kJobDurationBuckets.size() + 1> job_duration_buckets{};
    std::uint64_t job_duration_count = 0;
    double job_duration_sum = 0;
    long queue_visible = 0;
    long queue_in_flight = 0;
    std::uint64_t download_dir_bytes = 0;
  };
  Snapshot snapshot() const;

  // Content-Type: text/plain; version=0.0.4
  std::string render_prometheus() const;

 private:
  std::atomic<std::uint64_t> messages_received_{0};
  std::atomic<std::uint64_t> messages_processed_{0};
  std::atomic<std::uint64_t> messages_failed_{0};
  std::atomic<std::uint64_t> messages_retried_{0};
  std::atomic<std::uint64_t> messages_malformed_{0};
  std::atomic<std::uint64_t> messages_duplicate_{0};
  std::atomic<std::uint64_t> bytes_downloaded_{0};
  std::atomic<std::uint64_t> files_downloaded_{0};
  std::atomic<std::uint64_t> jobs_started_{0};
  std::atomic<std::uint64_t> jobs_finished_{0};
  // Non-cumulative per-bucket counts (last = above the largest bound); made cumulative
  // when read, so an observation is one increment.
  std::array<std::atomic<std::uint64_t>, kJobDurationBuckets.size() + 1> job_duration_bucket_{};
  std::atomic<double> job_duration_sum_{0};
  std::atomic<long> queue_visible_{0};
  std::atomic<long> queue_in_flight_{0};
  std::atomic<std::uint64_t> download_dir_bytes_{0};
};

}  // namespace dancer::service

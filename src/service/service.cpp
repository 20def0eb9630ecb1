#include "service/service.h"

#include <signal.h>
#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "aws/credentials.h"
#include "aws/error.h"
#include "service/analysis_runner.h"
#include "service/download_area.h"
#include "service/health_server.h"
#include "service/logging.h"
#include "service/metrics.h"
#include "service/processor.h"
#include "service/staging.h"
#include "store/job_store.h"

namespace dancer::service {
namespace {

using Clock = std::chrono::steady_clock;

// SQS never keeps a message invisible for more than 12 hours after it was received.
constexpr auto kMaxInvisibility = std::chrono::hours(12);
// ReceiveMessage returns at most 10 messages per call.
constexpr int kMaxMessagesPerReceive = 10;

std::string instance_id() {
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) != 0) std::snprintf(host, sizeof(host), "host");
  return std::string(host) + "-" + std::to_string(::getpid());
}

// One message being worked on, as the heartbeat sees it.
struct InFlight {
  std::string receipt_handle;
  std::string worker_id;
  std::vector<std::int64_t> job_ids;
  Clock::time_point received;
};

}  // namespace

struct Service::State {
  State(ServiceConfig c, ServiceDependencies d) : config(std::move(c)), deps(std::move(d)) {}

  ServiceConfig config;
  ServiceDependencies deps;
  std::atomic<bool> stop_receiving{false};  // no new receives; aborts a pending long poll
  std::atomic<bool> cancel_jobs{false};     // running jobs abort (after SHUTDOWN_TIMEOUT)
  std::atomic<bool> finished{false};
  std::atomic<long long> last_poll_tick{0};

  Metrics metrics;
  // Set once at start-up (the store after a locked database became reachable); readers
  // check `started` first.
  std::unique_ptr<store::JobStore> store;
  std::unique_ptr<DownloadArea> downloads;
  std::atomic<bool> started{false};
  std::atomic<bool> area_full{false};  // DOWNLOAD_DIR cannot take work now

  std::mutex control_mutex;  // guards control_queue (stats + readiness share it)
  std::unique_ptr<WorkQueue> control_queue;

  // Hand-off from the poller to the workers.
  std::mutex mutex;
  std::condition_variable work_ready;
  std::condition_variable worker_idle;
  std::deque<aws::SqsMessage> pending;
  int idle_workers = 0;
  int busy_workers = 0;

  std::mutex in_flight_mutex;
  std::map<std::uint64_t, InFlight> in_flight;
  std::uint64_t next_slot = 0;

  void tick() {
    last_poll_tick.store(
        std::chrono::duration_cast<std::chrono::seconds>(Clock::now().time_since_epoch()).count());
  }

  bool live() const {
    const long long now =
        std::chrono::duration_cast<std::chrono::seconds>(Clock::now().time_since_epoch()).count();
    // A long poll may legitimately take wait time + request timeout.
    const long long allowed =
        config.queue.wait_time_seconds +
        std::chrono::duration_cast<std::chrono::seconds>(config.sqs.request_timeout).count() + 60;
    // While start-up waits for a locked or unreachable database the process is live (only
    // not ready): a liveness restart would not bring the database back.
    if (!started.load()) return !finished.load();
    return !finished.load() && now - last_poll_tick.load() <= allowed;
  }

  // Why DOWNLOAD_DIR cannot take another job now (free space under DOWNLOAD_DIR_MIN_FREE,
  // or DOWNLOAD_DIR_MAX_BYTES reached); empty when it can.
  std::string area_problem() {
    if (!downloads) return "download area not set up";
    std::string why;
    if (!downloads->can_take_work(config.download_dir_min_free_bytes, &why)) return why;
    if (config.download_dir_max_bytes > 0 &&
        downloads->usage_bytes() >= config.download_dir_max_bytes) {
      return "DOWNLOAD_DIR holds DOWNLOAD_DIR_MAX_BYTES";
    }
    return {};
  }

  std::pair<bool, nlohmann::json> ready() {
    bool queue_ok = false;
    try {
      std::lock_guard lock(control_mutex);
      control_queue->counts();
      queue_ok = true;
    } catch (const std::exception& e) {
      spdlog::debug("readiness: queue unreachable: {}", e.what());
    }
    const bool database_ok = started.load() && store->ping();
    const std::string area = started.load() ? area_problem() : "starting";
    const bool ok = queue_ok && database_ok && area.empty() && !stop_receiving.load();
    nlohmann::json details = {{"queue", queue_ok},
                              {"database", database_ok},
                              {"download_dir", area.empty()},
                              {"accepting", !stop_receiving.load()}};
    if (!area.empty()) details["download_dir_problem"] = area;
    return {ok, details};
  }

  void log_stats(const char* label) {
    try {
      std::lock_guard lock(control_mutex);
      const QueueCounts counts = control_queue->counts();
      metrics.set_queue_depth(counts.visible, counts.in_flight);
    } catch (const std::exception& e) {
      spdlog::debug("statistics: queue depth unavailable: {}", e.what());
    }
    metrics.set_download_dir_bytes(downloads->usage_bytes());
    const Metrics::Snapshot s = metrics.snapshot();
    spdlog::info(
        "{}: received {}, processed {}, failed {}, retried {}, malformed {}, duplicates {}, "
        "files downloaded {} ({} bytes), in flight {}, queue visible {} / in flight {}, "
        "download dir {} bytes",
        label, s.messages_received, s.messages_processed, s.messages_failed, s.messages_retried,
        s.messages_malformed, s.messages_duplicate, s.files_downloaded, s.bytes_downloaded,
        s.jobs_in_flight, s.queue_visible, s.queue_in_flight, s.download_dir_bytes);
  }

  void poll_loop(const RunOptions& options);
  void worker_loop(int index);
  void heartbeat_loop();
  void stats_loop();
  void apply_outcome(WorkQueue& queue, const aws::SqsMessage& message,
                     const MessageOutcome& outcome);
  bool drained();
};

// --until-empty: nothing left anywhere. An empty long poll alone is not enough: a message
// of a killed process is still invisible, duplicates of a running job wait in flight, and
// retries are hidden for their backoff; each of them still needs this process.
bool Service::State::drained() {
  {
    std::lock_guard lock(mutex);
    if (!pending.empty() || busy_workers > 0) return false;
  }
  try {
    std::lock_guard lock(control_mutex);
    const QueueCounts counts = control_queue->counts();
    if (counts.total() > 0) {
      spdlog::debug("--until-empty: {} visible, {} in flight, {} delayed; waiting", counts.visible,
                    counts.in_flight, counts.delayed);
      return false;
    }
  } catch (const std::exception& e) {
    spdlog::warn("--until-empty: queue counts unavailable ({}); not stopping yet", e.what());
    return false;
  }
  std::lock_guard lock(mutex);
  return pending.empty() && busy_workers == 0;
}

void Service::State::poll_loop(const RunOptions& options) {
  std::unique_ptr<WorkQueue> queue = deps.make_work_queue();
  queue->set_cancel_flag(&stop_receiving);
  int consecutive_errors = 0;
  while (!stop_receiving.load()) {
    tick();
    int capacity = 0;
    {
      std::unique_lock lock(mutex);
      // Receive only for idle workers: a message received early would sit in memory
      // while its visibility timeout runs.
      worker_idle.wait_for(lock, std::chrono::seconds(1), [&] {
        return stop_receiving.load() || idle_workers > static_cast<int>(pending.size());
      });
      capacity = idle_workers - static_cast<int>(pending.size());
    }
    if (stop_receiving.load()) break;
    if (capacity <= 0) continue;
    // A full DOWNLOAD_DIR takes no new work: a message received now would only spend one
    // of its deliveries on "no room". Readiness is false meanwhile.
    if (const std::string problem = area_problem(); !problem.empty()) {
      if (!area_full.exchange(true)) {
        spdlog::warn("not receiving: {}; waiting for room", problem);
      }
      for (int i = 0; i < 10 && !stop_receiving.load(); ++i) {
        tick();
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      continue;
    }
    if (area_full.exchange(false)) spdlog::info("DOWNLOAD_DIR has room again: receiving");
    std::vector<aws::SqsMessage> messages;
    try {
      messages =
          queue->receive(std::min(capacity, kMaxMessagesPerReceive), config.queue.wait_time_seconds,
                         config.queue.visibility_timeout_seconds);
      consecutive_errors = 0;
    } catch (const aws::AwsError& e) {
      if (e.code() == aws::ErrorCode::kCancelled) break;
      ++consecutive_errors;
      aws::RetryPolicy backoff{0, std::chrono::milliseconds(500), std::chrono::milliseconds(30000)};
      auto delay = aws::backoff_delay(backoff, std::min(consecutive_errors, 10));
      spdlog::error("receiving from SQS failed ({}): {}; retrying in {} ms",
                    aws::to_string(e.code()), e.what(), delay.count());
      for (auto waited = std::chrono::milliseconds(0); waited < delay && !stop_receiving.load();
           waited += std::chrono::milliseconds(100)) {
        tick();
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      continue;
    }
    tick();
    if (messages.empty()) {
      if (options.until_empty && drained()) {
        spdlog::info(
            "queue empty (nothing visible, in flight or delayed) and no job running: "
            "stopping (--until-empty)");
        stop_receiving.store(true);
        work_ready.notify_all();
        break;
      }
      continue;
    }
    metrics.message_received(static_cast<int>(messages.size()));
    {
      std::lock_guard lock(mutex);
      for (auto& m : messages) pending.push_back(std::move(m));
    }
    work_ready.notify_all();
  }
  work_ready.notify_all();
}

void Service::State::apply_outcome(WorkQueue& queue, const aws::SqsMessage& message,
                                   const MessageOutcome& outcome) {
  try {
    switch (outcome.action) {
      case MessageAction::kDelete:
        queue.remove(message.receipt_handle);
        break;
      case MessageAction::kRetryLater:
      case MessageAction::kReturnNow:
        queue.change_visibility(message.receipt_handle, outcome.action == MessageAction::kReturnNow
                                                            ? 0
                                                            : outcome.delay_seconds);
        break;
      case MessageAction::kSendToDeadLetter:
        queue.send(config.queue.dead_letter_queue_url, message.body);
        queue.remove(message.receipt_handle);
        break;
      case MessageAction::kRequeue:
        // Sent first: if the delete fails, the copy is a duplicate the claim recognises.
        queue.send_again(message.body, outcome.delay_seconds);
        queue.remove(message.receipt_handle);
        break;
    }
  } catch (const aws::AwsError& e) {
    // Safe either way: the outcome is in the database, so a redelivered message is
    // recognised as a duplicate and deleted then.
    spdlog::warn("message {}: could not apply outcome \"{}\" ({}): {}", message.message_id,
                 outcome.summary, aws::to_string(e.code()), e.what());
  }
}

void Service::State::worker_loop(int index) {
  const std::string worker_id = instance_id() + "-w" + std::to_string(index);
  std::unique_ptr<WorkQueue> queue = deps.make_work_queue();
  std::unique_ptr<ObjectStore> objects = deps.make_object_store();
  std::unique_ptr<AnalysisRunner> analysis = deps.make_analysis_runner();
  std::uint64_t slot = 0;
  ProcessorDeps processor_deps{config,
                               *objects,
                               *store,
                               *analysis,
                               metrics,
                               worker_id,
                               downloads->work_dir(),
                               config.report_dir,
                               nullptr,
                               nullptr,
                               {},
                               {},
                               {},
                               {}};
  processor_deps.stop = &stop_receiving;
  processor_deps.cancel = &cancel_jobs;
  processor_deps.on_job_claimed = [&](std::int64_t job_id) {
    std::lock_guard lock(in_flight_mutex);
    in_flight[slot].job_ids.push_back(job_id);
  };
  processor_deps.download_dir_usage = [this] { return downloads->usage_bytes(); };
  processor_deps.staging_dir = downloads->root() / "staged";
  MessageProcessor processor(std::move(processor_deps));
  {
    std::lock_guard lock(mutex);
    ++idle_workers;
  }
  worker_idle.notify_all();
  while (true) {
    aws::SqsMessage message;
    {
      std::unique_lock lock(mutex);
      work_ready.wait(lock, [&] { return !pending.empty() || stop_receiving.load(); });
      if (pending.empty()) break;  // stopping, nothing left
      message = std::move(pending.front());
      pending.pop_front();
      --idle_workers;
      ++busy_workers;
    }
    {
      std::lock_guard lock(in_flight_mutex);
      slot = next_slot++;
      in_flight[slot] = InFlight{message.receipt_handle, worker_id, {}, Clock::now()};
    }
    MessageOutcome outcome;
    if (stop_receiving.load() || cancel_jobs.load()) {
      // Received but not started when shutdown began: straight back for another consumer.
      outcome = {MessageAction::kReturnNow, 0, "shutdown before start"};
    } else {
      try {
        outcome = processor.process(message);
      } catch (const std::exception& e) {
        // The processor records every outcome it can; anything escaping it is a fault of
        // ours. The message comes back later rather than the process ending.
        spdlog::error("message {}: unexpected failure ({}); returned for later", message.message_id,
                      e.what());
        outcome = {MessageAction::kRetryLater,
                   retry_delay_seconds(config.queue, message.approximate_receive_count),
                   "unexpected failure"};
      }
    }
    {
      std::lock_guard lock(in_flight_mutex);
      in_flight.erase(slot);
    }
    apply_outcome(*queue, message, outcome);
    spdlog::debug("message {}: {}", message.message_id, outcome.summary);
    {
      std::lock_guard lock(mutex);
      --busy_workers;
      ++idle_workers;
    }
    worker_idle.notify_all();
  }
}

void Service::State::heartbeat_loop() {
  std::unique_ptr<WorkQueue> queue = deps.make_work_queue();
  const int timeout = config.queue.visibility_timeout_seconds;
  // Extend at a third of the timeout, so two heartbeats can fail before a message
  // reappears to another consumer.
  const auto interval = std::chrono::seconds(std::max(1, timeout / 3));
  auto next = Clock::now() + interval;
  while (!finished.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (Clock::now() < next) continue;
    next = Clock::now() + interval;
    std::vector<InFlight> snapshot;
    {
      std::lock_guard lock(in_flight_mutex);
      for (const auto& [slot, entry] : in_flight) snapshot.push_back(entry);
    }
    // Every message's visibility first: a lease renewal may wait for a busy database
    // (DATABASE_BUSY_TIMEOUT), and the messages must not reappear meanwhile.
    for (const InFlight& entry : snapshot) {
      if (Clock::now() - entry.received + std::chrono::seconds(timeout) > kMaxInvisibility) {
        spdlog::warn("a job has run for almost 12 hours: SQS cannot hide its message longer");
        continue;
      }
      try {
        queue->change_visibility(entry.receipt_handle, timeout);
      } catch (const std::exception& e) {
        spdlog::warn("visibility heartbeat failed: {}", e.what());
      }
    }
    for (const InFlight& entry : snapshot) {
      for (std::int64_t job_id : entry.job_ids) {
        try {
          store->renew_lease(job_id, entry.worker_id, std::chrono::seconds(timeout));
        } catch (const std::exception& e) {
          spdlog::warn("job {}: lease renewal failed: {}", job_id, e.what());
        }
      }
    }
  }
}

void Service::State::stats_loop() {
  auto next = Clock::now() + std::chrono::seconds(config.stats_interval_seconds);
  while (!finished.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (Clock::now() < next) continue;
    next = Clock::now() + std::chrono::seconds(config.stats_interval_seconds);
    log_stats("statistics");
  }
}

Service::Service(ServiceConfig config, ServiceDependencies dependencies)
    : state_(std::make_unique<State>(std::move(config), std::move(dependencies))) {}
Service::~Service() = default;

void Service::request_stop() {
  if (!state_->stop_receiving.exchange(true)) {
    spdlog::info("shutdown requested: no new messages will be received");
  }
  state_->work_ready.notify_all();
  state_->worker_idle.notify_all();
}

int Service::run(const RunOptions& options) {
  State& s = *state_;
  const ServiceConfig& c = s.config;

  // Signals are taken by one thread with sigtimedwait; every other thread blocks them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::thread signal_thread([this, &s, &signals] {
    while (!s.finished.load()) {
      timespec timeout{0, 200'000'000};
      int sig = sigtimedwait(&signals, nullptr, &timeout);
      if (sig == SIGTERM || sig == SIGINT) {
        spdlog::info("received {}", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        request_stop();
      }
    }
  });
  struct JoinOnExit {
    State& s;
    std::thread& t;
    ~JoinOnExit() {
      s.finished.store(true);
      if (t.joinable()) t.join();
    }
  } join_signal_thread{s, signal_thread};

  s.control_queue = s.deps.make_work_queue();
  s.tick();

  // The health server comes first: while a locked database delays start-up, the process is
  // live but not ready.
  std::unique_ptr<HealthServer> health;
  if (c.health_port > 0) {
    health = std::make_unique<HealthServer>(
        "0.0.0.0", c.health_port,
        HealthChecks{[&s] { return s.live(); }, [&s] { return s.ready(); },
                     [&s] { return s.metrics.render_prometheus(); }});
    std::string message;
    if (auto error = health->try_start(&message)) {
      // Several processes on one host (as the deployment guide allows) share the default
      // port: the first one serves it, the others run without. A port set on purpose
      // that cannot be had is a configuration error.
      if (*error == HealthServerStartError::kAddressInUse && !c.health_port_explicit) {
        spdlog::warn("health server not started: {} (HEALTH_PORT not set; running without it)",
                     message);
        health.reset();
      } else {
        throw std::runtime_error("health server: " + message);
      }
    } else {
      spdlog::info("health server on port {} (/healthz, /readyz, /metrics)", health->port());
    }
  }

  s.store = s.deps.open_job_store(&s.stop_receiving);
  if (!s.store) {
    spdlog::info("stopped while waiting for the database");
    if (health) health->stop();
    return 0;
  }
  spdlog::info("database {} (schema version {})", store::redact_database_url(c.database_url),
               s.store->schema_version());
  s.downloads = std::make_unique<DownloadArea>(c.download_dir, instance_id());
  if (s.downloads->swept_at_start() > 0) {
    spdlog::warn("removed {} temporary download(s) left by a previous run",
                 s.downloads->swept_at_start());
  }
  // Finished analyses whose artifacts were never published here (their job completed on
  // another host, or the row was deleted) are kept no longer than kStagedJobMaxAge.
  if (const int expired =
          StagingArea(s.downloads->root() / "staged")
              .sweep_expired(std::chrono::duration_cast<std::chrono::seconds>(kStagedJobMaxAge));
      expired > 0) {
    spdlog::warn("removed {} staged analysis(es) older than {} h", expired,
                 kStagedJobMaxAge.count());
  }
  s.started.store(true);
  s.tick();

  spdlog::info("dancer-analysis started: {} worker(s), bucket {}, prefix \"{}\", downloads in {}",
               c.max_workers, c.storage.bucket, c.storage.prefix, s.downloads->root().string());

  std::vector<std::thread> workers;
  for (int i = 0; i < c.max_workers; ++i) workers.emplace_back([&s, i] { s.worker_loop(i); });
  std::thread heartbeat([&s] { s.heartbeat_loop(); });
  std::thread stats([&s] { s.stats_loop(); });

  s.poll_loop(options);
  // Stopped receiving. Running jobs get SHUTDOWN_TIMEOUT, then are cancelled and their
  // messages returned to the queue (visibility 0) for another consumer.
  {
    std::unique_lock lock(s.mutex);
    const auto deadline = Clock::now() + std::chrono::seconds(c.shutdown_timeout_seconds);
    s.work_ready.notify_all();
    if (!s.worker_idle.wait_until(lock, deadline, [&] { return s.busy_workers == 0; })) {
      spdlog::warn("SHUTDOWN_TIMEOUT ({} s) reached: cancelling {} running job(s)",
                   c.shutdown_timeout_seconds, s.busy_workers);
      s.cancel_jobs.store(true);
    }
  }
  s.work_ready.notify_all();
  for (auto& t : workers) t.join();
  // Anything received but never started goes straight back.
  {
    std::unique_ptr<WorkQueue> queue = s.deps.make_work_queue();
    std::lock_guard lock(s.mutex);
    for (const auto& m : s.pending) {
      s.apply_outcome(*queue, m, {MessageAction::kReturnNow, 0, "not started before shutdown"});
    }
    s.pending.clear();
  }
  s.finished.store(true);
  heartbeat.join();
  stats.join();
  if (health) health->stop();
  s.log_stats("final statistics");
  s.downloads.reset();
  spdlog::info("dancer-analysis stopped");
  return 0;
}

store::StoreOptions job_store_options(const ServiceConfig& config) {
  store::StoreOptions options;
  options.busy_timeout = config.database_busy_timeout;
  options.notice_sink = make_library_log_sink("postgres");
  return options;
}

ServiceDependencies make_production_dependencies(const ServiceConfig& config) {
  auto credentials = aws::make_default_credentials_chain(config.aws_environment, config.region);
  std::string queue_url = config.queue.queue_url;
  if (queue_url.empty()) {
    aws::SqsClient sqs(config.sqs, credentials);
    queue_url = sqs.get_queue_url(config.queue.queue_name);
  }
  spdlog::info("queue {}", queue_url);
  ServiceDependencies deps;
  deps.make_work_queue = [config, credentials, queue_url] {
    return make_sqs_work_queue(config.sqs, credentials, queue_url);
  };
  deps.make_object_store = [config, credentials] {
    return make_s3_object_store(config.s3, credentials);
  };
  deps.make_analysis_runner = [config] {
    return make_analysis_runner(config, current_executable());
  };
  deps.open_job_store = [config](const std::atomic<bool>* stop) {
    // A database locked by the web backend, or not up yet, delays start-up (readiness is
    // false meanwhile) instead of ending the process.
    return store::open_job_store_waiting(
        config.database_url, job_store_options(config), stop, [](const store::StoreError& e) {
          spdlog::warn("database not available yet ({}); waiting", e.what());
        });
  };
  return deps;
}

}  // namespace dancer::service

// The queue worker: one poller receiving only as many messages as there are idle
// workers (so nothing waits in memory while its visibility clock runs), MAX_WORKERS
// workers each with their own queue/object-store connections, a heartbeat extending the
// visibility of running messages and the database leases of their jobs, periodic
// statistics, the health server, and a shutdown that stops receiving at once and returns
// unfinished messages to the queue.
//
// The service is built from narrow interfaces (ports.h, store::JobStore, AnalysisRunner)
// through ServiceDependencies: production wires SQS, S3 and the configured database;
// unit tests wire in-memory fakes and walk every outcome without servers.
#pragma once

#include <atomic>
#include <functional>
#include <memory>

#include "service/analysis_runner.h"
#include "service/config.h"
#include "service/ports.h"
#include "store/job_store.h"

namespace dancer::service {

struct RunOptions {
  // Exit 0 once the queue holds nothing (visible, in flight or delayed) and no job runs.
  bool until_empty = false;
};

struct ServiceDependencies {
  // Each call makes a new connection: the poller, each worker, the heartbeat and the
  // readiness/statistics checks get their own.
  std::function<std::unique_ptr<WorkQueue>()> make_work_queue;
  std::function<std::unique_ptr<ObjectStore>()> make_object_store;
  std::function<std::unique_ptr<AnalysisRunner>()> make_analysis_runner;
  // Called once at start-up; waits for a locked or unreachable database until it can be
  // opened or *stop turns true (then returns null).
  std::function<std::unique_ptr<store::JobStore>(const std::atomic<bool>* stop)> open_job_store;
};

// The store options of the configuration: DATABASE_BUSY_TIMEOUT, and PostgreSQL notices
// through the logger.
store::StoreOptions job_store_options(const ServiceConfig& config);

// SQS (the queue URL resolved now, with GetQueueUrl when only the name is configured), S3,
// the sandboxed analysis runner and DATABASE_URL. Throws on start-up errors.
ServiceDependencies make_production_dependencies(const ServiceConfig& config);

class Service {
 public:
  Service(ServiceConfig config, ServiceDependencies dependencies);
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // Runs until stopped (SIGTERM/SIGINT or request_stop) or, with until_empty, until the
  // queue is drained. Returns the process exit code. Throws on start-up errors.
  int run(const RunOptions& options);

  // Stop receiving now; running jobs get SHUTDOWN_TIMEOUT to finish. Thread-safe.
  void request_stop();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace dancer::service

// The queue worker: one poller receiving only as many messages as there are idle
// workers (so nothing waits in memory while its visibility clock runs), MAX_WORKERS
// workers each with their own S3/SQS connections, a heartbeat extending the visibility
// of running messages and the database leases of their jobs, periodic statistics, the
// health server, and a shutdown that stops receiving at once and returns unfinished
// messages to the queue.
#pragma once

#include <atomic>
#include <memory>

#include "service/config.h"

namespace dancer::service {

struct RunOptions {
  bool until_empty = false;  // exit 0 once a long poll finds the queue empty and all jobs are done
};

class Service {
 public:
  explicit Service(ServiceConfig config);
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

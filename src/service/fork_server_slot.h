// The runner's fork server (ANALYSIS_FORK_SERVER): one pre-initialised parent that forks the
// child of every probe and analysis (sandbox/fork_server.h). The slot starts it, and starts it
// again on the first job after it ended. While it cannot start, get() gives null and the
// caller executes each child as without it, under the same sandbox; a start is tried at most
// once per restart pause, so a server that dies at once does not cost every job a start.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>

#include "sandbox/fork_server.h"

namespace dancer::service {

class ForkServerSlot {
 public:
  using Start = std::function<std::unique_ptr<analysis::ForkServer>()>;
  static constexpr std::chrono::seconds kRestartPause{30};

  // `start` starts a server or throws (the slot logs why and falls back).
  explicit ForkServerSlot(Start start,
                          std::chrono::steady_clock::duration restart_pause = kRestartPause);

  // The running server, or null when there is none (children are then executed).
  std::shared_ptr<analysis::ForkServer> get();

  // How many starts were tried, for the log and the tests.
  int starts() const;

 private:
  Start start_;
  std::chrono::steady_clock::duration restart_pause_;
  mutable std::mutex mutex_;
  std::shared_ptr<analysis::ForkServer> server_;
  int starts_ = 0;
  std::chrono::steady_clock::time_point last_try_;
};

}  // namespace dancer::service

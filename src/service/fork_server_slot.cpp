#include "service/fork_server_slot.h"

#include <exception>
#include <utility>

#include <spdlog/spdlog.h>

namespace dancer::service {

ForkServerSlot::ForkServerSlot(Start start, std::chrono::steady_clock::duration restart_pause)
    : start_(std::move(start)), restart_pause_(restart_pause) {}

std::shared_ptr<analysis::ForkServer> ForkServerSlot::get() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (server_ && server_->alive()) return server_;
  const auto now = std::chrono::steady_clock::now();
  if (starts_ > 0 && now - last_try_ < restart_pause_) return nullptr;
  ++starts_;
  last_try_ = now;
  const bool restart = server_ != nullptr;
  server_.reset();
  try {
    server_ = start_();
    spdlog::info("fork server {} (pid {}): probes and analyses fork from it",
                 restart ? "restarted" : "started", server_->pid());
  } catch (const std::exception& e) {
    spdlog::error("fork server cannot start, children are executed one by one: {}", e.what());
  }
  return server_;
}

int ForkServerSlot::starts() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return starts_;
}

}  // namespace dancer::service

// What run_subprocess and the fork server's client share: reading a child's output under its
// limits, and checking the descriptors a caller hands it. Internal to sandbox/.
#pragma once

#include <chrono>
#include <functional>
#include <utility>
#include <vector>

#include "sandbox/subprocess.h"

namespace dancer::analysis::detail {

// Reads stdout and stderr until both close, the deadline passes, the cancel flag turns, or
// stdout outgrows its limit (each of the last three calls `kill` once and returns).
void collect_output(const SubprocessOptions& options, int out_fd, int err_fd,
                    std::chrono::steady_clock::time_point deadline, SubprocessResult& result,
                    const std::function<void()>& kill);

// now + timeout, or time_point::max() when that would overflow (milliseconds::max(): none).
std::chrono::steady_clock::time_point deadline_after(std::chrono::milliseconds timeout);

// SubprocessOptions::inherit_fds' rules: child numbers from 3 on and distinct, parent
// descriptors open. Throws std::invalid_argument / std::system_error naming `who`.
void check_inherit_fds(const std::vector<std::pair<int, int>>& inherit_fds, const char* who);

}  // namespace dancer::analysis::detail

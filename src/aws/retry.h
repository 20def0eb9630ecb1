// Retry with capped exponential backoff and full jitter (AWS Architecture Blog,
// "Exponential Backoff And Jitter"), applied to transient ErrorCodes only.
#pragma once

#include <chrono>

namespace dancer::aws {

struct RetryPolicy {
  int max_attempts = 5;  // total tries, including the first
  std::chrono::milliseconds base_delay{100};
  std::chrono::milliseconds max_delay{20000};
};

// Delay before retry number `attempt` (1-based), drawn uniformly from
// [0, min(max_delay, base_delay * 2^attempt)).
std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, int attempt);

}  // namespace dancer::aws

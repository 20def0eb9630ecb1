#include "aws/retry.h"

#include <algorithm>
#include <random>

namespace dancer::aws {

std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, int attempt) {
  using std::chrono::milliseconds;
  const long long base = std::max<long long>(0, policy.base_delay.count());
  const long long cap = std::max<long long>(0, policy.max_delay.count());
  // base * 2^attempt, saturating at the cap instead of overflowing for large attempts.
  long long ceiling = base;
  for (int i = 0; i < std::max(attempt, 0) && ceiling < cap; ++i) ceiling *= 2;
  ceiling = std::min(ceiling, cap);
  if (ceiling <= 0) return milliseconds{0};
  // Full jitter: uniform in [0, ceiling), so competing workers spread out.
  thread_local std::mt19937_64 generator{std::random_device{}()};
  std::uniform_int_distribution<long long> distribution(0, ceiling - 1);
  return milliseconds{distribution(generator)};
}

}  // namespace dancer::aws

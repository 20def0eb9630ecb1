#include "aws/retry.h"

#include <gtest/gtest.h>

#include <set>

namespace dancer::aws {
namespace {

using std::chrono::milliseconds;

TEST(BackoffDelay, StaysBelowTheExponentialCeiling) {
  const RetryPolicy policy{5, milliseconds(100), milliseconds(20000)};
  for (int attempt = 1; attempt <= 6; ++attempt) {
    const long long ceiling = std::min<long long>(20000, 100LL << attempt);
    for (int draw = 0; draw < 500; ++draw) {
      const milliseconds delay = backoff_delay(policy, attempt);
      EXPECT_GE(delay.count(), 0);
      EXPECT_LT(delay.count(), ceiling) << "attempt " << attempt;
    }
  }
}

TEST(BackoffDelay, IsCappedByMaxDelayEvenForHugeAttempts) {
  const RetryPolicy policy{100, milliseconds(100), milliseconds(1500)};
  for (int attempt : {10, 31, 64, 1000, 1 << 30}) {
    const milliseconds delay = backoff_delay(policy, attempt);
    EXPECT_GE(delay.count(), 0);
    EXPECT_LT(delay.count(), 1500) << "attempt " << attempt;
  }
}

TEST(BackoffDelay, IsJitteredNotConstant) {
  // Full jitter: 200 draws from [0, 1600) cannot all be equal unless jitter is missing
  // (the chance of that happening by luck is 1600^-199).
  const RetryPolicy policy{5, milliseconds(100), milliseconds(20000)};
  std::set<long long> seen;
  for (int draw = 0; draw < 200; ++draw) seen.insert(backoff_delay(policy, 4).count());
  EXPECT_GT(seen.size(), 1u);
}

TEST(BackoffDelay, ReachesTheUpperPartOfTheRange) {
  // Uniform over [0, 800): the chance that 500 draws all stay below 400 is 2^-500.
  const RetryPolicy policy{5, milliseconds(100), milliseconds(20000)};
  long long largest = 0;
  for (int draw = 0; draw < 500; ++draw) {
    largest = std::max<long long>(largest, backoff_delay(policy, 3).count());
  }
  EXPECT_GE(largest, 400);
}

TEST(BackoffDelay, ZeroBaseMeansNoDelay) {
  const RetryPolicy policy{5, milliseconds(0), milliseconds(1000)};
  EXPECT_EQ(backoff_delay(policy, 3).count(), 0);
}

}  // namespace
}  // namespace dancer::aws

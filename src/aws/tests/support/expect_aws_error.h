// Runs a call that must throw AwsError and returns the error, so a test can check its code.
#pragma once

#include <gtest/gtest.h>

#include <functional>

#include "aws/error.h"

namespace dancer::testing {

inline aws::AwsError expect_aws_error(const std::function<void()>& call) {
  try {
    call();
  } catch (const aws::AwsError& error) {
    return error;
  }
  ADD_FAILURE() << "expected an AwsError";
  return aws::AwsError(aws::ErrorCode::kUnknown, "none");
}

}  // namespace dancer::testing

// The behavioural contract of JobStore, written once and run against every backend:
// store_unit_tests instantiates it for SQLite, store_integration_tests for PostgreSQL.
//   INSTANTIATE_TEST_SUITE_P(SQLite, JobStoreContract, ::testing::Values(sqlite_backend()),
//                            backend_name);
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "store/job_store.h"
#include "support/test_databases.h"

namespace dancer::testing {

class JobStoreContract : public ::testing::TestWithParam<StoreBackend> {
 protected:
  void SetUp() override;
  std::unique_ptr<store::JobStore> open(const store::StoreOptions& options = {});

  std::unique_ptr<TestDatabase> database_;
};

std::string backend_name(const ::testing::TestParamInfo<StoreBackend>& info);

}  // namespace dancer::testing

// The JobStore contract (support/job_store_contract.cpp) against SQLite files.
#include "support/job_store_contract.h"

namespace dancer::testing {

INSTANTIATE_TEST_SUITE_P(SQLite, JobStoreContract, ::testing::Values(sqlite_backend()),
                         backend_name);

}  // namespace dancer::testing

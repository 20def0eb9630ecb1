// PostgreSQL implementation of JobStore: a pool of StoreOptions.pool_size libpq connections,
// each with its statements prepared once; dead connections are replaced on next use.
#pragma once

#include <memory>
#include <string>

#include "store/job_store.h"

namespace dancer::store {

// `uri` is a libpq connection URI (postgresql://user:pw@host:port/db?sslmode=...).
// connect_timeout defaults to 5 s unless the URI sets it. Applies pending migrations.
// Throws StoreError (kUnavailable when the server cannot be reached).
std::unique_ptr<JobStore> open_postgres_job_store(const std::string& uri,
                                                  const StoreOptions& options = {});

}  // namespace dancer::store

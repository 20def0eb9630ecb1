// SQLite implementation of JobStore: a small pool of connections to one database file in
// WAL mode (readers never block the single writer), busy_timeout from StoreOptions.
#pragma once

#include <memory>
#include <string>

#include "store/job_store.h"

namespace dancer::store {

// `path` is a filesystem path or ":memory:" (one private in-memory database, pool of one).
// Applies pending migrations. Throws StoreError.
std::unique_ptr<JobStore> open_sqlite_job_store(const std::string& path,
                                                const StoreOptions& options = {});

}  // namespace dancer::store

// SQLite implementation of JobStore: a small pool of connections to one database file in
// WAL mode (readers never block the single writer), busy_timeout from StoreOptions.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "store/job_store.h"

namespace dancer::store {

// `path` is a filesystem path or ":memory:" (one private in-memory database, pool of one).
// Applies pending migrations. Throws StoreError. `open_busy_timeout`, when set, replaces
// options.busy_timeout while opening and migrating (open_job_store_waiting's short attempts).
std::unique_ptr<JobStore> open_sqlite_job_store(
    const std::string& path, const StoreOptions& options = {},
    std::optional<std::chrono::milliseconds> open_busy_timeout = std::nullopt);

}  // namespace dancer::store

// Versioned schema migrations, one ordered list per SQL dialect. Applied in a transaction
// when a store opens; the processing_jobs contract is documented in docs/database.md.
#pragma once

#include <span>
#include <string_view>

namespace dancer::store {

struct Migration {
  int version;  // 1, 2, 3...: strictly increasing, never renumbered once released
  std::string_view description;
  std::string_view sql;  // static DDL only (no values), may hold several statements
};

std::span<const Migration> sqlite_migrations();
std::span<const Migration> postgres_migrations();

// The schema version this build expects (the last migration's version).
int latest_schema_version();

}  // namespace dancer::store

// DATABASE_URL parsing, shared by open_job_store and the tests.
#pragma once

#include <string>

namespace dancer::store {

struct DatabaseUrl {
  enum class Kind { kSqlite, kPostgres };
  Kind kind = Kind::kSqlite;
  // kSqlite: a filesystem path (relative to the cwd unless absolute) or ":memory:".
  // kPostgres: the URL itself, handed to libpq as a connection URI.
  std::string target;
};

// sqlite:///relative.db, sqlite:////absolute.db, sqlite:///:memory:, postgresql://...,
// postgres://... Throws StoreError(kInvalidUrl) with a message that never contains the password.
DatabaseUrl parse_database_url(const std::string& database_url);

}  // namespace dancer::store

// Throw-away databases for the JobStore test suites: a fresh SQLite file or a fresh
// PostgreSQL database (created on the server named by DANCER_TEST_POSTGRES_URL) per test.
#pragma once

#include <functional>
#include <memory>
#include <ostream>
#include <string>

namespace dancer::testing {

class TestDatabase {
 public:
  virtual ~TestDatabase() = default;
  // DATABASE_URL for open_job_store.
  virtual std::string url() const = 0;
  // Runs static SQL directly, bypassing JobStore (e.g. to fake a newer schema).
  virtual void execute(const std::string& sql) = 0;
  // First column of the first row of a static query, as an integer.
  virtual long long query_integer(const std::string& sql) = 0;
};

std::unique_ptr<TestDatabase> make_sqlite_test_database();
// `server_url` names the server's maintenance database; a new database is created next to it
// and dropped again by the destructor. ctest runs test processes in parallel on one server, so
// each test database holds a shared lock on the server; a test that restarts the server asks
// for `exclusive_server` and so runs alone.
std::unique_ptr<TestDatabase> make_postgres_test_database(const std::string& server_url,
                                                          bool exclusive_server = false);

// A backend for the parameterised contract suite. `make` returns nullptr (after recording a
// skip or failure) when its server is not available.
struct StoreBackend {
  std::string name;
  std::function<std::unique_ptr<TestDatabase>()> make;
};

// Names the backend in gtest's messages instead of dumping its bytes.
inline void PrintTo(const StoreBackend& backend, std::ostream* out) { *out << backend.name; }

StoreBackend sqlite_backend();
StoreBackend postgres_backend();  // reads DANCER_TEST_POSTGRES_URL via integration_env

}  // namespace dancer::testing

#include "support/test_databases.h"

#include <fcntl.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <functional>
#include <random>
#include <stdexcept>

#include "support/test_support.h"

namespace dancer::testing {
namespace {

class SqliteTestDatabase final : public TestDatabase {
 public:
  std::string url() const override { return "sqlite:///" + (dir_ / "jobs.db").string(); }

  void execute(const std::string& sql) override {
    Connection connection(dir_ / "jobs.db");
    char* error = nullptr;
    if (sqlite3_exec(connection.db, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
      const std::string message = error != nullptr ? error : "unknown error";
      sqlite3_free(error);
      throw std::runtime_error("sqlite test helper: " + message);
    }
  }

  long long query_integer(const std::string& sql) override {
    Connection connection(dir_ / "jobs.db");
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v2(connection.db, sql.c_str(), -1, &statement, nullptr) != SQLITE_OK) {
      throw std::runtime_error(std::string("sqlite test helper: ") + sqlite3_errmsg(connection.db));
    }
    const bool has_row = sqlite3_step(statement) == SQLITE_ROW;
    const long long value = has_row ? sqlite3_column_int64(statement, 0) : -1;
    sqlite3_finalize(statement);
    if (!has_row) throw std::runtime_error("sqlite test helper: no row for " + sql);
    return value;
  }

 private:
  struct Connection {
    explicit Connection(const std::filesystem::path& path) {
      if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) {
        sqlite3_close(db);
        throw std::runtime_error("sqlite test helper: cannot open " + path.string());
      }
      sqlite3_busy_timeout(db, 5000);
    }
    ~Connection() { sqlite3_close(db); }
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;
    sqlite3* db = nullptr;
  };

  TempDir temp_;
  std::filesystem::path dir_ = temp_.path();
};

class PgConnection {
 public:
  explicit PgConnection(const std::string& url) : connection_(PQconnectdb(url.c_str())) {
    if (PQstatus(connection_) != CONNECTION_OK) {
      const std::string message = PQerrorMessage(connection_);
      PQfinish(connection_);
      throw std::runtime_error("postgres test helper: " + message);
    }
  }
  ~PgConnection() { PQfinish(connection_); }
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Returns the first column of the first row, or "" for commands.
  std::string run(const std::string& sql) {
    PGresult* result = PQexec(connection_, sql.c_str());
    const auto status = PQresultStatus(result);
    std::string value;
    if (status == PGRES_TUPLES_OK && PQntuples(result) > 0) value = PQgetvalue(result, 0, 0);
    const std::string error = PQresultErrorMessage(result);
    PQclear(result);
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
      throw std::runtime_error("postgres test helper: " + error);
    }
    return value;
  }

 private:
  PGconn* connection_;
};

// postgresql://user@host:port/postgres -> same server, database `name`.
std::string with_database(const std::string& server_url, const std::string& name) {
  const auto authority = server_url.find("://") + 3;
  const auto path = server_url.find('/', authority);
  return server_url.substr(0, path == std::string::npos ? server_url.size() : path) + "/" + name;
}

// flock(2) on a file named after the server: released by the kernel even if a test crashes.
class ServerLock {
 public:
  ServerLock(const std::string& server_url, bool exclusive) {
    const auto path =
        std::filesystem::temp_directory_path() /
        ("dancer-postgres-" + std::to_string(std::hash<std::string>{}(server_url)) + ".lock");
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd_ < 0) throw std::runtime_error("cannot open " + path.string());
    while (flock(fd_, exclusive ? LOCK_EX : LOCK_SH) != 0) {
      if (errno != EINTR) throw std::runtime_error("cannot lock " + path.string());
    }
  }
  ~ServerLock() { ::close(fd_); }
  ServerLock(const ServerLock&) = delete;
  ServerLock& operator=(const ServerLock&) = delete;

 private:
  int fd_ = -1;
};

class PostgresTestDatabase final : public TestDatabase {
 public:
  PostgresTestDatabase(std::string server_url, bool exclusive_server)
      : server_url_(std::move(server_url)), lock_(server_url_, exclusive_server) {
    static std::atomic<int> counter{0};
    std::random_device random;
    name_ = "dancer_test_" + std::to_string(getpid()) + "_" + std::to_string(counter++) + "_" +
            std::to_string(random() % 1000000);
    PgConnection(server_url_).run("CREATE DATABASE " + name_);
  }
  ~PostgresTestDatabase() override {
    try {
      // FORCE (PostgreSQL 13+) ends connections a failed test may have left open.
      PgConnection(server_url_).run("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    } catch (const std::exception&) {
      // The server may be gone (a restart test failed); the cluster is thrown away anyway.
    }
  }

  std::string url() const override { return with_database(server_url_, name_); }
  void execute(const std::string& sql) override { PgConnection(url()).run(sql); }
  long long query_integer(const std::string& sql) override {
    return std::stoll(PgConnection(url()).run(sql));
  }

 private:
  std::string server_url_;
  ServerLock lock_;  // after server_url_ (initialised from it); released after the DROP
  std::string name_;
};

}  // namespace

std::unique_ptr<TestDatabase> make_sqlite_test_database() {
  return std::make_unique<SqliteTestDatabase>();
}

std::unique_ptr<TestDatabase> make_postgres_test_database(const std::string& server_url,
                                                          bool exclusive_server) {
  return std::make_unique<PostgresTestDatabase>(server_url, exclusive_server);
}

StoreBackend sqlite_backend() {
  return {"SQLite", [] { return make_sqlite_test_database(); }};
}

StoreBackend postgres_backend() {
  return {"PostgreSQL", []() -> std::unique_ptr<TestDatabase> {
            auto server = integration_env("DANCER_TEST_POSTGRES_URL");
            if (!server) return nullptr;
            return make_postgres_test_database(*server);
          }};
}

}  // namespace dancer::testing

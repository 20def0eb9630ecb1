#include "store/database_url.h"

#include <libpq-fe.h>

#include <algorithm>
#include <memory>
#include <string_view>

#include "store/job_store.h"

namespace dancer::store {
namespace {

constexpr std::string_view kSqlitePrefix = "sqlite:///";

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

struct ConninfoDeleter {
  void operator()(PQconninfoOption* options) const { PQconninfoFree(options); }
};
struct PqFree {
  void operator()(char* text) const { PQfreemem(text); }
};

// libpq's reasons quote the URI or the offending token, which may be the password: keep
// only the reason itself ('invalid percent-encoded token: "..."' -> the part before ':').
std::string reason_without_quotes(const char* message) {
  std::string reason = message == nullptr ? "" : message;
  const auto quoted = reason.find(": \"");
  if (quoted != std::string::npos) reason.resize(quoted);
  while (!reason.empty() && (reason.back() == '\n' || reason.back() == ' ')) reason.pop_back();
  return reason.empty() ? "malformed" : reason;
}

bool is_port(std::string_view text) {
  if (text.empty() || text.size() > 5) return false;
  if (!std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  const int port = std::stoi(std::string(text));
  return port >= 1 && port <= 65535;
}

// Parses a PostgreSQL URI with libpq's own parser (PQconninfoParse), the one the connection
// will use: a generic URL parser disagrees with libpq on "postgresql:///db?host=/socket"
// (no host) and on multi-host lists ("h1:5432,h2:5433"). Catches at start-up what libpq
// would only report on connecting: unbalanced IPv6 brackets, bad %-escapes, unknown
// parameters, ports that are not numbers.
void check_postgres_uri(const std::string& database_url) {
  char* raw_error = nullptr;
  std::unique_ptr<PQconninfoOption, ConninfoDeleter> options(
      PQconninfoParse(database_url.c_str(), &raw_error));
  std::unique_ptr<char, PqFree> error(raw_error);
  if (!options) {
    throw StoreError(StoreErrorCode::kInvalidUrl,
                     "DATABASE_URL " + redact_database_url(database_url) +
                         " is not a valid PostgreSQL URI: " + reason_without_quotes(error.get()));
  }
  for (const PQconninfoOption* option = options.get(); option->keyword != nullptr; ++option) {
    if (option->val == nullptr || std::string_view(option->keyword) != "port") continue;
    // One port, or one per host of a multi-host list.
    std::string_view ports = option->val;
    while (true) {
      const auto comma = ports.find(',');
      const std::string_view port = ports.substr(0, comma);
      if (!is_port(port)) {
        throw StoreError(StoreErrorCode::kInvalidUrl,
                         "DATABASE_URL " + redact_database_url(database_url) + ": port '" +
                             std::string(port) + "' is not a number from 1 to 65535");
      }
      if (comma == std::string_view::npos) break;
      ports.remove_prefix(comma + 1);
    }
  }
}

}  // namespace

DatabaseUrl parse_database_url(const std::string& database_url) {
  if (starts_with(database_url, kSqlitePrefix)) {
    // SQLAlchemy's convention: three slashes then the path, so an absolute path has four.
    std::string path = database_url.substr(kSqlitePrefix.size());
    if (path.empty() || path == "/") {
      throw StoreError(StoreErrorCode::kInvalidUrl,
                       "DATABASE_URL 'sqlite:///' needs a file path, e.g. sqlite:///jobs.db");
    }
    if (path.find('?') != std::string::npos) {
      throw StoreError(StoreErrorCode::kInvalidUrl,
                       "DATABASE_URL sqlite URLs take no query parameters: " + database_url);
    }
    return {DatabaseUrl::Kind::kSqlite, path};
  }
  if (starts_with(database_url, "postgresql://") || starts_with(database_url, "postgres://")) {
    const auto scheme_end = database_url.find("://") + 3;
    if (database_url.size() == scheme_end) {
      // libpq would silently fall back to the default host and user; be explicit instead.
      throw StoreError(StoreErrorCode::kInvalidUrl,
                       "DATABASE_URL " + redact_database_url(database_url) + " names no host");
    }
    check_postgres_uri(database_url);
    return {DatabaseUrl::Kind::kPostgres, database_url};
  }
  if (starts_with(database_url, "sqlite:")) {
    throw StoreError(StoreErrorCode::kInvalidUrl,
                     "DATABASE_URL sqlite URLs start with sqlite:/// (three slashes): " +
                         redact_database_url(database_url));
  }
  const auto colon = database_url.find(':');
  const std::string scheme =
      colon == std::string::npos ? std::string("(none)") : database_url.substr(0, colon);
  throw StoreError(StoreErrorCode::kInvalidUrl,
                   "DATABASE_URL has unsupported scheme '" + scheme +
                       "': expected sqlite:///path.db or postgresql://user@host:port/db");
}

std::string redact_database_url(const std::string& database_url) {
  std::string out = database_url;
  // userinfo password: scheme://user:PASSWORD@host
  const auto scheme_end = out.find("://");
  if (scheme_end != std::string::npos) {
    const auto authority_start = scheme_end + 3;
    const auto authority_end = out.find_first_of("/?#", authority_start);
    const auto authority_len =
        (authority_end == std::string::npos ? out.size() : authority_end) - authority_start;
    const std::string authority = out.substr(authority_start, authority_len);
    // The last '@' ends the userinfo (a raw '@' in a password is invalid but seen in practice).
    const auto at = authority.rfind('@');
    if (at != std::string::npos) {
      const auto colon = authority.find(':');
      if (colon != std::string::npos && colon < at) {
        out.replace(authority_start + colon + 1, at - colon - 1, "***");
      }
    }
  }
  // libpq also accepts the password as a query parameter: ?password=... or &password=...
  for (std::size_t pos = out.find("password="); pos != std::string::npos;
       pos = out.find("password=", pos + 1)) {
    if (pos == 0 || (out[pos - 1] != '?' && out[pos - 1] != '&')) continue;
    const auto value_start = pos + std::string_view("password=").size();
    const auto value_end = out.find_first_of("&#", value_start);
    out.replace(value_start,
                (value_end == std::string::npos ? out.size() : value_end) - value_start, "***");
  }
  return out;
}

}  // namespace dancer::store

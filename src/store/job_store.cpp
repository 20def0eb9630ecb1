#include "store/job_store.h"

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <thread>

#include "common/utf8.h"
#include "store/database_url.h"
#include "store/postgres_store.h"
#include "store/sqlite_store.h"

namespace dancer::store {
namespace {

// For error messages: printable ASCII kept, everything else as \xNN, at most ~64 bytes shown.
std::string escaped_prefix(std::string_view text) {
  constexpr std::size_t kShown = 64;
  std::string out;
  for (const char c : text.substr(0, kShown)) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7f && byte != '\\') {
      out += c;
    } else {
      constexpr const char* kHex = "0123456789abcdef";
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    }
  }
  if (text.size() > kShown) out += "...";
  return out;
}

void check_field(std::string_view name, std::string_view value) {
  std::string problem;
  if (value.size() > kMaxObjectFieldBytes) {
    problem = "is " + std::to_string(value.size()) + " bytes long (at most " +
              std::to_string(kMaxObjectFieldBytes) + ")";
  } else if (value.find('\0') != std::string_view::npos) {
    problem = "contains a NUL byte";
  } else if (!is_storable_text(value)) {
    problem = "is not valid UTF-8";
  } else {
    return;
  }
  throw StoreError(StoreErrorCode::kInvalidObject, "claim_job: object " + std::string(name) +
                                                       " \"" + escaped_prefix(value) + "\" " +
                                                       problem + "; not stored");
}

// Sleeps `delay` in short slices; false when `cancel` was set meanwhile.
bool sleep_unless_cancelled(std::chrono::milliseconds delay, const std::atomic<bool>* cancel) {
  constexpr std::chrono::milliseconds kSlice{50};
  const auto until = std::chrono::steady_clock::now() + delay;
  while (cancel == nullptr || !cancel->load()) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= until) return true;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(kSlice, until - now));
  }
  return false;
}

}  // namespace

std::string_view to_string(JobStatus status) {
  switch (status) {
    case JobStatus::kProcessing:
      return "processing";
    case JobStatus::kCompleted:
      return "completed";
    case JobStatus::kFailed:
      return "failed";
  }
  return "unknown";
}

bool is_storable_text(std::string_view text) {
  // utf8cpp's validator follows RFC 3629: it rejects overlong forms, surrogates, code points
  // above U+10FFFF, stray continuation bytes and truncated sequences. NUL is valid UTF-8, but
  // PostgreSQL's text types cannot hold it (libpq passes parameters as C strings).
  return text.find('\0') == std::string_view::npos && common::is_valid_utf8(text);
}

std::string to_storable_text(std::string_view text) {
  // U+FFFD for invalid sequences, and for NUL, which PostgreSQL's text cannot hold.
  std::string out;
  for (const char c : common::to_valid_utf8(text)) {
    if (c == '\0') {
      out += "\xEF\xBF\xBD";
    } else {
      out += c;
    }
  }
  return out;
}

void validate_object(const ObjectVersion& object) {
  check_field("bucket", object.bucket);
  check_field("key", object.key);
  check_field("etag", object.etag);
  check_field("version_id", object.version_id);
}

bool is_storable_object(const ObjectVersion& object) {
  for (const std::string* field : {&object.bucket, &object.key, &object.etag, &object.version_id}) {
    if (field->size() > kMaxObjectFieldBytes || !is_storable_text(*field)) return false;
  }
  return true;
}

std::unique_ptr<JobStore> open_job_store(const std::string& database_url,
                                         const StoreOptions& options) {
  const DatabaseUrl url = parse_database_url(database_url);
  if (url.kind == DatabaseUrl::Kind::kPostgres) return open_postgres_job_store(url.target, options);
  return open_sqlite_job_store(url.target, options);
}

std::unique_ptr<JobStore> open_job_store_waiting(
    const std::string& database_url, const StoreOptions& options, const std::atomic<bool>* cancel,
    const std::function<void(const StoreError&)>& on_retry, const OpenBackoff& backoff) {
  const DatabaseUrl url = parse_database_url(database_url);  // kInvalidUrl: not retried
  const auto attempt_busy_timeout = std::min(options.busy_timeout, backoff.attempt_busy_timeout);
  auto delay = std::max(backoff.initial, std::chrono::milliseconds(1));
  while (cancel == nullptr || !cancel->load()) {
    try {
      if (url.kind == DatabaseUrl::Kind::kPostgres) {
        return open_postgres_job_store(url.target, options);
      }
      return open_sqlite_job_store(url.target, options, attempt_busy_timeout);
    } catch (const StoreError& e) {
      if (!e.transient()) throw;
      if (on_retry) on_retry(e);
    }
    if (!sleep_unless_cancelled(delay, cancel)) break;
    delay = std::min(delay * 2, std::max(backoff.max, backoff.initial));
  }
  return nullptr;
}

}  // namespace dancer::store

#include "store/job_store.h"

#include "store/database_url.h"
#include "store/postgres_store.h"
#include "store/sqlite_store.h"

namespace dancer::store {

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

std::unique_ptr<JobStore> open_job_store(const std::string& database_url,
                                         const StoreOptions& options) {
  const DatabaseUrl url = parse_database_url(database_url);
  if (url.kind == DatabaseUrl::Kind::kPostgres) return open_postgres_job_store(url.target, options);
  return open_sqlite_job_store(url.target, options);
}

}  // namespace dancer::store

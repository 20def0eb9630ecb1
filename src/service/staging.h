// Finished analyses kept on local disk until their artifacts are published and their outcome
// recorded, so that a failure after the analysis (S3 refusing the artifact uploads, the
// database unreachable at the final write) does not throw the work away: the next delivery of
// the same job on this host publishes the staged files instead of downloading, probing and
// analysing again.
//
// Why a local directory and not the row: the artifacts (overlay.mp4 is tens of MB) do not
// belong in the shared database, and the row is the web backend's contract, where a
// half-finished job must not look finished. The staged results are the service's own
// bookkeeping until complete_job writes them. The cost: a redelivery that another host receives
// redoes the analysis (exactly as before); the staging of the first host then expires.
//
// Layout, under DOWNLOAD_DIR (on the same file system as the work directories, so the
// analysis' files are moved, not copied, and their bytes count towards DOWNLOAD_DIR_MAX_BYTES):
//   staged/                       mode 0700
//     job-<job uuid>/             one per job, named by the row's job_uuid
//       manifest.json             written last (fsynced, renamed into place): metadata,
//                                 results, and each artifact's name, size and SHA-256
//       report.html, overlay.mp4, ...
// A directory without a valid manifest, or whose files no longer match it, is discarded (the
// analysis is then redone). The work-directory sweep (download_area.h) never touches staged/:
// it removes only marked work-* directories. Staged jobs are removed when the job completes or
// fails, and any left behind (the job finished on another host, the row was deleted) once they
// are older than kStagedJobMaxAge.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace dancer::service {

// Longer than any job's retries take (MAX_RECEIVE_COUNT deliveries, each delayed at most
// RETRY_MAX_DELAY and SQS's 12-hour visibility ceiling).
inline constexpr std::chrono::hours kStagedJobMaxAge{48};

struct StagedArtifact {
  std::string name;  // file name in the staged directory ("report.html")
  std::uint64_t size = 0;
  std::string sha256;  // lower-case hex
};

struct StagedJob {
  std::filesystem::path dir;
  nlohmann::json metadata;  // as stored in metadata_json
  nlohmann::json results;   // results_json without "artifacts" and "report_location"
  std::vector<StagedArtifact> artifacts;
  double prepared_s = 0;  // seconds the download, probe and analysis took

  std::filesystem::path file(const StagedArtifact& artifact) const { return dir / artifact.name; }
};

class StagingArea {
 public:
  // `root` is created (mode 0700) on first use.
  explicit StagingArea(std::filesystem::path root) : root_(std::move(root)) {}
  // Removes the root if it is empty, so a service that finished its work leaves DOWNLOAD_DIR
  // as it found it. Only here, not after each job: removed whenever a job found it empty, it
  // vanished under another worker making its own job's directory (make_private_dirs in the
  // .cpp retries that, for this last removal).
  ~StagingArea();
  StagingArea(const StagingArea&) = delete;
  StagingArea& operator=(const StagingArea&) = delete;

  const std::filesystem::path& root() const { return root_; }

  // Moves `files` (the analysis' outputs, on the same file system as root) into the job's
  // staged directory and writes its manifest; durable against a process restart (files,
  // manifest and directory fsynced) when it returns. Replaces an earlier staging of the job.
  // Throws std::filesystem::filesystem_error / std::system_error.
  StagedJob stage(const std::string& job_uuid, const nlohmann::json& metadata,
                  const nlohmann::json& results, const std::vector<std::filesystem::path>& files,
                  double prepared_s);

  // The job's staged analysis when its manifest is valid and every file matches its size and
  // SHA-256; otherwise nullopt, and a broken staging is removed.
  std::optional<StagedJob> find(const std::string& job_uuid);

  // Removes the job's staged directory (nothing when there is none). Never throws.
  void remove(const std::string& job_uuid) noexcept;

  // Removes staged job directories whose manifest (or, without one, directory) was last
  // modified more than max_age ago. Returns how many were removed. Never throws.
  int sweep_expired(std::chrono::seconds max_age) noexcept;

 private:
  std::filesystem::path dir_for(const std::string& job_uuid) const;
  std::filesystem::path root_;
};

}  // namespace dancer::service

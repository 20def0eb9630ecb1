// The download directory, shared safely by several service processes on one machine, and
// possibly with files that are not ours (DOWNLOAD_DIR may be a shared scratch volume).
// Each process works in its own subdirectory `work-<instance>/`, which carries the marker
// file `.dancer-analysis-work` (first line kWorkMarkerMagic) and is marked live by an
// flock(2)-held lock file `.work-<instance>.lock` beside it. At start-up, marked
// subdirectories whose lock nobody holds belong to a crashed run and are swept; anything
// without the marker is left alone. The kernel releases flocks when a process dies, so even
// SIGKILL leaves nothing that looks alive.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace dancer::service {

// Name and first line of the file that marks a work directory as created by this service.
inline constexpr std::string_view kWorkMarkerName = ".dancer-analysis-work";
inline constexpr std::string_view kWorkMarkerMagic = "dancer-analysis work directory v1";

class DownloadArea {
 public:
  // Creates root if needed, sweeps stale work directories, creates our own (mode 0711).
  // Throws std::system_error / std::filesystem::filesystem_error, also when a directory
  // of our name exists that this service did not create.
  DownloadArea(std::filesystem::path root, const std::string& instance_id);
  ~DownloadArea();  // removes our work directory and lock file
  DownloadArea(const DownloadArea&) = delete;
  DownloadArea& operator=(const DownloadArea&) = delete;

  const std::filesystem::path& root() const { return root_; }
  const std::filesystem::path& work_dir() const { return work_dir_; }
  int swept_at_start() const { return swept_; }
  // Bytes currently stored under root (all processes).
  std::uint64_t usage_bytes() const;

  // Readiness: whether a new job could be downloaded now: the work directory still exists
  // and is writable, and its file system has at least min_free_bytes available to us
  // (statvfs f_bavail, i.e. without the blocks reserved for root). One statvfs and one
  // access call: cheap enough for every readiness probe. On false, *why says which.
  bool can_take_work(std::uint64_t min_free_bytes, std::string* why = nullptr) const;

  // Removes the marked work directories (with everything in them, *.part files included)
  // that no live process holds. Returns how many were removed.
  static int sweep_stale(const std::filesystem::path& root);

 private:
  std::filesystem::path root_;
  std::filesystem::path work_dir_;
  std::filesystem::path lock_path_;
  int lock_fd_ = -1;
  int swept_ = 0;
};

}  // namespace dancer::service

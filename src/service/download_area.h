// The download directory, shared safely by several service processes on one machine.
// Each process works in its own subdirectory `work-<instance>/`, marked live by an
// flock(2)-held lock file. At start-up, subdirectories whose lock nobody holds belong
// to a crashed run and are swept. The kernel releases flocks when a process dies, so
// even SIGKILL leaves nothing that looks alive.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace dancer::service {

class DownloadArea {
 public:
  // Creates root if needed, sweeps stale work directories, creates our own.
  // Throws std::system_error / std::filesystem::filesystem_error.
  DownloadArea(std::filesystem::path root, const std::string& instance_id);
  ~DownloadArea();  // removes our work directory and lock file
  DownloadArea(const DownloadArea&) = delete;
  DownloadArea& operator=(const DownloadArea&) = delete;

  const std::filesystem::path& root() const { return root_; }
  const std::filesystem::path& work_dir() const { return work_dir_; }
  int swept_at_start() const { return swept_; }
  // Bytes currently stored under root (all processes).
  std::uint64_t usage_bytes() const;

  // Removes work directories (and stray *.part files) no live process holds. Returns
  // how many entries were removed.
  static int sweep_stale(const std::filesystem::path& root);

 private:
  std::filesystem::path root_;
  std::filesystem::path work_dir_;
  std::filesystem::path lock_path_;
  int lock_fd_ = -1;
  int swept_ = 0;
};

}  // namespace dancer::service

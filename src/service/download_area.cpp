#include "service/download_area.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <system_error>

namespace dancer::service {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kWorkPrefix = "work-";
// The service's alone: the analysis child reads its video through a descriptor the service
// opened, so no other user needs to reach anything here (uploads are patients' videos).
constexpr fs::perms kWorkDirMode = fs::perms::owner_all;

fs::path lock_path_for(const fs::path& root, const std::string& name) {
  return root / ("." + name + ".lock");
}

// A real directory (not a link to one) whose marker file starts with our magic line.
bool is_marked_work_dir(const fs::directory_entry& entry) {
  std::error_code ec;
  if (entry.symlink_status(ec).type() != fs::file_type::directory) return false;
  const fs::path marker = entry.path() / kWorkMarkerName;
  if (fs::symlink_status(marker, ec).type() != fs::file_type::regular) return false;
  std::ifstream in(marker);
  std::string first_line;
  return std::getline(in, first_line) && first_line == kWorkMarkerMagic;
}

void write_marker(const fs::path& dir) {
  const fs::path marker = dir / kWorkMarkerName;
  std::ofstream out(marker, std::ios::trunc);
  out << kWorkMarkerMagic << "\n"
      << "Created by dancer-analysis; removed on exit, or at the next start-up after a "
         "crash while no process holds its lock.\n";
  out.close();
  if (!out)
    throw std::system_error(EIO, std::generic_category(), "cannot write " + marker.string());
}

}  // namespace

int DownloadArea::sweep_stale(const fs::path& root) {
  int removed = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.compare(0, kWorkPrefix.size(), kWorkPrefix) != 0 || !is_marked_work_dir(entry)) {
      continue;  // not ours: someone else's files share the directory
    }
    const auto lock = lock_path_for(root, name);
    const int fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) continue;
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
      // Nobody holds it: the owner is gone.
      std::error_code remove_ec;
      fs::remove_all(entry.path(), remove_ec);
      fs::remove(lock, remove_ec);
      if (!remove_ec) ++removed;
    }
    ::close(fd);
  }
  return removed;
}

DownloadArea::DownloadArea(fs::path root, const std::string& instance_id) : root_(std::move(root)) {
  fs::create_directories(root_);
  root_ = fs::canonical(root_);
  const std::string name = std::string(kWorkPrefix) + instance_id;
  lock_path_ = lock_path_for(root_, name);
  lock_fd_ = ::open(lock_path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (lock_fd_ < 0) throw std::system_error(errno, std::generic_category(), lock_path_.string());
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    ::close(lock_fd_);
    throw std::system_error(err, std::generic_category(),
                            "another process holds " + lock_path_.string());
  }
  try {
    swept_ = sweep_stale(root_);
    work_dir_ = root_ / name;
    std::error_code ec;
    if (fs::symlink_status(work_dir_, ec).type() != fs::file_type::not_found) {
      // A marked one is ours from an earlier run with the same instance id (we hold its
      // lock now); anything else of that name is not ours to delete.
      if (!is_marked_work_dir(fs::directory_entry(work_dir_))) {
        throw std::system_error(EEXIST, std::generic_category(),
                                work_dir_.string() + " exists and was not created by this service");
      }
      fs::remove_all(work_dir_);
    }
    fs::create_directory(work_dir_);
    // Explicitly, as create_directory applies the umask.
    fs::permissions(work_dir_, kWorkDirMode, fs::perm_options::replace);
    write_marker(work_dir_);
  } catch (...) {
    ::close(lock_fd_);
    throw;
  }
}

DownloadArea::~DownloadArea() {
  std::error_code ec;
  fs::remove_all(work_dir_, ec);
  fs::remove(lock_path_, ec);
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

bool DownloadArea::can_take_work(std::uint64_t min_free_bytes, std::string* why) const {
  const auto refuse = [why](std::string reason) {
    if (why != nullptr) *why = std::move(reason);
    return false;
  };
  struct statvfs fs_stats {};
  if (::statvfs(work_dir_.c_str(), &fs_stats) != 0) {
    return refuse("download directory " + work_dir_.string() + ": " + std::strerror(errno));
  }
  if ((fs_stats.f_flag & ST_RDONLY) != 0) {
    return refuse("download directory " + work_dir_.string() + " is on a read-only file system");
  }
  // access(2) checks with the real uid, as the service writes its downloads itself.
  if (::access(work_dir_.c_str(), W_OK | X_OK) != 0) {
    return refuse("download directory " + work_dir_.string() +
                  " is not writable: " + std::strerror(errno));
  }
  const std::uint64_t available =
      static_cast<std::uint64_t>(fs_stats.f_bavail) * static_cast<std::uint64_t>(fs_stats.f_frsize);
  if (available < min_free_bytes) {
    return refuse("download directory " + root_.string() + " has " + std::to_string(available) +
                  " bytes free, needs at least " + std::to_string(min_free_bytes));
  }
  return true;
}

std::uint64_t DownloadArea::usage_bytes() const {
  std::uint64_t total = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root_, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    std::error_code size_ec;
    // The markers are bookkeeping, not downloads.
    if (it->is_regular_file(size_ec) && it->path().filename() != kWorkMarkerName) {
      auto size = it->file_size(size_ec);
      if (!size_ec) total += size;
    }
  }
  return total;
}

}  // namespace dancer::service

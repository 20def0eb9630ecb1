#include "service/download_area.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace dancer::service {
namespace {

constexpr std::string_view kWorkPrefix = "work-";

std::filesystem::path lock_path_for(const std::filesystem::path& root, const std::string& name) {
  return root / ("." + name + ".lock");
}

}  // namespace

int DownloadArea::sweep_stale(const std::filesystem::path& root) {
  int removed = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(root, ec)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_directory() && name.compare(0, kWorkPrefix.size(), kWorkPrefix) == 0) {
      const auto lock = lock_path_for(root, name);
      int fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
      if (fd < 0) continue;
      if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
        // Nobody holds it: the owner is gone.
        std::error_code remove_ec;
        std::filesystem::remove_all(entry.path(), remove_ec);
        std::filesystem::remove(lock, remove_ec);
        ++removed;
      }
      ::close(fd);
    } else if (entry.is_regular_file() && entry.path().extension() == ".part") {
      std::error_code remove_ec;
      if (std::filesystem::remove(entry.path(), remove_ec)) ++removed;
    }
  }
  return removed;
}

DownloadArea::DownloadArea(std::filesystem::path root, const std::string& instance_id)
    : root_(std::move(root)) {
  std::filesystem::create_directories(root_);
  root_ = std::filesystem::canonical(root_);
  const std::string name = std::string(kWorkPrefix) + instance_id;
  lock_path_ = lock_path_for(root_, name);
  lock_fd_ = ::open(lock_path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd_ < 0) throw std::system_error(errno, std::generic_category(), lock_path_.string());
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    ::close(lock_fd_);
    throw std::system_error(err, std::generic_category(),
                            "another process holds " + lock_path_.string());
  }
  swept_ = sweep_stale(root_);
  work_dir_ = root_ / name;
  std::filesystem::remove_all(work_dir_);
  std::filesystem::create_directory(work_dir_);
}

DownloadArea::~DownloadArea() {
  std::error_code ec;
  std::filesystem::remove_all(work_dir_, ec);
  std::filesystem::remove(lock_path_, ec);
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

std::uint64_t DownloadArea::usage_bytes() const {
  std::uint64_t total = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(root_, ec);
       it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    std::error_code size_ec;
    if (it->is_regular_file(size_ec)) {
      auto size = it->file_size(size_ec);
      if (!size_ec) total += size;
    }
  }
  return total;
}

}  // namespace dancer::service

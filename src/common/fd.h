// File descriptors: one owner, and the read/write loops every layer needs, written once.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>

namespace dancer::common {

// An open descriptor, closed when its owner goes.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(std::exchange(other.fd_, -1));
    return *this;
  }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

// Writes all of `bytes` (retrying short writes and EINTR). Returns 0, or the errno.
int write_all(int fd, std::string_view bytes);

// Reads from the descriptor's offset to its end, at most `max_bytes` (more is an error:
// EFBIG). Returns 0, or the errno; `out` holds what was read.
int read_all(int fd, std::string& out, std::uint64_t max_bytes = UINT64_MAX);

// pread that retries EINTR: bytes read (0 at the end), or -1 with errno.
ssize_t pread_retry(int fd, void* buffer, std::size_t size, std::uint64_t offset);

// A file to read: by name, or through a descriptor opened for us (the sandboxed child opens
// no file by name: everything it reads arrives as an inherited descriptor). Readers of a
// descriptor use pread with their own position, so several may read one descriptor and its
// shared file offset plays no part.
class FileSource {
 public:
  FileSource() = default;
  FileSource(std::filesystem::path path) : path_(std::move(path)) {}  // NOLINT: implicit
  FileSource(const char* path) : path_(path) {}                       // NOLINT: implicit
  FileSource(const std::string& path) : path_(path) {}                // NOLINT: implicit
  // `name` is what messages call it ("the video"); the descriptor stays the caller's.
  static FileSource descriptor(int fd, std::string name);

  bool by_descriptor() const { return fd_ >= 0; }
  bool empty() const { return fd_ < 0 && path_.empty(); }
  int fd() const { return fd_; }
  const std::filesystem::path& path() const { return path_; }
  // For messages: the file name (never a directory), or the descriptor's given name.
  std::string name() const;

  // The whole content, at most `max_bytes`. Throws std::system_error.
  std::string read_all(std::uint64_t max_bytes) const;

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  std::string name_;
};

}  // namespace dancer::common

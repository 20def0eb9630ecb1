#include "common/fd.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace dancer::common {

void UniqueFd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

int write_all(int fd, std::string_view bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    if (n == 0) return EIO;
    done += static_cast<std::size_t>(n);
  }
  return 0;
}

int read_all(int fd, std::string& out, std::uint64_t max_bytes) {
  char buffer[65536];
  while (true) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    if (n == 0) return 0;
    if (out.size() + static_cast<std::size_t>(n) > max_bytes) return EFBIG;
    out.append(buffer, static_cast<std::size_t>(n));
  }
}

ssize_t pread_retry(int fd, void* buffer, std::size_t size, std::uint64_t offset) {
  while (true) {
    const ssize_t n = ::pread(fd, buffer, size, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    return n;
  }
}

FileSource FileSource::descriptor(int fd, std::string name) {
  FileSource source;
  source.fd_ = fd;
  source.name_ = std::move(name);
  return source;
}

std::string FileSource::name() const {
  if (by_descriptor()) return name_.empty() ? std::string("the file") : name_;
  return path_.filename().string();
}

std::string FileSource::read_all(std::uint64_t max_bytes) const {
  UniqueFd owned;
  int fd = fd_;
  if (!by_descriptor()) {
    owned.reset(::open(path_.c_str(), O_RDONLY | O_CLOEXEC));
    if (!owned.valid()) throw std::system_error(errno, std::generic_category(), path_.string());
    fd = owned.get();
  }
  std::string out;
  char buffer[65536];
  for (std::uint64_t offset = 0;;) {
    const ssize_t n = pread_retry(fd, buffer, sizeof buffer, offset);
    if (n < 0) throw std::system_error(errno, std::generic_category(), "reading " + name());
    if (n == 0) break;
    if (out.size() + static_cast<std::size_t>(n) > max_bytes) {
      throw std::system_error(EFBIG, std::generic_category(), "reading " + name());
    }
    out.append(buffer, static_cast<std::size_t>(n));
    offset += static_cast<std::uint64_t>(n);
  }
  return out;
}

}  // namespace dancer::common

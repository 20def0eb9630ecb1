// basic_file_facts(): size, SHA-256 and libmagic's MIME type of any file, the fallback facts
// recorded when a file is not usable media.
#include <fcntl.h>
#include <magic.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "common/sha256.h"
#include "common/strings.h"
#include "media/metadata.h"

namespace dancer::media {
namespace {

class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

struct MagicCloser {
  void operator()(magic_set* cookie) const noexcept { magic_close(cookie); }
};
using MagicPtr = std::unique_ptr<magic_set, MagicCloser>;

// A libmagic cookie is not safe to share between threads, and magic_load() parses the whole
// compiled database (milliseconds), so each thread loads one once and keeps it.
magic_t thread_magic() {
  thread_local MagicPtr cookie = [] {
    // MAGIC_SYMLINK: describe what a link points to, as for a regular path.
    MagicPtr made(magic_open(MAGIC_MIME_TYPE | MAGIC_SYMLINK | MAGIC_ERROR));
    if (made && magic_load(made.get(), nullptr) != 0) made.reset();
    return made;
  }();
  return cookie.get();
}

std::string lower_case_extension(const std::filesystem::path& path) {
  return common::ascii_lower(path.extension().string());
}

}  // namespace

nlohmann::json basic_file_facts(const std::filesystem::path& path) {
  std::error_code status_error;
  const auto status = std::filesystem::status(path, status_error);
  if (!std::filesystem::exists(status)) {
    throw MediaError(MediaErrorCode::kNotFound, "no such file: " + path.string());
  }
  if (!std::filesystem::is_regular_file(status)) {
    throw MediaError(MediaErrorCode::kNotFound, "not a regular file: " + path.string());
  }

  FileDescriptor file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (file.get() < 0) {
    const int error = errno;
    throw MediaError(
        error == ENOENT || error == EACCES ? MediaErrorCode::kNotFound : MediaErrorCode::kIo,
        "cannot open " + path.string() + ": " + std::strerror(error));
  }

  common::Sha256 digest;
  // Fixed-size reads: memory stays constant whatever the file size.
  std::vector<unsigned char> buffer(1 << 16);
  std::uint64_t size = 0;
  for (;;) {
    const ssize_t got = ::read(file.get(), buffer.data(), buffer.size());
    if (got == 0) break;
    if (got < 0) {
      if (errno == EINTR) continue;
      throw MediaError(MediaErrorCode::kIo,
                       "cannot read " + path.string() + ": " + std::strerror(errno));
    }
    digest.update(buffer.data(), static_cast<std::size_t>(got));
    size += static_cast<std::uint64_t>(got);
  }
  const std::string sha256 = digest.hex();

  // libmagic reads only the head of the file (its bytes_max parameter), not all of it.
  std::string detected_type = "application/octet-stream";
  if (magic_t cookie = thread_magic()) {
    if (const char* mime = magic_file(cookie, path.c_str())) detected_type = mime;
  }

  nlohmann::json facts = nlohmann::json::object();
  facts["size"] = size;
  facts["sha256"] = sha256;
  facts["detected_type"] = detected_type;
  facts["extension"] = lower_case_extension(path);
  return facts;
}

}  // namespace dancer::media

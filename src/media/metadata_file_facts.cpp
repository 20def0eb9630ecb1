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

#include "common/fd.h"
#include "common/sha256.h"
#include "common/strings.h"
#include "media/metadata.h"

namespace dancer::media {
namespace {

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

void preload_file_type_database() { (void)thread_magic(); }

nlohmann::json basic_file_facts(const common::FileSource& source) {
  common::UniqueFd opened;
  int fd = source.fd();
  if (!source.by_descriptor()) {
    const std::filesystem::path& path = source.path();
    require_regular_file(path);
    opened.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!opened.valid()) {
      const int error = errno;
      throw MediaError(
          error == ENOENT || error == EACCES ? MediaErrorCode::kNotFound : MediaErrorCode::kIo,
          "cannot open " + path.string() + ": " + std::strerror(error));
    }
    fd = opened.get();
  }

  common::Sha256 digest;
  // Fixed-size reads: memory stays constant whatever the file size. The head is kept for
  // libmagic, which reads only that much of a file too (MAGIC_PARAM_BYTES_MAX, 1 MiB).
  constexpr std::size_t kHeadBytes = 1 << 20;
  std::vector<unsigned char> buffer(1 << 16);
  std::string head;
  std::uint64_t size = 0;
  for (;;) {
    const ssize_t got = common::pread_retry(fd, buffer.data(), buffer.size(), size);
    if (got == 0) break;
    if (got < 0) {
      throw MediaError(MediaErrorCode::kIo,
                       "cannot read " + source.name() + ": " + std::strerror(errno));
    }
    digest.update(buffer.data(), static_cast<std::size_t>(got));
    if (head.size() < kHeadBytes) {
      head.append(reinterpret_cast<const char*>(buffer.data()),
                  std::min<std::size_t>(static_cast<std::size_t>(got), kHeadBytes - head.size()));
    }
    size += static_cast<std::uint64_t>(got);
  }
  const std::string sha256 = digest.hex();

  std::string detected_type = "application/octet-stream";
  if (magic_t cookie = thread_magic()) {
    if (const char* mime = magic_buffer(cookie, head.data(), head.size())) detected_type = mime;
  }

  nlohmann::json facts = nlohmann::json::object();
  facts["size"] = size;
  facts["sha256"] = sha256;
  facts["detected_type"] = detected_type;
  facts["extension"] = source.by_descriptor() ? std::string() : lower_case_extension(source.path());
  return facts;
}

}  // namespace dancer::media

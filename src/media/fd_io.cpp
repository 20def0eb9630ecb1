#include "media/fd_io.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <new>

extern "C" {
#include <libavutil/error.h>
#include <libavutil/mem.h>
}

#include "common/fd.h"

namespace dancer::media {
namespace {

constexpr int kIoBufferSize = 64 * 1024;

int write_fd(void* opaque, std::uint8_t* buf, int size) {
  auto* cursor = static_cast<FdCursor*>(opaque);
  int done = 0;
  while (done < size) {
    const ssize_t n = ::pwrite(cursor->fd, buf + done, static_cast<std::size_t>(size - done),
                               static_cast<off_t>(cursor->pos + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      cursor->error = n < 0 ? errno : EIO;
      return AVERROR(cursor->error);
    }
    done += static_cast<int>(n);
  }
  cursor->pos += size;
  cursor->end = std::max(cursor->end, cursor->pos);
  return size;
}

int read_fd(void* opaque, std::uint8_t* buf, int size) {
  auto* cursor = static_cast<FdCursor*>(opaque);
  const ssize_t n = common::pread_retry(cursor->fd, buf, static_cast<std::size_t>(size),
                                        static_cast<std::uint64_t>(cursor->pos));
  if (n < 0) return AVERROR(errno);
  if (n == 0) return AVERROR_EOF;
  cursor->pos += n;
  return static_cast<int>(n);
}

std::int64_t file_size(const FdCursor& cursor) {
  struct stat st {};
  if (::fstat(cursor.fd, &st) != 0) return AVERROR(errno);
  return std::max<std::int64_t>(st.st_size, cursor.end);
}

std::int64_t seek_fd(void* opaque, std::int64_t offset, int whence) {
  auto* cursor = static_cast<FdCursor*>(opaque);
  std::int64_t target = 0;
  switch (whence & ~AVSEEK_FORCE) {
    case AVSEEK_SIZE:
      return file_size(*cursor);
    case SEEK_SET:
      target = offset;
      break;
    case SEEK_CUR:
      target = cursor->pos + offset;
      break;
    case SEEK_END: {
      const std::int64_t size = file_size(*cursor);
      if (size < 0) return size;
      target = size + offset;
      break;
    }
    default:
      return AVERROR(EINVAL);
  }
  if (target < 0) return AVERROR(EINVAL);
  cursor->pos = target;
  return target;
}

}  // namespace

void AvioContextFreer::operator()(AVIOContext* ctx) const noexcept {
  if (ctx == nullptr) return;
  av_freep(&ctx->buffer);
  avio_context_free(&ctx);
}

AvioContextPtr make_fd_avio(FdCursor* cursor, bool writable) {
  auto* buffer = static_cast<unsigned char*>(av_malloc(kIoBufferSize));
  if (buffer == nullptr) return nullptr;
  AVIOContext* ctx =
      avio_alloc_context(buffer, kIoBufferSize, writable ? 1 : 0, cursor,
                         writable ? nullptr : read_fd, writable ? write_fd : nullptr, seek_fd);
  if (ctx == nullptr) av_free(buffer);
  return AvioContextPtr(ctx);
}

std::unique_ptr<FdInput> attach_fd_input(AVFormatContext* format, int fd) {
  auto input = std::make_unique<FdInput>();
  input->cursor.fd = fd;
  input->io = make_fd_avio(&input->cursor, false);
  if (!input->io) throw std::bad_alloc();
  format->pb = input->io.get();
  format->flags |= AVFMT_FLAG_CUSTOM_IO;
  return input;
}

}  // namespace dancer::media

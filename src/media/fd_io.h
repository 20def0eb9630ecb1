// FFmpeg I/O over an open descriptor with pread/pwrite and a position of its own, so that
// the descriptor's shared file offset plays no part and several contexts may use one
// descriptor. The sandboxed child reads its input and writes its outputs only this way: it
// may open no file by name.
#pragma once

#include <cstdint>
#include <memory>

extern "C" {
#include <libavformat/avformat.h>
#include <libavformat/avio.h>
}

namespace dancer::media {

struct FdCursor {
  int fd = -1;
  std::int64_t pos = 0;
  std::int64_t end = 0;  // bytes in the file written by us so far
  int error = 0;         // first errno of a failed write
};

// avio_context_free() leaves the buffer to the caller, and AVIOContext may have replaced the
// buffer given to avio_alloc_context() by one of its own (ffio_set_buf_size), so the one to
// free is the context's current one.
struct AvioContextFreer {
  void operator()(AVIOContext* ctx) const noexcept;
};
using AvioContextPtr = std::unique_ptr<AVIOContext, AvioContextFreer>;

// A reading (or, with `writable`, writing) context over `cursor`, which must outlive it.
// Seekable, with AVSEEK_SIZE from fstat. nullptr when out of memory.
AvioContextPtr make_fd_avio(FdCursor* cursor, bool writable);

// What a demuxer reading a descriptor needs kept alive: its cursor and I/O context. Declare
// it before the AVFormatContext's owner, so the context is closed first.
struct FdInput {
  FdCursor cursor;
  AvioContextPtr io;
};

// Makes `format` (allocated, not yet opened) read `fd` through custom I/O (AVFMT_FLAG_CUSTOM_IO:
// avformat_open_input then opens no URL). Throws std::bad_alloc.
std::unique_ptr<FdInput> attach_fd_input(AVFormatContext* format, int fd);

}  // namespace dancer::media

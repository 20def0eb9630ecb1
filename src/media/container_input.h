// Opening an untrusted container for reading, shared by the video decoder and the proxy's
// audio reader (each opens its own demuxer over the same file: a descriptor read with pread
// has no shared position). Only the demuxers of `containers` may read it, and no other file
// or protocol is opened: a playlist or reference inside the file reaches nothing.
#pragma once

#include <memory>
#include <string>

#include "common/fd.h"
#include "media/av_handles.h"
#include "media/fd_io.h"
#include "media/metadata.h"  // MediaError

namespace dancer::media {

// What AVFormatContext::io_open may open: the input itself when it is opened by name
// (avformat_open_input goes through io_open too), nothing else.
struct OpenGuard {
  std::string allowed_url;  // empty when the input is read through a descriptor
  int (*default_io_open)(AVFormatContext*, AVIOContext**, const char*, int,
                         AVDictionary**) = nullptr;
};

// An opened container, its streams' information found. The members are destroyed in
// reverse order: the context first, then what it reads through.
struct ContainerInput {
  std::unique_ptr<FdInput> fd_input;
  std::unique_ptr<OpenGuard> guard;
  FormatContextPtr format;
};

// Opens `source` (by name or descriptor) with the demuxers of `containers` (FFmpeg
// "format_whitelist"; empty: any) and reads its stream information. Throws MediaError
// (kNotFound, kInvalidData).
ContainerInput open_container(const common::FileSource& source, const std::string& containers);

}  // namespace dancer::media

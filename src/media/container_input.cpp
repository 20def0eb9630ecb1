#include "media/container_input.h"

#include <filesystem>

namespace dancer::media {
namespace {

// No demuxer of the allow-list needs a second file (the mov demuxer's external data
// references are off by default).
int open_only_the_input(AVFormatContext* format, AVIOContext** pb, const char* url, int flags,
                        AVDictionary** options) {
  const auto* guard = static_cast<const OpenGuard*>(format->opaque);
  if (guard == nullptr || url == nullptr || guard->allowed_url.empty() ||
      guard->allowed_url != url) {
    return AVERROR(EPERM);
  }
  return guard->default_io_open(format, pb, url, flags, options);
}

}  // namespace

ContainerInput open_container(const common::FileSource& source, const std::string& containers) {
  ContainerInput input;
  input.guard = std::make_unique<OpenGuard>();
  std::string url;
  FormatContextPtr opening(avformat_alloc_context());
  if (!opening) throw MediaError(MediaErrorCode::kIo, "out of memory");
  if (source.by_descriptor()) {
    input.fd_input = attach_fd_input(opening.get(), source.fd());
    url = source.name();
  } else {
    if (!std::filesystem::is_regular_file(source.path())) {
      throw MediaError(MediaErrorCode::kNotFound, "no such file: " + source.path().string());
    }
    // The explicit "file:" keeps a ':' in a name from being read as a protocol.
    url = "file:" + source.path().string();
    input.guard->allowed_url = url;
  }
  input.guard->default_io_open = opening->io_open;
  opening->opaque = input.guard.get();
  opening->io_open = open_only_the_input;
  AvDictionary open_options;
  // Everything a demuxer could read beyond the containers of uploads (playlists, image
  // sequences, raw streams, the concat and subtitle formats...) is parsing surface the
  // analysis does not need. av_match_list() matches any name of a demuxer's list
  // ("mov,mp4,m4a,3gp,3g2,mj2").
  if (!containers.empty()) open_options.set("format_whitelist", containers.c_str());
  open_options.set("protocol_whitelist", "file");
  AVFormatContext* raw = opening.release();  // freed by avformat_open_input on failure
  int err = avformat_open_input(&raw, url.c_str(), nullptr, open_options.address());
  if (err < 0) {
    throw MediaError(
        err == AVERROR(ENOENT) ? MediaErrorCode::kNotFound : MediaErrorCode::kInvalidData,
        "cannot open " + source.name() + " as a video (" +
            (containers.empty() ? std::string("any format") : containers) +
            "): " + av_error_text(err));
  }
  input.format.reset(raw);
  err = avformat_find_stream_info(input.format.get(), nullptr);
  if (err < 0) {
    throw MediaError(MediaErrorCode::kInvalidData, "no stream info: " + av_error_text(err));
  }
  return input;
}

}  // namespace dancer::media

// Container and stream metadata extracted in process with libavformat, in the JSON
// shape `ffprobe -v quiet -print_format json -show_format -show_streams` prints.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/fd.h"

namespace dancer::media {

enum class MediaErrorCode {
  kNotFound,     // file missing or unreadable
  kInvalidData,  // not a media file, truncated beyond use, or no decodable stream
  kNoVideo,      // a media file without a video stream (audio only)
  kUnsupported,  // codec not available in this FFmpeg build
  kIo,
  // Over a bound set for untrusted input (streams, frame size, index entries, probe time,
  // memory): permanent, the same file would exceed it again.
  kLimitExceeded,
};
std::string_view to_string(MediaErrorCode code);  // "not_found", "invalid_data", ...
// Inverse of to_string; kInvalidData for an unknown name.
MediaErrorCode media_error_code_from_string(std::string_view name);

class MediaError : public std::runtime_error {
 public:
  MediaError(MediaErrorCode code, const std::string& message)
      : std::runtime_error(message), code_(code) {}
  MediaErrorCode code() const noexcept { return code_; }

 private:
  MediaErrorCode code_;
};

// {"format": {...}, "streams": [...]} with ffprobe's field names and value forms
// (numbers printed as strings where ffprobe prints strings, e.g. "duration": "6.934000").
// Streams include "side_data_list" with the display matrix rotation for phone videos.
// Throws MediaError.
nlohmann::json probe_file(const common::FileSource& source);

struct ProbeOptions {
  // avformat_find_stream_info() may read a long way into a corrupt or hostile file; an
  // AVIOInterruptCB aborts the probe once this much wall-clock time has passed.
  std::chrono::milliseconds deadline{30000};
  // Bounds for untrusted files (0: none). A demuxer allocates per stream and per index
  // entry while it reads the header, and avformat_find_stream_info decodes a frame of each
  // stream, so these bound the probe's memory together with the child's RLIMIT_AS.
  unsigned max_streams = 0;             // AVFormatContext "max_streams"
  std::uint64_t max_frame_pixels = 0;   // width x height of any video stream; decoders' max_pixels
  std::uint64_t max_index_entries = 0;  // seek index entries of any one stream
};
// As above with explicit options. Only the "file" protocol is allowed and the demuxer may not
// open any other file than `path` (a crafted playlist cannot reach the network or other files).
// Errors: kNotFound (missing, unreadable, not a regular file), kInvalidData (not media,
// truncated beyond use such as an MP4 without its moov box, or the deadline passed), kIo.
// A media file without a video stream is not an error here: callers decide.
nlohmann::json probe_file(const common::FileSource& source, const ProbeOptions& options);

// Facts available for any file: {"size": N, "sha256": "...", "detected_type": "video/mp4"|...,
// "extension": ".mp4"} (detected_type is libmagic's MIME type; extension is lower-cased, ""
// when there is none). The fallback when probe_file fails. Streams the file; memory does not
// grow with size. Throws MediaError: kNotFound (missing / not a regular file), kIo.
nlohmann::json basic_file_facts(const common::FileSource& source);
// A number of probe_file()'s JSON, which ffprobe prints mostly as strings ("duration":
// "6.934000"): either form, read locale-independently; 0 when absent, malformed or not
// finite.
double ffprobe_number(const nlohmann::json& object, const char* key);

// Throws MediaError kNotFound unless `path` names an existing regular file.
void require_regular_file(const std::filesystem::path& path);

// Loads libmagic's database for this thread now. The sandboxed child calls it before it
// enters its filter, which refuses every open by name (the database is a trusted system
// file; the upload is read only later, through its descriptor).
void preload_file_type_database();

}  // namespace dancer::media

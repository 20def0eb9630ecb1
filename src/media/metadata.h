// Container and stream metadata extracted in process with libavformat, in the JSON
// shape `ffprobe -v quiet -print_format json -show_format -show_streams` prints.
#pragma once

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

namespace dancer::media {

enum class MediaErrorCode {
  kNotFound,     // file missing or unreadable
  kInvalidData,  // not a media file, truncated beyond use, or no decodable stream
  kNoVideo,      // a media file without a video stream (audio only)
  kUnsupported,  // codec not available in this FFmpeg build
  kIo,
};

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
nlohmann::json probe_file(const std::filesystem::path& path);

// Facts available for any file: {"size": N, "sha256": "...", "detected_type": "video/mp4"|...}.
// The fallback when probe_file fails. Streams the file; memory does not grow with size.
nlohmann::json basic_file_facts(const std::filesystem::path& path);

}  // namespace dancer::media

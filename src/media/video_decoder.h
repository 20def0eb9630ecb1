// Streaming frame decoder: hands out one frame at a time, scaled once to an analysis
// resolution and turned upright (display-matrix rotation of phone videos applied), as plain
// 8-bit buffers. Memory does not grow with the length of the video.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "common/fd.h"
#include "media/metadata.h"  // MediaError

namespace dancer::media {

enum class PixelLayout {
  kGray8,  // 1 byte per pixel (luma)
  kBgr24,  // 3 bytes per pixel, B G R
};

// Bounds on what an untrusted file may cost, enforced while decoding (0: none). The service
// also checks them from the probe before any decoding, but a container may understate its
// duration, frame count or frame size.
struct DecodeLimits {
  // A decoded frame larger than this many pixels fails with kLimitExceeded (a stream may
  // switch from 320x240 to 8192x8192 after the header the probe read).
  std::uint64_t max_frame_pixels = 0;
  // Frames from this presentation time on, or beyond this many frames handed out, fail with
  // kLimitExceeded.
  double max_duration_s = 0;
  std::int64_t max_frames = 0;
  // Frames closer than 1/max_fps to the previous one handed out are skipped (a 240 fps
  // slow-motion recording is analysed at 60 fps; sampled_out_frames() counts them).
  double max_fps = 0;
};

struct DecoderOptions {
  // Largest output width/height after rotation; the frame is scaled down (never up) to fit,
  // keeping its aspect ratio. 0 means no limit.
  int max_width = 320;
  int max_height = 320;
  PixelLayout layout = PixelLayout::kGray8;
  // Decoder threads; 0 = one per hardware core. Frame threading decodes several frames in
  // parallel (adds a few frames of latency, which streaming does not mind).
  int threads = 0;
  // AVDISCARD_ALL on the in-loop deblocking filter: about 20-30% faster H.264 decoding at
  // the cost of slight blockiness that is invisible after downscaling.
  bool skip_loop_filter = false;
  // Apply the stream's display matrix so frames come out as a player would show them.
  bool apply_rotation = true;

  DecodeLimits limits;
  // Demuxers allowed to read the input (FFmpeg "format_whitelist"): the containers phones,
  // cameras and browsers write. Empty: any (tests that decode stills, never an upload).
  std::string containers = "mov,mp4,matroska,webm,avi,mpeg,mpegts,asf,ogg";
};

struct VideoStreamInfo {
  int coded_width = 0;  // as stored in the stream
  int coded_height = 0;
  int width = 0;  // of the frames next() returns (after rotation and scaling)
  int height = 0;
  double fps = 0;                // of the frames next() hands out (after DecodeLimits::max_fps)
  double stream_fps = 0;         // the stream's average (or guessed) frame rate
  double duration_s = 0;         // 0 when unknown
  std::int64_t frame_count = 0;  // from the container; 0 when unknown
  int rotation_degrees = 0;      // clockwise rotation applied to display: 0, 90, 180, 270
  std::string codec_name;
};

// A decoded frame; the buffer stays valid until the next call to next() or the decoder dies.
struct VideoFrame {
  const std::uint8_t* data = nullptr;
  int width = 0;
  int height = 0;
  int stride = 0;          // bytes per row
  int channels = 1;        // 1 for kGray8, 3 for kBgr24
  double pts_s = 0;        // presentation time from the stream start
  std::int64_t index = 0;  // 0-based, in output order
};

class VideoDecoder {
 public:
  // Opens the file (by name, or read through its descriptor) and its best video stream.
  // Only the containers of DecoderOptions::containers are opened, and no other file or
  // protocol is: a playlist or reference inside the file reaches nothing. Throws MediaError
  // (kNotFound, kInvalidData, kNoVideo, kUnsupported).
  explicit VideoDecoder(const common::FileSource& source, DecoderOptions options = {});
  ~VideoDecoder();
  VideoDecoder(const VideoDecoder&) = delete;
  VideoDecoder& operator=(const VideoDecoder&) = delete;

  const VideoStreamInfo& info() const;

  // Decodes the next frame into `frame`. Returns false at the end of the stream.
  // Packets the decoder rejects as corrupt are skipped (counted in corrupt_packets()).
  // A frame whose presentation time is not after the previous frame's is skipped too
  // (counted in non_monotonic_frames()): a stream whose clock jumps back, as one walk
  // concatenated with itself does, would otherwise be analysed twice over one time line.
  // Throws MediaError kLimitExceeded when a bound of DecoderOptions is passed.
  bool next(VideoFrame& frame);

  std::int64_t corrupt_packets() const;
  std::int64_t non_monotonic_frames() const;
  std::int64_t sampled_out_frames() const;  // skipped for max_fps

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dancer::media

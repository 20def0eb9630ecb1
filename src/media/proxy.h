// The web-playable copy of an upload (proxy.mp4) and its poster frame (poster.jpg), made in
// one streaming pass: the video decoded scaled and upright (VideoDecoder: display rotation
// applied, at most max_height high), encoded by the VideoEncoder the verification video
// uses (H.264, yuv420p, faststart MP4 on a descriptor), with the source's first audio
// stream (if any) decoded by a second demuxer over the same file, resampled with
// libswresample and encoded as AAC into the same MP4. Audio is pulled up to each video
// frame's end, so both tracks advance together and memory stays flat whatever the length:
// one decoded frame, one poster copy, one decoded audio frame, and the muxer's index.
//
// The poster is the first frame at a third of the stated duration (the opening frames are
// often an empty scene or a hand on the lens; a third in, a walker or dancer is usually in
// the picture), or the first frame when the duration is unknown or overstated, encoded as
// JPEG at the proxy's size.
#pragma once

#include <cstdint>
#include <string>

#include "common/fd.h"
#include "media/video_decoder.h"  // DecodeLimits

namespace dancer::media {

struct ProxyOptions {
  // Largest height of the picture (after rotation); never scaled up. The width is held to
  // 16:9 of it (a 21:9 picture is scaled to that width), and both are even.
  int max_height = 720;
  // The shared encoder's settings (VideoEncoderOptions).
  int crf = 23;
  std::string preset = "veryfast";
  int threads = 0;
  int audio_bitrate = 128000;
  double poster_at = 1.0 / 3.0;  // of the duration
  DecodeLimits limits;           // enforced on the video as in the analysis
  std::string containers = DecoderOptions{}.containers;
};

struct ProxyResult {
  int width = 0;  // of the proxy's picture (and the poster)
  int height = 0;
  double fps = 0;
  std::int64_t frames = 0;
  double duration_s = 0;  // of the video track: the last frame's time plus one frame
  int rotation_degrees = 0;
  bool audio = false;  // an AAC track was written
  int audio_sample_rate = 0;
  int audio_channels = 0;
  std::int64_t audio_samples = 0;  // per channel
  std::string audio_note;          // why the source's audio was left out, when it was
  std::int64_t bytes = 0;          // of proxy.mp4
  double poster_time_s = 0;
  std::string poster_jpeg;  // the poster's bytes
};

// Writes the proxy to `mp4_fd` (O_RDWR, regular, empty: VideoEncoder's contract) and
// returns the poster's bytes with it. Throws MediaError (kNoVideo, kInvalidData,
// kUnsupported, kLimitExceeded, kIo). A source audio stream that cannot be decoded is left
// out (audio_note says why) rather than failing the video.
ProxyResult make_proxy(const common::FileSource& input, int mp4_fd, const ProxyOptions& options);

}  // namespace dancer::media

// Streaming H.264 MP4 writer for rendered video (the verification video): frames go in one at
// a time as BGR24, come out through libx264 as yuv420p in an MP4 whose index (moov) sits in
// front of the media data (faststart), so a browser can start playing before the whole file
// has arrived. Frames are encoded and written as they come; what grows with their number is
// only the muxer's sample index (a few dozen bytes per frame, written out as the moov).
//
// Optionally an AAC audio track beside the video (FFmpeg's native "aac" encoder, LC profile:
// what every browser plays in MP4), fed with interleaved float samples by write_audio(). The
// muxer interleaves the two tracks by time (av_interleaved_write_frame), so a caller that
// hands over audio and video in step keeps only a moment of packets buffered; faststart
// moves the one index of both tracks to the front as before.
//
// It writes to a descriptor the caller already holds, never to a path: the analysis child
// runs under a seccomp filter that refuses every open for writing (sandbox/sandbox.h), so
// the parent opens the output file and passes the descriptor down.
//
// Faststart: FFmpeg's mov muxer writes the moov at the end, then in av_write_trailer moves
// the media data up by the moov's size and writes the moov in front (libavformat/movenc.c
// shift_data). It reads the data it moves through a second IO context it opens with
// AVFormatContext.io_open(s->url, AVIO_FLAG_READ) because the output context is write-only.
// Re-opening by path (/proc/self/fd/N) does not work inside the sandbox when the service runs
// as root: the child runs as `nobody`, and opening the magic link checks the file's own
// permissions, so a root-owned 0600 file is refused (EACCES) although the child holds a
// descriptor to it. The encoder therefore installs its own io_open, which answers that one
// read request with an IO context that pread()s the same descriptor, and refuses every
// other open. Hence the descriptor must be open for reading AND writing (O_RDWR), regular
// (seekable), and empty (O_TRUNC): writing starts at offset 0 with pwrite, so the
// descriptor's own offset does not matter, and nothing is truncated.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "media/metadata.h"  // MediaError

namespace dancer::media {

// The audio track: sample_rate 0 means none.
struct AudioTrackOptions {
  int sample_rate = 0;   // one of AAC's rates (8000 ... 96000 Hz)
  int channels = 0;      // 1 or 2
  int bitrate = 128000;  // bits per second (for stereo; AAC-LC at 128 kbit/s is transparent
                         // enough for speech and the music of a dance video)
};

struct VideoEncoderOptions {
  int width = 0;  // even, > 0 (yuv420p halves the chroma planes)
  int height = 0;
  double fps = 0;  // nominal frame rate of the source: each frame's duration and the GOP length
  // libx264 constant-quality mode (its "crf" AVOption; 0 lossless ... 51 worst, 23 default)
  // and speed preset ("ultrafast" ... "veryslow").
  int crf = 23;
  std::string preset = "veryfast";
  int threads = 0;  // libx264 threads; 0 = its own choice (about 1.5 per core)
  // Seconds between key frames: a browser seeks to the key frame before the target and
  // decodes forward from there, so short GOPs make scrubbing through the video responsive.
  double keyframe_interval_s = 2.0;
  bool faststart = true;  // movflags=+faststart (see above)
  AudioTrackOptions audio;
};

class VideoEncoder {
 public:
  // Starts an MP4 on `fd` (see above: O_RDWR, seekable, empty; the caller keeps ownership
  // and closes it after finish()). Throws MediaError: kUnsupported (no libx264 in this
  // FFmpeg, or it rejects the options), kInvalidData (bad size or rate), kIo (the descriptor
  // is not a readable and writable regular file, or a write failed).
  VideoEncoder(int fd, const VideoEncoderOptions& options);
  ~VideoEncoder();
  VideoEncoder(const VideoEncoder&) = delete;
  VideoEncoder& operator=(const VideoEncoder&) = delete;

  // Encodes one frame: `bgr` holds height rows of width*3 bytes (B, G, R), `stride` bytes
  // apart. time_s is its presentation time from the start of the video (the source frame's
  // own, so variable frame rates stay in step); a time not after the previous frame's is
  // moved just past it. Throws MediaError (kIo on a failed write).
  void write_bgr(const std::uint8_t* bgr, int stride, double time_s);

  // Encodes `samples` sample frames of audio: `interleaved` holds samples * channels floats
  // (in [-1, 1], channels interleaved) at the audio track's rate. time_s places the first
  // samples ever written on the video's time line (a track that starts late starts late);
  // after that the track is continuous and time_s is not used. Throws MediaError
  // (kInvalidData without an audio track, kIo on a failed write).
  void write_audio(const float* interleaved, int samples, double time_s);

  // Drains the encoder and writes the trailer (and, with faststart, moves the moov to the
  // front). Until it has returned, the file is not a playable MP4; an encoder destroyed
  // without finish() leaves it incomplete. Throws MediaError.
  void finish();

  std::int64_t frames_written() const;
  std::int64_t audio_samples_written() const;  // sample frames (per channel)
  // Size of the file so far (after finish(): its final size).
  std::int64_t bytes_written() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dancer::media

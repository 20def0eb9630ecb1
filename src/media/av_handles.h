// RAII owners for the FFmpeg C handles used across src/media, so every AVFormatContext,
// AVCodecContext, AVPacket, AVFrame, SwsContext and AVDictionary is released exactly once,
// also when an exception leaves the scope.
#pragma once

#include <cerrno>
#include <cstdint>
#include <memory>
#include <string>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/dict.h>
#include <libavutil/error.h>
#include <libavutil/frame.h>
#include <libavutil/mem.h>
#include <libswscale/swscale.h>
}

namespace dancer::media {

// avformat_close_input() also frees a context that was allocated with avformat_alloc_context()
// but never opened (it checks iformat before calling read_close), so one deleter serves both.
struct FormatContextCloser {
  void operator()(AVFormatContext* ctx) const noexcept { avformat_close_input(&ctx); }
};
struct CodecContextFreer {
  void operator()(AVCodecContext* ctx) const noexcept { avcodec_free_context(&ctx); }
};
struct PacketFreer {
  void operator()(AVPacket* packet) const noexcept { av_packet_free(&packet); }
};
struct FrameFreer {
  void operator()(AVFrame* frame) const noexcept { av_frame_free(&frame); }
};
struct SwsContextFreer {
  void operator()(SwsContext* ctx) const noexcept { sws_freeContext(ctx); }
};
// For buffers FFmpeg allocates for the caller with av_malloc (e.g. av_opt_get's output).
struct AvFreer {
  void operator()(void* ptr) const noexcept { av_free(ptr); }
};

using FormatContextPtr = std::unique_ptr<AVFormatContext, FormatContextCloser>;
using CodecContextPtr = std::unique_ptr<AVCodecContext, CodecContextFreer>;
using PacketPtr = std::unique_ptr<AVPacket, PacketFreer>;
using FramePtr = std::unique_ptr<AVFrame, FrameFreer>;
using SwsContextPtr = std::unique_ptr<SwsContext, SwsContextFreer>;
using AvStringPtr = std::unique_ptr<std::uint8_t, AvFreer>;

// An AVDictionary of options. FFmpeg's open functions take AVDictionary** and replace the
// dictionary with the entries they did not consume, so the owner hands out its address.
class AvDictionary {
 public:
  AvDictionary() = default;
  ~AvDictionary() { av_dict_free(&dict_); }
  AvDictionary(const AvDictionary&) = delete;
  AvDictionary& operator=(const AvDictionary&) = delete;

  // Returns the av_dict_set() result (negative AVERROR on failure).
  int set(const char* key, const char* value) { return av_dict_set(&dict_, key, value, 0); }
  AVDictionary** address() { return &dict_; }
  const AVDictionary* get() const { return dict_; }

 private:
  AVDictionary* dict_ = nullptr;
};

// av_strerror() text for an AVERROR code.
inline std::string av_error_text(int error) {
  char text[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(error, text, sizeof text);
  return text;
}

// An image encoder's (PNG, MJPEG) one frame in, its one packet out, flushed. Returns the
// packet's bytes; on failure `error` holds the AVERROR of the call that failed (else 0).
inline std::string encode_single_frame(AVCodecContext* ctx, const AVFrame* frame, int& error) {
  PacketPtr packet(av_packet_alloc());
  if (!packet) {
    error = AVERROR(ENOMEM);
    return {};
  }
  error = avcodec_send_frame(ctx, frame);
  if (error >= 0) error = avcodec_send_frame(ctx, nullptr);
  if (error >= 0) error = avcodec_receive_packet(ctx, packet.get());
  if (error < 0) return {};
  error = 0;
  return std::string(reinterpret_cast<const char*>(packet->data),
                     static_cast<std::size_t>(packet->size));
}

}  // namespace dancer::media

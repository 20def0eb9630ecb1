#include "media/jpeg_encoder.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>
#include <libswscale/swscale.h>
}

#include "media/av_handles.h"

namespace dancer::media {

std::string encode_jpeg(const std::uint8_t* bgr, int width, int height, int stride, int qscale) {
  if (bgr == nullptr || width <= 0 || height <= 0 || stride < width * 3 || qscale < 2 ||
      qscale > 31) {
    throw MediaError(MediaErrorCode::kInvalidData, "encode_jpeg: bad image");
  }
  const AVCodec* codec = avcodec_find_encoder(AV_CODEC_ID_MJPEG);
  if (codec == nullptr) throw MediaError(MediaErrorCode::kUnsupported, "no JPEG encoder");
  CodecContextPtr ctx(avcodec_alloc_context3(codec));
  FramePtr frame(av_frame_alloc());
  if (!ctx || !frame) throw MediaError(MediaErrorCode::kIo, "out of memory");
  // The MJPEG encoder takes full-range ("J") YUV; JFIF's matrix is BT.601.
  ctx->width = width;
  ctx->height = height;
  ctx->pix_fmt = AV_PIX_FMT_YUVJ420P;
  ctx->color_range = AVCOL_RANGE_JPEG;
  ctx->time_base = {1, 1};
  ctx->flags |= AV_CODEC_FLAG_QSCALE;
  ctx->global_quality = FF_QP2LAMBDA * qscale;
  int err = avcodec_open2(ctx.get(), codec, nullptr);
  if (err < 0) {
    throw MediaError(MediaErrorCode::kUnsupported,
                     "cannot open the JPEG encoder: " + av_error_text(err));
  }
  frame->format = AV_PIX_FMT_YUVJ420P;
  frame->width = width;
  frame->height = height;
  frame->color_range = AVCOL_RANGE_JPEG;
  frame->quality = ctx->global_quality;
  if (av_frame_get_buffer(frame.get(), 0) < 0) {
    throw MediaError(MediaErrorCode::kIo, "out of memory");
  }
  // Converted to plain yuv420p with full range asked for explicitly (the same planes as
  // yuvj420p, without swscale's warning about that deprecated format). SWS_ACCURATE_RND keeps
  // swscale off its unscaled BGR-to-YUV shortcut, which ignores the range asked for (FFmpeg
  // 5.1: pure red came out as Y 81, limited range, instead of 76).
  SwsContextPtr sws(sws_getContext(width, height, AV_PIX_FMT_BGR24, width, height,
                                   AV_PIX_FMT_YUV420P, SWS_BILINEAR | SWS_ACCURATE_RND, nullptr,
                                   nullptr, nullptr));
  if (!sws) throw MediaError(MediaErrorCode::kUnsupported, "cannot convert BGR to JPEG's YUV");
  const int* bt601 = sws_getCoefficients(SWS_CS_ITU601);
  sws_setColorspaceDetails(sws.get(), bt601, 1, bt601, 1, 0, 1 << 16, 1 << 16);
  const std::uint8_t* src[4] = {bgr, nullptr, nullptr, nullptr};
  const int src_stride[4] = {stride, 0, 0, 0};
  sws_scale(sws.get(), src, src_stride, 0, height, frame->data, frame->linesize);
  std::string bytes = encode_single_frame(ctx.get(), frame.get(), err);
  if (err < 0) {
    throw MediaError(MediaErrorCode::kInvalidData, "JPEG encoding failed: " + av_error_text(err));
  }
  return bytes;
}

}  // namespace dancer::media

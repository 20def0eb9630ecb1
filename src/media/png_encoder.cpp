#include "media/png_encoder.h"

#include <algorithm>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>
}

#include "media/av_handles.h"

namespace dancer::media {

std::string encode_png(const std::uint8_t* pixels, int width, int height, int stride,
                       PixelLayout layout) {
  const int channels = layout == PixelLayout::kGray8 ? 1 : 3;
  if (pixels == nullptr || width <= 0 || height <= 0 || stride < width * channels) {
    throw MediaError(MediaErrorCode::kInvalidData, "encode_png: bad image");
  }
  const AVCodec* codec = avcodec_find_encoder(AV_CODEC_ID_PNG);
  if (codec == nullptr) throw MediaError(MediaErrorCode::kUnsupported, "no PNG encoder");
  CodecContextPtr ctx(avcodec_alloc_context3(codec));
  FramePtr frame(av_frame_alloc());
  if (!ctx || !frame) throw MediaError(MediaErrorCode::kIo, "out of memory");
  const AVPixelFormat format = channels == 1 ? AV_PIX_FMT_GRAY8 : AV_PIX_FMT_RGB24;
  ctx->width = width;
  ctx->height = height;
  ctx->pix_fmt = format;
  ctx->time_base = {1, 1};
  // FFmpeg's PNG encoder filters no row by default ("pred" none); "mixed" picks the best
  // filter per row as libpng does, about 25% smaller for a photographic frame.
  AvDictionary options;
  options.set("pred", "mixed");
  int err = avcodec_open2(ctx.get(), codec, options.address());
  if (err < 0) {
    throw MediaError(MediaErrorCode::kUnsupported,
                     "cannot open PNG encoder: " + av_error_text(err));
  }
  frame->format = format;
  frame->width = width;
  frame->height = height;
  if (av_frame_get_buffer(frame.get(), 0) < 0) {
    throw MediaError(MediaErrorCode::kIo, "out of memory");
  }
  for (int y = 0; y < height; ++y) {
    const std::uint8_t* in = pixels + static_cast<std::ptrdiff_t>(y) * stride;
    std::uint8_t* out = frame->data[0] + static_cast<std::ptrdiff_t>(y) * frame->linesize[0];
    if (channels == 1) {
      std::copy_n(in, width, out);
      continue;
    }
    for (int x = 0; x < width; ++x, in += 3, out += 3) {
      out[0] = in[2];
      out[1] = in[1];
      out[2] = in[0];
    }
  }
  std::string bytes = encode_single_frame(ctx.get(), frame.get(), err);
  if (err < 0) {
    throw MediaError(MediaErrorCode::kInvalidData, "PNG encoding failed: " + av_error_text(err));
  }
  return bytes;
}

}  // namespace dancer::media

// PNG still images from 8-bit frame buffers, with libavcodec's PNG encoder (no other image
// library needed). For the report's key frames.
#pragma once

#include <cstdint>
#include <string>

#include "media/metadata.h"       // MediaError
#include "media/video_decoder.h"  // PixelLayout

namespace dancer::media {

// PNG bytes of a width x height image whose rows are `stride` bytes apart: kGray8 becomes
// an 8-bit gray PNG, kBgr24 an 8-bit RGB PNG (FFmpeg's PNG encoder takes RGB24, not BGR24,
// so the channels are swapped on the way in). Throws MediaError (kInvalidData for a bad
// size, kUnsupported without a PNG encoder).
std::string encode_png(const std::uint8_t* pixels, int width, int height, int stride,
                       PixelLayout layout);

}  // namespace dancer::media

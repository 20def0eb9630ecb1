// JPEG still images from BGR frame buffers, with libavcodec's MJPEG encoder (no other image
// library needed): baseline JFIF, 4:2:0, full-range BT.601 as JFIF defines it. For the
// upload's poster frame.
#pragma once

#include <cstdint>
#include <string>

#include "media/metadata.h"  // MediaError

namespace dancer::media {

// JPEG bytes of a width x height BGR24 image whose rows are `stride` bytes apart. `qscale` is
// the MJPEG quantiser scale, 2 (best) ... 31 (worst); 3 is visually close to the source.
// Throws MediaError (kInvalidData for a bad size, kUnsupported without the encoder).
std::string encode_jpeg(const std::uint8_t* bgr, int width, int height, int stride, int qscale = 3);

}  // namespace dancer::media

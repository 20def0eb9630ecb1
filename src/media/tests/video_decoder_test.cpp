#include "media/video_decoder.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "support/test_support.h"

namespace dancer::media {
namespace {

using dancer::testing::make_test_media;
using dancer::testing::run_command;
using dancer::testing::shell_quote;
using dancer::testing::TempDir;

// A clip whose left half is white and right half black, with a display matrix. ffmpeg 5.1
// writes the legacy "rotate" tag as a display matrix only when stream-copying.
std::filesystem::path make_half_white(const TempDir& dir, int rotate) {
  auto plain = dir / "half_plain.mp4";
  auto path = dir / ("half_" + std::to_string(rotate) + ".mp4");
  const std::string ffmpeg = "ffmpeg -nostdin -hide_banner -loglevel error -y ";
  EXPECT_EQ(run_command(ffmpeg +
                        "-f lavfi -i color=c=black:size=64x32:rate=10:duration=0.5 -vf "
                        "drawbox=x=0:y=0:w=32:h=32:color=white:t=fill -c:v libx264 -pix_fmt "
                        "yuv420p " +
                        shell_quote(plain.string()))
                .exit_code,
            0);
  EXPECT_EQ(run_command(ffmpeg + "-i " + shell_quote(plain.string()) +
                        " -c copy -metadata:s:v:0 rotate=" + std::to_string(rotate) + " " +
                        shell_quote(path.string()))
                .exit_code,
            0);
  return path;
}

// The first frame as the ffmpeg CLI shows it (it auto-rotates by the display matrix).
std::string first_frame_by_ffmpeg_cli(const std::filesystem::path& video) {
  return run_command("ffmpeg -nostdin -hide_banner -loglevel error -i " +
                     shell_quote(video.string()) + " -frames:v 1 -f rawvideo -pix_fmt gray -")
      .output;
}

double mean_abs_difference(const VideoFrame& f, const std::string& reference) {
  double sum = 0;
  for (int y = 0; y < f.height; ++y) {
    for (int x = 0; x < f.width; ++x) {
      sum += std::abs(
          f.data[y * f.stride + x] -
          static_cast<unsigned char>(reference[static_cast<std::size_t>(y * f.width + x)]));
    }
  }
  return sum / (f.width * f.height);
}

TEST(VideoDecoder, DecodesEveryFrameWithIncreasingTimestamps) {
  TempDir dir;
  VideoDecoder decoder(make_test_media(dir.path(), "h264_mp4", 1.0));
  EXPECT_EQ(decoder.info().coded_width, 320);
  EXPECT_NEAR(decoder.info().fps, 25.0, 1e-6);
  VideoFrame frame;
  std::int64_t count = 0;
  double last_pts = -1;
  while (decoder.next(frame)) {
    EXPECT_EQ(frame.index, count);
    EXPECT_EQ(frame.width, 320);
    EXPECT_EQ(frame.height, 240);
    EXPECT_EQ(frame.channels, 1);
    EXPECT_NEAR(frame.pts_s, count / 25.0, 1e-3);
    EXPECT_GT(frame.pts_s, last_pts);
    last_pts = frame.pts_s;
    ++count;
  }
  EXPECT_EQ(count, 25);
  EXPECT_EQ(decoder.corrupt_packets(), 0);
}

TEST(VideoDecoder, ScalesDownKeepingAspectRatio) {
  TempDir dir;
  DecoderOptions options;
  options.max_width = 160;
  options.max_height = 0;
  options.skip_loop_filter = true;
  VideoDecoder decoder(make_test_media(dir.path(), "h264_mp4", 0.4), options);
  EXPECT_EQ(decoder.info().width, 160);
  EXPECT_EQ(decoder.info().height, 120);
  VideoFrame frame;
  ASSERT_TRUE(decoder.next(frame));
  EXPECT_EQ(frame.width, 160);
  EXPECT_EQ(frame.height, 120);
  EXPECT_EQ(frame.stride, 160);
}

TEST(VideoDecoder, HonoursDisplayMatrixRotationLikeTheFfmpegCli) {
  TempDir dir;
  for (int rotate : {90, 270, 180}) {
    SCOPED_TRACE(rotate);
    const auto video = make_half_white(dir, rotate);
    VideoDecoder decoder(video);
    EXPECT_NE(decoder.info().rotation_degrees, 0);
    VideoFrame frame;
    ASSERT_TRUE(decoder.next(frame));
    EXPECT_EQ(frame.width, rotate == 180 ? 64 : 32);
    EXPECT_EQ(frame.height, rotate == 180 ? 32 : 64);
    const std::string reference = first_frame_by_ffmpeg_cli(video);
    ASSERT_EQ(reference.size(), static_cast<std::size_t>(frame.width * frame.height));
    EXPECT_LT(mean_abs_difference(frame, reference), 8.0);
    // (Unrotated, the white half would sit elsewhere: a difference near 255.)
  }
}

TEST(VideoDecoder, RotationCanBeIgnored) {
  TempDir dir;
  DecoderOptions options;
  options.apply_rotation = false;
  VideoDecoder decoder(make_half_white(dir, 90), options);
  EXPECT_EQ(decoder.info().rotation_degrees, 0);
  VideoFrame frame;
  ASSERT_TRUE(decoder.next(frame));
  EXPECT_EQ(frame.width, 64);
  EXPECT_EQ(frame.height, 32);
}

TEST(VideoDecoder, BgrLayoutKeepsColourOrder) {
  TempDir dir;
  auto path = dir / "red.mp4";
  ASSERT_EQ(run_command("ffmpeg -nostdin -hide_banner -loglevel error -y -f lavfi -i "
                        "color=c=red:size=64x48:rate=10:duration=0.3 -c:v libx264 -pix_fmt "
                        "yuv444p " +
                        shell_quote(path.string()))
                .exit_code,
            0);
  DecoderOptions options;
  options.layout = PixelLayout::kBgr24;
  VideoDecoder decoder(path, options);
  VideoFrame frame;
  ASSERT_TRUE(decoder.next(frame));
  EXPECT_EQ(frame.channels, 3);
  EXPECT_EQ(frame.stride, 64 * 3);
  const std::uint8_t* px = frame.data + 20 * frame.stride + 30 * 3;
  EXPECT_LT(px[0], 60);   // blue
  EXPECT_LT(px[1], 60);   // green
  EXPECT_GT(px[2], 200);  // red
}

TEST(VideoDecoder, RejectsFilesThatAreNotVideo) {
  TempDir dir;
  try {
    VideoDecoder decoder(make_test_media(dir.path(), "text_as_mp4"));
    FAIL() << "expected MediaError";
  } catch (const MediaError& e) {
    EXPECT_EQ(e.code(), MediaErrorCode::kInvalidData);
  }
  try {
    VideoDecoder decoder(make_test_media(dir.path(), "audio_only_m4a"));
    FAIL() << "expected MediaError";
  } catch (const MediaError& e) {
    EXPECT_EQ(e.code(), MediaErrorCode::kNoVideo);
  }
  try {
    VideoDecoder decoder(dir / "missing.mp4");
    FAIL() << "expected MediaError";
  } catch (const MediaError& e) {
    EXPECT_EQ(e.code(), MediaErrorCode::kNotFound);
  }
}

TEST(VideoDecoder, TruncatedFileYieldsTheFramesBeforeTheCut) {
  TempDir dir;
  try {
    VideoDecoder decoder(make_test_media(dir.path(), "truncated_mp4", 2.0));
    VideoFrame frame;
    std::int64_t count = 0;
    while (decoder.next(frame)) ++count;
    EXPECT_LT(count, 50);
  } catch (const MediaError& e) {
    // The moov atom may sit past the cut, then the file cannot be opened at all.
    EXPECT_EQ(e.code(), MediaErrorCode::kInvalidData);
  }
}

}  // namespace
}  // namespace dancer::media

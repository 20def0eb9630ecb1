#include "media/video_decoder.h"

#include <fcntl.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <numeric>
#include <string>
#include <vector>

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

// A test clip made by the ffmpeg CLI: `input` is its lavfi source, `args` its encoding.
std::filesystem::path make_clip(const TempDir& dir, const std::string& name,
                                const std::string& input, const std::string& args = "") {
  const auto path = dir / name;
  EXPECT_EQ(run_command("ffmpeg -nostdin -hide_banner -loglevel error -y -f lavfi -i " + input +
                        " -pix_fmt yuv420p " + args + " " + shell_quote(path.string()))
                .exit_code,
            0);
  return path;
}

std::filesystem::path concatenate(const TempDir& dir, const std::string& name,
                                  const std::vector<std::filesystem::path>& parts) {
  std::string command = "cat";
  for (const auto& part : parts) command += " " + shell_quote(part.string());
  const auto path = dir / name;
  EXPECT_EQ(run_command(command + " > " + shell_quote(path.string())).exit_code, 0);
  return path;
}

struct Decoded {
  std::vector<double> times;
  std::int64_t non_monotonic = 0;
  std::int64_t sampled_out = 0;
  VideoStreamInfo info;
};

Decoded decode_all(const common::FileSource& source, DecoderOptions options = {}) {
  VideoDecoder decoder(source, options);
  Decoded out;
  out.info = decoder.info();
  VideoFrame frame;
  while (decoder.next(frame)) out.times.push_back(frame.pts_s);
  out.non_monotonic = decoder.non_monotonic_frames();
  out.sampled_out = decoder.sampled_out_frames();
  return out;
}

MediaErrorCode decode_error(const common::FileSource& source, DecoderOptions options) {
  try {
    decode_all(source, options);
  } catch (const MediaError& e) {
    return e.code();
  }
  return static_cast<MediaErrorCode>(-1);
}

TEST(VideoDecoder, ReadsThroughADescriptorAsByNameAndTwoReadersShareIt) {
  TempDir dir;
  const auto path = make_clip(dir, "clip.mp4", "testsrc=size=64x48:rate=10:duration=1");
  const Decoded by_name = decode_all(path);
  dancer::testing::OpenFile fd(path, O_RDONLY);
  // The descriptor's own offset plays no part: two decoders read it at the same time.
  VideoDecoder first(common::FileSource::descriptor(fd.get(), "the video"));
  VideoDecoder second(common::FileSource::descriptor(fd.get(), "the video"));
  VideoFrame a, b;
  std::vector<double> times;
  while (first.next(a)) {
    ASSERT_TRUE(second.next(b));
    EXPECT_EQ(a.pts_s, b.pts_s);
    times.push_back(a.pts_s);
  }
  EXPECT_FALSE(second.next(b));
  EXPECT_EQ(times, by_name.times);
  EXPECT_EQ(times.size(), 10u);
}

TEST(VideoDecoder, HighFrameRateIsSampledDownToTheCeilingAtAConstantRate) {
  TempDir dir;
  const auto path = make_clip(dir, "slowmo.mp4", "testsrc=size=64x48:rate=120:duration=1");
  DecoderOptions options;
  options.limits.max_fps = 60;
  const Decoded d = decode_all(path, options);
  EXPECT_DOUBLE_EQ(d.info.stream_fps, 120.0);
  EXPECT_DOUBLE_EQ(d.info.fps, 60.0);
  ASSERT_EQ(d.times.size(), 60u);
  EXPECT_EQ(d.sampled_out, 60);
  for (std::size_t i = 1; i < d.times.size(); ++i) {
    EXPECT_NEAR(d.times[i] - d.times[i - 1], 1.0 / 60, 1e-6) << i;
  }
  // 90 fps has no whole divisor to 60: every other frame, 45 fps.
  const auto ninety = make_clip(dir, "ninety.mp4", "testsrc=size=64x48:rate=90:duration=1");
  const Decoded n = decode_all(ninety, options);
  EXPECT_DOUBLE_EQ(n.info.fps, 45.0);
  EXPECT_EQ(n.times.size(), 45u);
  // At or below the ceiling nothing is skipped.
  const Decoded plain =
      decode_all(make_clip(dir, "thirty.mp4", "testsrc=size=64x48:rate=30:duration=1"), options);
  EXPECT_EQ(plain.times.size(), 30u);
  EXPECT_EQ(plain.sampled_out, 0);
}

TEST(VideoDecoder, AClockThatGoesBackIsNotDecodedTwice) {
  // A walk joined to itself: the second copy's times start over. Its frames are skipped and
  // counted, so no stride is measured twice on one time line.
  TempDir dir;
  const auto part = make_clip(dir, "walk.ts", "testsrc=size=64x48:rate=10:duration=1", "-f mpegts");
  const auto joined = concatenate(dir, "joined.ts", {part, part});
  const Decoded once = decode_all(part);
  const Decoded twice = decode_all(joined);
  EXPECT_EQ(once.non_monotonic, 0);
  EXPECT_EQ(twice.times, once.times);
  EXPECT_EQ(twice.non_monotonic, static_cast<std::int64_t>(once.times.size()));
}

TEST(VideoDecoder, AFrameLargerThanTheLimitStopsDecodingWithItNamed) {
  // The probe reads the header of the first part (64x48); the stream then switches to
  // 640x480 frames, which the per-frame check refuses.
  TempDir dir;
  const auto small =
      make_clip(dir, "small.ts", "testsrc=size=64x48:rate=10:duration=0.5", "-f mpegts");
  const auto big = make_clip(dir, "big.ts", "testsrc=size=640x480:rate=10:duration=0.5",
                             "-f mpegts -output_ts_offset 10");
  const auto path = concatenate(dir, "switch.ts", {small, big});
  DecoderOptions options;
  EXPECT_NO_THROW(decode_all(path, options));
  options.limits.max_frame_pixels = 64 * 48;
  EXPECT_EQ(decode_error(path, options), MediaErrorCode::kLimitExceeded);
}

TEST(VideoDecoder, DurationAndFrameCountLimitsStopDecoding) {
  TempDir dir;
  const auto path = make_clip(dir, "long.mp4", "testsrc=size=64x48:rate=10:duration=3");
  DecoderOptions options;
  options.limits.max_duration_s = 1.0;
  EXPECT_EQ(decode_error(path, options), MediaErrorCode::kLimitExceeded);
  options.limits.max_duration_s = 0;
  options.limits.max_frames = 5;
  EXPECT_EQ(decode_error(path, options), MediaErrorCode::kLimitExceeded);
  options.limits.max_frames = 30;
  EXPECT_EQ(decode_all(path, options).times.size(), 30u);
}

TEST(VideoDecoder, OnlyTheContainersOfUploadsAreOpened) {
  TempDir dir;
  // A playlist naming a local file, and a still image: formats no camera uploads.
  const auto clip = make_clip(dir, "clip.ts", "testsrc=size=64x48:rate=10:duration=1", "-f mpegts");
  const auto playlist = dir / "walk.mp4";
  std::ofstream(playlist) << "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\n"
                          << clip.string() << "\n#EXT-X-ENDLIST\n";
  EXPECT_EQ(decode_error(playlist, {}), MediaErrorCode::kInvalidData);
  const auto still = make_clip(dir, "still.png", "testsrc=size=64x48:rate=1:duration=1",
                               "-frames:v 1 -f image2 -c:v png -pix_fmt rgb24");
  EXPECT_EQ(decode_error(still, {}), MediaErrorCode::kInvalidData);
  // The containers of uploads open.
  for (const char* name : {"a.mp4", "a.mkv", "a.webm", "a.avi", "a.ts", "a.mov"}) {
    const std::string args =
        std::string(name) == "a.webm" ? "-c:v libvpx-vp9 -deadline realtime" : "";
    const auto path = make_clip(dir, name, "testsrc=size=64x48:rate=10:duration=0.5", args);
    EXPECT_EQ(decode_all(path).times.size(), 5u) << name;
  }
}

}  // namespace
}  // namespace dancer::media

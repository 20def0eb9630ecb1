#include "media/video_encoder.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "media/png_encoder.h"
#include "media/video_decoder.h"
#include "support/test_support.h"

namespace dancer::media {
namespace {

using dancer::testing::run_command;
using dancer::testing::shell_quote;
using dancer::testing::TempDir;

using Fd = dancer::testing::OpenFile;

constexpr int kRdwrNew = O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC;

// Frame i: mid-gray with a pure red 16x16 square whose left edge moves 4 px per frame.
std::vector<std::uint8_t> test_frame(int width, int height, int i) {
  std::vector<std::uint8_t> bgr(static_cast<std::size_t>(width) * height * 3, 128);
  const int left = (i * 4) % (width - 16);
  for (int y = 8; y < 24; ++y) {
    for (int x = left; x < left + 16; ++x) {
      std::uint8_t* p = &bgr[(static_cast<std::size_t>(y) * width + x) * 3];
      p[0] = 0;
      p[1] = 0;
      p[2] = 255;
    }
  }
  return bgr;
}

// ffprobe's view of the first video stream and the format, frames counted by decoding.
nlohmann::json ffprobe(const std::filesystem::path& path) {
  const auto r = run_command(
      "ffprobe -v error -count_frames -select_streams v:0 -show_entries "
      "stream=codec_name,profile,pix_fmt,width,height,nb_read_frames,avg_frame_rate,color_space:"
      "format=duration,format_name -of json " +
      shell_quote(path.string()));
  EXPECT_EQ(r.exit_code, 0);
  return nlohmann::json::parse(r.output);
}

std::ptrdiff_t index_of(const std::vector<std::string>& v, const std::string& s) {
  const auto it = std::find(v.begin(), v.end(), s);
  return it == v.end() ? -1 : it - v.begin();
}

void encode(int fd, int frames, double fps, bool faststart = true) {
  VideoEncoderOptions options;
  options.width = 96;
  options.height = 64;
  options.fps = fps;
  options.faststart = faststart;
  VideoEncoder encoder(fd, options);
  for (int i = 0; i < frames; ++i) {
    const auto bgr = test_frame(options.width, options.height, i);
    encoder.write_bgr(bgr.data(), options.width * 3, i / fps);
  }
  encoder.finish();
  EXPECT_EQ(encoder.frames_written(), frames);
}

TEST(VideoEncoder, WritesAFaststartH264Mp4WithEveryFrame) {
  TempDir dir;
  const auto path = dir / "out.mp4";
  {
    Fd fd(path, kRdwrNew);
    VideoEncoderOptions options;
    options.width = 96;
    options.height = 64;
    options.fps = 24;
    VideoEncoder encoder(fd.get(), options);
    for (int i = 0; i < 48; ++i) {
      const auto bgr = test_frame(96, 64, i);
      encoder.write_bgr(bgr.data(), 96 * 3, i / 24.0);
    }
    encoder.finish();
    EXPECT_EQ(encoder.frames_written(), 48);
    EXPECT_EQ(static_cast<std::uintmax_t>(encoder.bytes_written()),
              std::filesystem::file_size(path));
  }
  const auto probe = ffprobe(path);
  const auto& stream = probe.at("streams").at(0);
  EXPECT_EQ(stream.at("codec_name"), "h264");
  EXPECT_EQ(stream.at("pix_fmt"), "yuv420p");
  EXPECT_EQ(stream.at("width"), 96);
  EXPECT_EQ(stream.at("height"), 64);
  EXPECT_EQ(stream.at("nb_read_frames"), "48");
  EXPECT_EQ(stream.at("avg_frame_rate"), "24/1");
  EXPECT_EQ(stream.at("color_space"), "bt709");
  EXPECT_NEAR(std::stod(probe.at("format").at("duration").get<std::string>()), 2.0, 1.0 / 24);
  // faststart: the index comes before the media data.
  const auto boxes = dancer::testing::mp4_top_level_boxes(path);
  ASSERT_GE(index_of(boxes, "moov"), 0);
  ASSERT_GE(index_of(boxes, "mdat"), 0);
  EXPECT_LT(index_of(boxes, "moov"), index_of(boxes, "mdat"));
  EXPECT_EQ(boxes.front(), "ftyp");
}

TEST(VideoEncoder, WithoutFaststartTheIndexStaysAtTheEnd) {
  // The control for the test above: the muxer's default layout puts moov last, so the
  // order seen there comes from the faststart pass.
  TempDir dir;
  const auto path = dir / "slow.mp4";
  {
    Fd fd(path, kRdwrNew);
    encode(fd.get(), 12, 24, false);
  }
  const auto boxes = dancer::testing::mp4_top_level_boxes(path);
  EXPECT_GT(index_of(boxes, "moov"), index_of(boxes, "mdat"));
  EXPECT_EQ(ffprobe(path).at("streams").at(0).at("nb_read_frames"), "12");
}

TEST(VideoEncoder, PicturesSurviveTheRoundTripInColourAndPlace) {
  // BGR order, the BT.709 conversion and its tags: the red square decodes red, where it was.
  TempDir dir;
  const auto path = dir / "square.mp4";
  {
    Fd fd(path, kRdwrNew);
    encode(fd.get(), 10, 10);
  }
  DecoderOptions options;
  options.layout = PixelLayout::kBgr24;
  options.max_width = 0;
  options.max_height = 0;
  VideoDecoder decoder(path, options);
  VideoFrame frame;
  int frames = 0;
  while (decoder.next(frame)) {
    const int left = (frames * 4) % (96 - 16);
    const std::uint8_t* inside = frame.data + 16 * frame.stride + (left + 8) * 3;
    EXPECT_LT(inside[0], 60) << "frame " << frames;   // B
    EXPECT_LT(inside[1], 60) << "frame " << frames;   // G
    EXPECT_GT(inside[2], 200) << "frame " << frames;  // R
    const std::uint8_t* outside = frame.data + 48 * frame.stride + 48 * 3;
    for (int c = 0; c < 3; ++c) EXPECT_NEAR(outside[c], 128, 12) << "frame " << frames;
    ++frames;
  }
  EXPECT_EQ(frames, 10);
}

TEST(VideoEncoder, KeepsTheSourceFrameTimes) {
  // A variable frame rate: the frames keep their own times; a time that does not advance is
  // moved just past the previous one instead of being rejected by the muxer.
  TempDir dir;
  const auto path = dir / "vfr.mp4";
  const std::vector<double> times = {0.0, 0.1, 0.15, 0.15, 0.4, 0.5, 0.55, 0.9};
  {
    Fd fd(path, kRdwrNew);
    VideoEncoderOptions options;
    options.width = 96;
    options.height = 64;
    options.fps = 10;
    VideoEncoder encoder(fd.get(), options);
    for (std::size_t i = 0; i < times.size(); ++i) {
      const auto bgr = test_frame(96, 64, static_cast<int>(i));
      encoder.write_bgr(bgr.data(), 96 * 3, times[i]);
    }
    encoder.finish();
  }
  DecoderOptions options;
  options.max_width = 0;
  options.max_height = 0;
  VideoDecoder decoder(path, options);
  VideoFrame frame;
  std::vector<double> decoded;
  while (decoder.next(frame)) decoded.push_back(frame.pts_s);
  ASSERT_EQ(decoded.size(), times.size());
  for (std::size_t i = 0; i < times.size(); ++i) {
    EXPECT_NEAR(decoded[i], times[i], 0.001) << i;
  }
  EXPECT_GT(decoded[3], decoded[2]);
}

TEST(VideoEncoder, RefusesDescriptorsItCannotFinishAFaststartFileOn) {
  TempDir dir;
  VideoEncoderOptions options;
  options.width = 96;
  options.height = 64;
  options.fps = 25;
  const auto expect_io_error = [&](int fd, const std::string& why) {
    try {
      VideoEncoder encoder(fd, options);
      ADD_FAILURE() << why << ": accepted";
    } catch (const MediaError& e) {
      EXPECT_EQ(e.code(), MediaErrorCode::kIo) << why << ": " << e.what();
    }
  };
  {
    Fd write_only(dir / "w.mp4", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC);
    expect_io_error(write_only.get(), "write-only");  // the faststart pass must read it back
  }
  {
    Fd read_only(dir / "w.mp4", O_RDONLY | O_CLOEXEC);
    expect_io_error(read_only.get(), "read-only");
  }
  {
    dancer::testing::run_command("printf x > " + shell_quote((dir / "full.mp4").string()));
    Fd not_empty(dir / "full.mp4", O_RDWR | O_CLOEXEC);
    expect_io_error(not_empty.get(), "not empty");
  }
  {
    int pipe_fds[2];
    ASSERT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
    expect_io_error(pipe_fds[1], "pipe");  // not seekable
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
  }
  expect_io_error(-1, "no descriptor");
  Fd fd(dir / "odd.mp4", kRdwrNew);
  options.width = 95;
  try {
    VideoEncoder encoder(fd.get(), options);
    ADD_FAILURE() << "odd width accepted";
  } catch (const MediaError& e) {
    EXPECT_EQ(e.code(), MediaErrorCode::kInvalidData);
  }
}

TEST(PngEncoder, ColourAndGrayImagesDecodeToTheSamePixels) {
  TempDir dir;
  // 3x2 BGR with a padded stride: blue, green, red / white, black, gray.
  const int stride = 3 * 3 + 5;
  std::vector<std::uint8_t> bgr(static_cast<std::size_t>(stride) * 2, 77);
  const std::uint8_t pixels[2][3][3] = {{{255, 0, 0}, {0, 255, 0}, {0, 0, 255}},
                                        {{255, 255, 255}, {0, 0, 0}, {100, 100, 100}}};
  for (int y = 0; y < 2; ++y) {
    for (int x = 0; x < 3; ++x) {
      for (int c = 0; c < 3; ++c)
        bgr[static_cast<std::size_t>(y * stride + x * 3 + c)] = pixels[y][x][c];
    }
  }
  const std::string png = encode_png(bgr.data(), 3, 2, stride, PixelLayout::kBgr24);
  ASSERT_GT(png.size(), 8u);
  EXPECT_EQ(png.substr(1, 3), "PNG");
  const auto path = dir / "colour.png";
  {
    Fd fd(path, kRdwrNew);
    ASSERT_EQ(::write(fd.get(), png.data(), png.size()), static_cast<ssize_t>(png.size()));
  }
  DecoderOptions options;
  options.layout = PixelLayout::kBgr24;
  options.max_width = 0;
  options.max_height = 0;
  options.containers.clear();  // a PNG still, not an upload
  VideoDecoder decoder(path, options);
  EXPECT_EQ(decoder.info().codec_name, "png");
  VideoFrame frame;
  ASSERT_TRUE(decoder.next(frame));
  ASSERT_EQ(frame.width, 3);
  ASSERT_EQ(frame.height, 2);
  for (int y = 0; y < 2; ++y) {
    for (int x = 0; x < 3; ++x) {
      for (int c = 0; c < 3; ++c) {
        EXPECT_EQ(frame.data[y * frame.stride + x * 3 + c], pixels[y][x][c]) << x << "," << y;
      }
    }
  }

  const std::uint8_t gray[4] = {0, 85, 170, 255};
  const std::string gray_png = encode_png(gray, 2, 2, 2, PixelLayout::kGray8);
  const auto gray_path = dir / "gray.png";
  {
    Fd fd(gray_path, kRdwrNew);
    ASSERT_EQ(::write(fd.get(), gray_png.data(), gray_png.size()),
              static_cast<ssize_t>(gray_png.size()));
  }
  options.layout = PixelLayout::kGray8;
  VideoDecoder gray_decoder(gray_path, options);
  ASSERT_TRUE(gray_decoder.next(frame));
  for (int i = 0; i < 4; ++i) EXPECT_EQ(frame.data[(i / 2) * frame.stride + i % 2], gray[i]) << i;
  EXPECT_THROW(encode_png(gray, 2, 2, 1, PixelLayout::kGray8), MediaError);
}

}  // namespace
}  // namespace dancer::media

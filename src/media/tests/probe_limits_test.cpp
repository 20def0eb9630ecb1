// The probe's bounds for untrusted files (ProbeOptions): each one refuses a file that
// exceeds it with kLimitExceeded naming the bound, and lets a file within it through.
#include <gtest/gtest.h>

#include "media/metadata.h"
#include "support/test_support.h"

namespace dancer::media {
namespace {

using dancer::testing::run_command;
using dancer::testing::shell_quote;
using dancer::testing::TempDir;

// 320x240 H.264, 1 s at 25 fps, the video stream mapped three times.
std::filesystem::path three_streams(const TempDir& dir) {
  const auto path = dir / "three.mp4";
  auto r = run_command(
      "ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=size=320x240:rate=25 -t 1 "
      "-map 0:v -map 0:v -map 0:v -c:v libx264 -preset ultrafast " +
      shell_quote(path.string()) + " 2>&1");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return path;
}

MediaErrorCode probe_error(const std::filesystem::path& file, const ProbeOptions& options,
                           std::string* message) {
  try {
    probe_file(file, options);
  } catch (const MediaError& e) {
    *message = e.what();
    return e.code();
  }
  ADD_FAILURE() << "probe accepted the file";
  return MediaErrorCode::kInvalidData;
}

TEST(ProbeLimits, EachBoundRefusesAFileOverItAndNamesIt) {
  TempDir dir;
  const auto file = three_streams(dir);
  std::string message;

  ProbeOptions streams;
  streams.max_streams = 2;
  EXPECT_EQ(probe_error(file, streams, &message), MediaErrorCode::kLimitExceeded);
  EXPECT_NE(message.find("stream"), std::string::npos) << message;

  ProbeOptions pixels;
  pixels.max_frame_pixels = 320 * 240 - 1;
  EXPECT_EQ(probe_error(file, pixels, &message), MediaErrorCode::kLimitExceeded);
  EXPECT_NE(message.find("320x240"), std::string::npos) << message;

  ProbeOptions index;
  index.max_index_entries = 10;  // 25 samples per stream
  EXPECT_EQ(probe_error(file, index, &message), MediaErrorCode::kLimitExceeded);
  EXPECT_NE(message.find("index entries"), std::string::npos) << message;
}

TEST(ProbeLimits, AFileWithinEveryBoundIsProbedAsBefore) {
  TempDir dir;
  const auto file = three_streams(dir);
  ProbeOptions within;
  within.max_streams = 3;
  within.max_frame_pixels = 320 * 240;
  within.max_index_entries = 25;
  const auto bounded = probe_file(file, within);
  EXPECT_EQ(bounded, probe_file(file));
  EXPECT_EQ(bounded["streams"].size(), 3u);
}

}  // namespace
}  // namespace dancer::media

// bound_metadata() on probe_file() output of files written by Debian's ffmpeg CLI.
#include "media/metadata_bounds.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "media/metadata.h"
#include "support/test_support.h"

namespace dancer::media {
namespace {

using dancer::testing::make_test_media;
using dancer::testing::run_command;
using dancer::testing::shell_quote;
using dancer::testing::TempDir;
using nlohmann::json;

constexpr int kAudioStreams = 40;
constexpr int kLargeTags = 70;
constexpr std::size_t kLargeTagBytes = 2000;

// An MKV (0.4 s: every input is finite and -t caps the output) with 40 short PCM audio streams,
// then one video stream (index 40), 70 global tags of 2000 bytes each (from an FFMETADATA file:
// command-line arguments are capped at 128 KiB) and a 100 KB title on the video stream.
std::filesystem::path make_tag_heavy_mkv(const TempDir& dir) {
  const auto metadata_file = dir / "tags.ffmeta";
  {
    std::ofstream out(metadata_file);
    out << ";FFMETADATA1\n";
    for (int i = 0; i < kLargeTags; ++i) {
      out << "k" << (i < 10 ? "0" : "") << i << "=" << std::string(kLargeTagBytes, 'a' + i % 26)
          << "\n";
    }
  }
  const auto path = dir / "tags.mkv";
  std::string cmd =
      "timeout 60 ffmpeg -nostdin -hide_banner -loglevel error -y "
      "-f lavfi -i testsrc2=size=64x48:rate=5:duration=0.4 "
      "-f lavfi -i sine=frequency=440:sample_rate=8000:duration=0.4 "
      "-f ffmetadata -i " +
      shell_quote(metadata_file.string()) + " -map_metadata 2";
  for (int i = 0; i < kAudioStreams; ++i) cmd += " -map 1:a";
  cmd += " -map 0:v -t 0.4 -c:a pcm_s16le -c:v mjpeg -metadata:s:v:0 title=" +
         std::string(100000, 'T') + " " + shell_quote(path.string());
  const auto result = run_command(cmd);
  if (result.exit_code != 0) throw std::runtime_error("ffmpeg failed to write " + path.string());
  return path;
}

TEST(MetadataBoundsTest, TagHeavyFileIsCutToTheBounds) {
  TempDir dir;
  const json original = probe_file(make_tag_heavy_mkv(dir));
  ASSERT_EQ(original.at("streams").size(), static_cast<std::size_t>(kAudioStreams + 1));
  const std::size_t format_tags = original.at("format").at("tags").size();
  ASSERT_GE(format_tags, static_cast<std::size_t>(kLargeTags));
  ASSERT_GT(original.dump().size(), 256u * 1024u);

  const MetadataBounds bounds;  // 256 KiB, 32 streams, 1 KiB values, 64 tags per object
  const json bounded = bound_metadata(original, bounds);
  EXPECT_LE(bounded.dump().size(), bounds.max_bytes);
  ASSERT_TRUE(bounded.contains("truncated"));
  const json& truncated = bounded.at("truncated");
  EXPECT_EQ(truncated.at("original_bytes").get<std::size_t>(), original.dump().size());
  // Streams 32..39 (audio) dropped; the video stream at index 40 kept after the first 32.
  EXPECT_EQ(truncated.at("streams").get<int>(), kAudioStreams - 32);
  ASSERT_EQ(bounded.at("streams").size(), 33u);
  EXPECT_EQ(bounded.at("streams").back().at("codec_type"), "video");
  EXPECT_EQ(bounded.at("streams").back().at("index"), kAudioStreams);
  EXPECT_EQ(bounded.at("format").at("nb_streams"), kAudioStreams + 1);
  // Format: 64 tags kept, the rest dropped; every kept large value cut to 1024 bytes.
  const json& tags = bounded.at("format").at("tags");
  ASSERT_EQ(tags.size(), 64u);
  EXPECT_EQ(truncated.at("tags").get<std::size_t>(), format_tags - 64);
  std::size_t cut_values = 0;
  for (const auto& [key, value] : tags.items()) {
    EXPECT_LE(value.get<std::string>().size(), 1024u) << key;
    if (original.at("format").at("tags").at(key).get<std::string>().size() > 1024) ++cut_values;
  }
  // Plus the video stream's 100 KB title.
  EXPECT_EQ(truncated.at("tag_values").get<std::size_t>(), cut_values + 1);
  EXPECT_GE(cut_values, 60u);
  EXPECT_EQ(bounded.at("streams").back().at("tags").at("title"), std::string(1024, 'T'));
  EXPECT_EQ(truncated.at("side_data"), 0);
}

TEST(MetadataBoundsTest, SmallBudgetDropsTagsAndStreamsButKeepsTheVideo) {
  TempDir dir;
  const json original = probe_file(make_tag_heavy_mkv(dir));
  MetadataBounds bounds;
  bounds.max_bytes = 16 * 1024;
  const json bounded = bound_metadata(original, bounds);
  EXPECT_LE(bounded.dump().size(), bounds.max_bytes);
  EXPECT_FALSE(bounded.at("format").contains("tags"));
  ASSERT_FALSE(bounded.at("streams").empty());
  EXPECT_EQ(bounded.at("streams").back().at("codec_type"), "video");
  const json& truncated = bounded.at("truncated");
  EXPECT_EQ(truncated.at("streams").get<std::size_t>() + bounded.at("streams").size(),
            original.at("streams").size());
  EXPECT_EQ(truncated.at("original_bytes").get<std::size_t>(), original.dump().size());
  // Every other field of a kept stream is as probed.
  json video = bounded.at("streams").back();
  json original_video = original.at("streams").back();
  video.erase("tags");
  original_video.erase("tags");
  EXPECT_EQ(video, original_video);
}

TEST(MetadataBoundsTest, OrdinaryFilesAreUnchanged) {
  TempDir dir;
  for (const char* kind : {"h264_mp4", "rotated_mp4"}) {
    const json original = probe_file(make_test_media(dir.path(), kind, 0.4));
    EXPECT_EQ(bound_metadata(original), original) << kind;
  }
}

TEST(MetadataBoundsTest, CutsValuesAtCharacterBoundaries) {
  json metadata = {{"format", {{"tags", {{"title", std::string(600, 'x') + "\xC3\xA9"}}}}},
                   {"streams", json::array()}};
  MetadataBounds bounds;
  bounds.max_tag_value_bytes = 601;  // would split the two-byte 'é'
  const json bounded = bound_metadata(metadata, bounds);
  EXPECT_EQ(bounded.at("format").at("tags").at("title"), std::string(600, 'x'));
  EXPECT_EQ(bounded.at("truncated").at("tag_values"), 1);
  EXPECT_EQ(bounded.at("truncated").at("tags"), 0);
}

TEST(MetadataBoundsTest, CoverArtIsNotTakenForTheVideoStream) {
  json streams = json::array();
  for (int i = 0; i < 4; ++i) streams.push_back({{"index", i}, {"codec_type", "audio"}});
  streams.push_back(
      {{"index", 4}, {"codec_type", "video"}, {"disposition", {{"attached_pic", 1}}}});
  streams.push_back(
      {{"index", 5}, {"codec_type", "video"}, {"disposition", {{"attached_pic", 0}}}});
  MetadataBounds bounds;
  bounds.max_streams = 2;
  const json bounded = bound_metadata({{"format", json::object()}, {"streams", streams}}, bounds);
  ASSERT_EQ(bounded.at("streams").size(), 3u);
  EXPECT_EQ(bounded.at("streams")[2].at("index"), 5);
  EXPECT_EQ(bounded.at("truncated").at("streams"), 3);
}

}  // namespace
}  // namespace dancer::media

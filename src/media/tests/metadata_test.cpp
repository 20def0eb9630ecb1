// probe_file() against the real ffprobe CLI of the same FFmpeg build, field by field.
#include "media/metadata.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "support/test_support.h"

namespace dancer::media {
namespace {

using dancer::testing::make_test_media;
using dancer::testing::run_command;
using dancer::testing::shell_quote;
using dancer::testing::TempDir;
using nlohmann::json;

// The fields the contract names (docs of probe_file in the task brief).
const std::vector<std::string> kFormatFields = {
    "filename",         "nb_streams",  "nb_programs", "format_name",
    "format_long_name", "start_time",  "duration",    "size",
    "bit_rate",         "probe_score", "tags"};
const std::vector<std::string> kStreamFields = {"index",
                                                "codec_name",
                                                "codec_long_name",
                                                "profile",
                                                "codec_type",
                                                "codec_tag_string",
                                                "codec_tag",
                                                "width",
                                                "height",
                                                "coded_width",
                                                "coded_height",
                                                "has_b_frames",
                                                "sample_aspect_ratio",
                                                "display_aspect_ratio",
                                                "pix_fmt",
                                                "level",
                                                "color_range",
                                                "color_space",
                                                "color_transfer",
                                                "color_primaries",
                                                "chroma_location",
                                                "field_order",
                                                "r_frame_rate",
                                                "avg_frame_rate",
                                                "time_base",
                                                "start_pts",
                                                "start_time",
                                                "duration_ts",
                                                "duration",
                                                "bit_rate",
                                                "bits_per_raw_sample",
                                                "nb_frames",
                                                "sample_fmt",
                                                "sample_rate",
                                                "channels",
                                                "channel_layout",
                                                "bits_per_sample",
                                                "disposition",
                                                "tags",
                                                "side_data_list"};

json run_ffprobe(const std::filesystem::path& path) {
  auto result = run_command("ffprobe -v quiet -print_format json -show_format -show_streams " +
                            shell_quote(path.string()));
  EXPECT_EQ(result.exit_code, 0) << "ffprobe failed on " << path;
  return json::parse(result.output);
}

// Each contracted field ffprobe prints must be present with the same JSON text (so the same
// type: "25" and 25 differ); each contracted field ffprobe leaves out must be left out.
void expect_fields_match(const json& ours, const json& reference,
                         const std::vector<std::string>& fields, const std::string& where) {
  for (const std::string& field : fields) {
    if (reference.contains(field)) {
      ASSERT_TRUE(ours.contains(field)) << where << ": missing " << field;
      EXPECT_EQ(ours[field].dump(), reference[field].dump()) << where << ": field " << field;
    } else {
      EXPECT_FALSE(ours.contains(field))
          << where << ": ffprobe omits " << field << " but we print " << ours[field].dump();
    }
  }
}

void expect_matches_ffprobe(const std::filesystem::path& path) {
  const json reference = run_ffprobe(path);
  const json ours = probe_file(path);
  ASSERT_TRUE(ours.contains("format"));
  ASSERT_TRUE(ours.contains("streams"));
  expect_fields_match(ours["format"], reference["format"], kFormatFields, "format");
  ASSERT_EQ(ours["streams"].size(), reference["streams"].size());
  for (std::size_t i = 0; i < reference["streams"].size(); ++i) {
    expect_fields_match(ours["streams"][i], reference["streams"][i], kStreamFields,
                        "stream " + std::to_string(i));
  }
  // Beyond the contract: ffprobe's whole output (refs, id, is_avc, extradata_size, ...).
  EXPECT_EQ(ours, reference) << "ours:\n" << ours.dump(2) << "\nffprobe:\n" << reference.dump(2);
}

class GeneratedMedia : public ::testing::TestWithParam<std::string> {};

TEST_P(GeneratedMedia, MatchesFfprobe) {
  TempDir dir;
  expect_matches_ffprobe(make_test_media(dir.path(), GetParam()));
}

INSTANTIATE_TEST_SUITE_P(AllKinds, GeneratedMedia,
                         ::testing::Values("h264_mp4", "hevc_mov", "vp9_webm", "mjpeg_avi",
                                           "rotated_mp4", "audio_only_m4a"));

std::vector<std::filesystem::path> shared_videos() {
  std::vector<std::filesystem::path> videos;
  const std::filesystem::path dir = dancer::testing::shared_test_data("videos");
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    if (entry.path().extension() == ".mp4") videos.push_back(entry.path());
  }
  std::sort(videos.begin(), videos.end());
  return videos;
}

TEST(ProbeFile, RealWalkingVideosMatchFfprobe) {
  const auto videos = shared_videos();
  ASSERT_EQ(videos.size(), 4u) << "expected the 4 walking videos in "
                               << dancer::testing::shared_test_data("videos");
  for (const auto& video : videos) {
    SCOPED_TRACE(video.string());
    expect_matches_ffprobe(video);
  }
}

// The generators must produce what they claim, or the comparisons above prove little.
TEST(ProbeFile, GeneratedMediaHaveTheClaimedCodecs) {
  TempDir dir;
  const json h264 = probe_file(make_test_media(dir.path(), "h264_mp4"));
  ASSERT_EQ(h264["streams"].size(), 2u);
  EXPECT_EQ(h264["streams"][0]["codec_name"], "h264");
  EXPECT_EQ(h264["streams"][1]["codec_name"], "aac");
  EXPECT_EQ(probe_file(make_test_media(dir.path(), "hevc_mov"))["streams"][0]["codec_name"],
            "hevc");
  EXPECT_EQ(probe_file(make_test_media(dir.path(), "vp9_webm"))["streams"][0]["codec_name"], "vp9");
  EXPECT_EQ(probe_file(make_test_media(dir.path(), "mjpeg_avi"))["streams"][0]["codec_name"],
            "mjpeg");
}

TEST(ProbeFile, RotatedVideoCarriesADisplayMatrix) {
  TempDir dir;
  const json probed = probe_file(make_test_media(dir.path(), "rotated_mp4"));
  const json& stream = probed["streams"][0];
  ASSERT_TRUE(stream.contains("side_data_list")) << stream.dump(2);
  const json& side_data = stream["side_data_list"][0];
  EXPECT_EQ(side_data["side_data_type"], "Display Matrix");
  ASSERT_TRUE(side_data["rotation"].is_number_integer());
  EXPECT_EQ(std::abs(side_data["rotation"].get<int>()), 90);
  // A quarter turn: the diagonal of the 2x2 part is zero.
  EXPECT_NE(side_data["displaymatrix"].get<std::string>().find(":            0 "),
            std::string::npos);
}

TEST(ProbeFile, AudioOnlyFileIsNotAnError) {
  TempDir dir;
  const json probed = probe_file(make_test_media(dir.path(), "audio_only_m4a"));
  ASSERT_EQ(probed["streams"].size(), 1u);
  EXPECT_EQ(probed["streams"][0]["codec_type"], "audio");
  EXPECT_EQ(probed["streams"][0]["sample_rate"], "44100");
}

MediaErrorCode error_code_of(const std::filesystem::path& path, const ProbeOptions& options = {}) {
  try {
    probe_file(path, options);
  } catch (const MediaError& error) {
    return error.code();
  }
  ADD_FAILURE() << "probe_file did not throw for " << path;
  return MediaErrorCode::kIo;
}

TEST(ProbeFile, MissingFileIsNotFound) {
  TempDir dir;
  EXPECT_EQ(error_code_of(dir / "nothing_here.mp4"), MediaErrorCode::kNotFound);
}

TEST(ProbeFile, DirectoryIsNotFound) {
  TempDir dir;
  EXPECT_EQ(error_code_of(dir.path()), MediaErrorCode::kNotFound);
}

TEST(ProbeFile, TruncatedMp4WithoutMoovIsInvalidData) {
  TempDir dir;
  EXPECT_EQ(error_code_of(make_test_media(dir.path(), "truncated_mp4")),
            MediaErrorCode::kInvalidData);
}

TEST(ProbeFile, TextFileIsInvalidData) {
  TempDir dir;
  EXPECT_EQ(error_code_of(make_test_media(dir.path(), "text_as_mp4")),
            MediaErrorCode::kInvalidData);
}

TEST(ProbeFile, EmptyFileIsInvalidData) {
  TempDir dir;
  std::ofstream(dir / "empty.mp4").close();
  EXPECT_EQ(error_code_of(dir / "empty.mp4"), MediaErrorCode::kInvalidData);
}

TEST(ProbeFile, PassedDeadlineAbortsTheProbe) {
  TempDir dir;
  const auto video = make_test_media(dir.path(), "h264_mp4");
  ProbeOptions already_late;
  already_late.deadline = std::chrono::milliseconds(-1);  // expired before the first read
  EXPECT_EQ(error_code_of(video, already_late), MediaErrorCode::kInvalidData);
  EXPECT_NO_THROW(probe_file(video));
}

// An ffconcat script makes a demuxer open other files; ffprobe follows it (whatever the file
// name), probe_file must not.
TEST(ProbeFile, ConcatScriptIsNotFollowed) {
  TempDir dir;
  make_test_media(dir.path(), "h264_mp4");
  const auto script = dir / "upload.mp4";
  std::ofstream(script) << "ffconcat version 1.0\nfile h264.mp4\n";
  const json unguarded = run_ffprobe(script);
  ASSERT_EQ(unguarded["format"]["format_name"], "concat");  // the script is followable
  EXPECT_EQ(error_code_of(script), MediaErrorCode::kInvalidData);
}

// An HLS playlist naming another local file: ffprobe opens the segment; probe_file's io_open
// guard refuses to open anything but the probed file. (Network segments are refused by
// FFmpeg 5.1 already: a playlist read over "file" may only use file,crypto,data.)
TEST(ProbeFile, PlaylistCannotOpenOtherFiles) {
  TempDir dir;
  const std::string make_segment =
      "ffmpeg -nostdin -hide_banner -loglevel error -y -f lavfi -i "
      "testsrc2=size=160x120:rate=25:duration=1 -c:v mjpeg -f mpegts " +
      shell_quote((dir / "segment.ts").string());
  ASSERT_EQ(run_command(make_segment).exit_code, 0);
  const auto playlist = dir / "upload.mp4";
  std::ofstream(playlist) << "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\nsegment.ts\n"
                             "#EXT-X-ENDLIST\n";
  const json unguarded = run_ffprobe(playlist);
  ASSERT_EQ(unguarded["format"]["format_name"], "hls");  // the playlist is followable
  EXPECT_THROW(probe_file(playlist), MediaError);
}

TEST(ProbeFile, FileNameWithColonIsNotTakenForAProtocol) {
  TempDir dir;
  const auto original = make_test_media(dir.path(), "mjpeg_avi");
  const auto renamed = dir / "http:clip.avi";
  std::filesystem::rename(original, renamed);
  const json probed = probe_file(renamed);
  EXPECT_EQ(probed["format"]["filename"], renamed.string());
  EXPECT_EQ(probed["streams"][0]["codec_name"], "mjpeg");
}

}  // namespace
}  // namespace dancer::media

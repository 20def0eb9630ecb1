// `dancer-analysis pose FILE`, the real binary: the keypoint track of a real walk, computed
// in the sandboxed child, as JSON Lines on stdout.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/service_harness.h"
#include "support/test_support.h"

namespace dancer::testing {
namespace {

TEST(PoseCommand, PrintsOneLinePerFrameOfTheWalkFromTheSandboxedChild) {
  const auto video = shared_test_data("videos/side_gaitcdio_4markerskevin1.mp4");
  const auto out = run_command(shell_quote(ServiceHarness::binary().string()) + " pose " +
                               shell_quote(video.string()) + " --model lite");
  ASSERT_EQ(out.exit_code, 0) << out.output.substr(0, 500);
  std::istringstream lines(out.output);
  int frames = 0, visible_with_person = 0, visible = 0;
  for (std::string line; std::getline(lines, line);) {
    const auto frame = nlohmann::json::parse(line);
    EXPECT_EQ(frame["frame"], frames);
    ++frames;
    const int index = frame["frame"];
    // The walker is fully in view from about frame 66 to 180 (looked at frame by frame).
    if (index >= 66 && index <= 180) {
      ++visible;
      if (frame["person"] == true) {
        ++visible_with_person;
        ASSERT_EQ(frame["landmarks"].size(), 33u);
        // Heels in the lower half of the 1920x1080 frame, inside it.
        for (int heel : {29, 30}) {
          EXPECT_GT(frame["landmarks"][heel][1].get<double>(), 540.0) << line;
          EXPECT_LT(frame["landmarks"][heel][1].get<double>(), 1080.0) << line;
        }
      }
    }
  }
  EXPECT_EQ(frames, 208);
  EXPECT_GE(visible_with_person * 100, visible * 95) << visible_with_person << "/" << visible;
}

// `analyze FILE` as root left the caller's file in group nogroup (the child then read it by
// name as `nobody`); the child now reads the descriptor the command opened, and the file is
// left exactly as it was.
TEST(AnalyzeCommand, LeavesTheCallersFileAsItWas) {
  TempDir dir;
  const auto video = make_test_media(dir.path(), "h264_mp4", 1.0);
  std::filesystem::permissions(video, std::filesystem::perms(0600));
  struct stat before {};
  ASSERT_EQ(::stat(video.c_str(), &before), 0);
  const auto out = run_command(shell_quote(ServiceHarness::binary().string()) + " analyze " +
                               shell_quote(video.string()) + " --analyzer gait");
  ASSERT_EQ(out.exit_code, 0) << out.output.substr(0, 500);
  EXPECT_TRUE(nlohmann::json::parse(out.output).contains("analysis")) << out.output.substr(0, 500);
  struct stat after {};
  ASSERT_EQ(::stat(video.c_str(), &after), 0);
  EXPECT_EQ(after.st_uid, before.st_uid);
  EXPECT_EQ(after.st_gid, before.st_gid);
  EXPECT_EQ(after.st_mode, before.st_mode);
}

// `analyze FILE --report-dir DIR` writes the web-playable copy and poster with the analysis'
// files (issue 19), made in the sandboxed child from a rotated phone-style clip with sound.
TEST(AnalyzeCommand, WritesTheProxyAndPosterIntoTheReportDir) {
  TempDir dir;
  const auto upright = dir / "upright.mp4";
  const auto video = dir / "phone.mp4";
  const std::string ffmpeg = "ffmpeg -nostdin -hide_banner -loglevel error -y ";
  ASSERT_EQ(run_command(ffmpeg +
                        "-f lavfi -i testsrc2=size=1280x720:rate=25:duration=2 -f lavfi -i "
                        "sine=frequency=440:duration=2 -c:v libx264 -preset ultrafast -pix_fmt "
                        "yuv420p -c:a aac -shortest " +
                        shell_quote(upright.string()) + " && " + ffmpeg + "-i " +
                        shell_quote(upright.string()) + " -c copy -metadata:s:v:0 rotate=90 " +
                        shell_quote(video.string()))
                .exit_code,
            0);
  const auto reports = dir / "reports";
  const auto out = run_command(shell_quote(ServiceHarness::binary().string()) + " analyze " +
                               shell_quote(video.string()) + " --analyzer gait --report-dir " +
                               shell_quote(reports.string()));
  ASSERT_EQ(out.exit_code, 0) << out.output.substr(0, 500);
  const auto result = nlohmann::json::parse(out.output);
  const auto listed = result["artifacts"].get<std::vector<std::string>>();
  for (const char* name : {"proxy.mp4", "poster.jpg"}) {
    EXPECT_NE(std::find(listed.begin(), listed.end(), (reports / name).string()), listed.end())
        << name;
  }
  const auto probe =
      nlohmann::json::parse(run_command("ffprobe -v quiet -print_format json -show_streams " +
                                        shell_quote((reports / "proxy.mp4").string()))
                                .output);
  ASSERT_EQ(probe["streams"].size(), 2u);
  EXPECT_EQ(probe["streams"][0]["codec_name"], "h264");
  EXPECT_EQ(probe["streams"][0]["pix_fmt"], "yuv420p");
  EXPECT_EQ(probe["streams"][0]["width"], 406);  // upright: 720 * 720 / 1280, made even
  EXPECT_EQ(probe["streams"][0]["height"], 720);
  EXPECT_EQ(probe["streams"][1]["codec_name"], "aac");
  const auto poster =
      nlohmann::json::parse(run_command("ffprobe -v quiet -print_format json -show_streams " +
                                        shell_quote((reports / "poster.jpg").string()))
                                .output);
  EXPECT_EQ(poster["streams"][0]["codec_name"], "mjpeg");
  EXPECT_EQ(poster["streams"][0]["width"], 406);
  EXPECT_EQ(poster["streams"][0]["height"], 720);
  // Frame 17 of 50: the first at or after a third of 2 s.
  EXPECT_NEAR(result["proxy"]["poster_time_s"].get<double>(), 0.68, 1e-6);
}

}  // namespace
}  // namespace dancer::testing

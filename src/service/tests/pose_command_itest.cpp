// `dancer-analysis pose FILE`, the real binary: the keypoint track of a real walk, computed
// in the sandboxed child, as JSON Lines on stdout.
#include <gtest/gtest.h>

#include <sstream>

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

}  // namespace
}  // namespace dancer::testing

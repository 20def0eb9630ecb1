// The evidence each event rests on (FootEvent::visibility, prominence_body_heights,
// low_confidence): the rules on hand-made events, and through the detector on kevin1's real
// pose track (computed once per build, cached_poses.h) with one contact's foot hidden or its
// reach cut short.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <vector>

#include "cached_poses.h"
#include "gait/gait_keypoints.h"
#include "gait/signal.h"
#include "pose/blazepose.h"
#include "support/test_support.h"

namespace dancer::analysis {
namespace {

using dancer::testing::shared_test_data;

FootEvent event(FootEventType type, std::size_t pass, double visibility, double prominence) {
  FootEvent e;
  e.type = type;
  e.pass = pass;
  e.visibility = visibility;
  e.prominence_body_heights = prominence;
  return e;
}

TEST(EventConfidence, AHiddenFootOrAWeakSignalAgainstItsOwnPassAndKindIsLow) {
  constexpr auto kIc = FootEventType::kInitialContact;
  constexpr auto kTo = FootEventType::kToeOff;
  std::vector<FootEvent> events = {
      event(kIc, 0, 0.9, 0.30), event(kIc, 0, 0.9, 0.32),
      event(kIc, 0, 0.9, 0.14),   // under half the median contact (0.30): weak
      event(kIc, 0, 0.9, 0.16),   // just over half: kept
      event(kIc, 0, 0.49, 0.31),  // under MediaPipe's visibility threshold
      // Toe-offs have a median of their own (0.12): 0.10 is not weak beside them.
      event(kTo, 0, 0.9, 0.12), event(kTo, 0, 0.9, 0.13), event(kTo, 0, 0.9, 0.10),
      // A second pass of small steps is judged against itself, and two events are too few
      // for a typical value: only visibility can mark them.
      event(kIc, 1, 0.9, 0.05), event(kIc, 1, 0.9, 0.01)};
  judge_event_confidence(events, KeypointGaitConfig{});
  std::vector<bool> low;
  for (const FootEvent& e : events) low.push_back(e.low_confidence);
  EXPECT_EQ(
      low, (std::vector<bool>{false, false, true, false, true, false, false, false, false, false}));
}

TEST(EventConfidence, ProminenceIsTheRiseAboveTheHigherOfTheTwoValleys) {
  const Series v = {0.0, 0.1, 0.5, 0.2, 0.3, 0.9, 0.4, 0.1, 0.6};
  EXPECT_NEAR(prominence(v, 2, 2), 0.5 - 0.2, 1e-12);  // the right valley is the higher
  // The search stops at a higher point: the valley of 0.1 beyond the 0.9 is not this peak's.
  EXPECT_NEAR(prominence(v, 2, 6), 0.5 - 0.2, 1e-12);
  EXPECT_NEAR(prominence(v, 5, 1), 0.9 - 0.4, 1e-12);
  EXPECT_NEAR(prominence(v, 5, 3), 0.9 - 0.2, 1e-12);
  // A trough, as toe-offs are: the depth below the lower of the two surrounding crests.
  EXPECT_NEAR(prominence(v, 3, 1, -1), 0.3 - 0.2, 1e-12);
  // At the start of the series the left side is cut short: the right valley alone testifies
  // (0.5 - 0.1, not 0.5 - 0.45 from the one sample before the peak).
  const Series start = {0.45, 0.5, 0.3, 0.1, 0.2};
  EXPECT_NEAR(prominence(start, 1, 3), 0.5 - 0.1, 1e-12);
  // Both cut short: the higher of the two.
  EXPECT_NEAR(prominence(Series{0.2, 0.5, 0.3}, 1, 4), 0.5 - 0.3, 1e-12);
  EXPECT_EQ(prominence(v, 99, 2), 0);
}

TEST(EventConfidence, EventsInTheResultsCarryTheirEvidence) {
  FootEvent e;
  e.foot = Foot::kRight;
  e.type = FootEventType::kToeOff;
  e.frame = 109;
  e.time_s = 3.63349;
  e.visibility = 0.4567;
  e.prominence_body_heights = 0.12345;
  e.low_confidence = true;
  e.phase = GaitPhase::kTermination;
  EXPECT_EQ(to_json(e).dump(),
            R"({"foot":"right","type":"toe_off","frame":109,"time_s":3.633,"visibility":0.46,)"
            R"("prominence_body_heights":0.123,"low_confidence":true,"phase":"termination"})");
}

constexpr const char* kKevin1 = "videos/side_gaitcdio_4markerskevin1.mp4";

KeypointGait detect(const std::vector<PoseFrame>& poses, double fps) {
  return detect_keypoint_gait(poses, fps);
}

// The contact of `foot` nearest the middle of the walk.
const FootEvent* middle_contact(const KeypointGait& g) {
  std::vector<const FootEvent*> contacts;
  for (const FootEvent& e : g.events) {
    if (e.type == FootEventType::kInitialContact) contacts.push_back(&e);
  }
  return contacts.empty() ? nullptr : contacts[contacts.size() / 2];
}

// Which of the model's sides is the event's foot at its frame: the side whose heel is ahead
// (a contact is the leading heel's).
int model_side_of_contact(const PoseFrame& f, const WalkingPass& pass) {
  const double direction = pass.direction == "left_to_right" ? 1 : -1;
  const auto& lm = f.landmarks;
  const float left = lm[blazepose::kSides[0].heel].x;
  const float right = lm[blazepose::kSides[1].heel].x;
  return (left - right) * direction >= 0 ? 0 : 1;
}

TEST(EventConfidence, Kevin1sContactsStandOnTheirEvidenceUntilTheFootIsHidden) {
  const testing::CachedPoses& clip = testing::cached_poses(shared_test_data(kKevin1));
  const KeypointGait original = detect(clip.poses, clip.fps);
  ASSERT_GE(original.events.size(), 8u);
  int low = 0;
  for (const FootEvent& e : original.events) {
    std::cout << e.frame << " " << to_string(e.foot) << " " << to_string(e.type) << " visibility "
              << e.visibility << " prominence " << e.prominence_body_heights
              << (e.low_confidence ? " LOW" : "") << "\n";
    EXPECT_GT(e.visibility, 0);
    EXPECT_LE(e.visibility, 1);
    EXPECT_GT(e.prominence_body_heights, 0);
    low += e.low_confidence ? 1 : 0;
  }
  // A tripod side view in daylight: its contacts and toe-offs stand on clear evidence.
  EXPECT_LE(low, 1);

  // The landing foot's landmarks made doubtful (visibility 0.45: still above the 0.4 at which a
  // frame is left out, so the event is still found) around one contact.
  const FootEvent* target = middle_contact(original);
  ASSERT_NE(target, nullptr);
  std::vector<PoseFrame> hidden = clip.poses;
  const PoseFrame& at = clip.poses[static_cast<std::size_t>(target->frame)];
  const int side = model_side_of_contact(at, original.passes[target->pass]);
  for (std::int64_t f = target->frame - 3; f <= target->frame + 3; ++f) {
    auto& lm = hidden[static_cast<std::size_t>(f)].landmarks;
    for (int k : {blazepose::kSides[side].ankle, blazepose::kSides[side].heel,
                  blazepose::kSides[side].foot_index}) {
      lm[static_cast<std::size_t>(k)].visibility = 0.45F;
    }
  }
  const KeypointGait doubted = detect(hidden, clip.fps);
  ASSERT_EQ(doubted.events.size(), original.events.size());
  for (std::size_t i = 0; i < doubted.events.size(); ++i) {
    const FootEvent& e = doubted.events[i];
    EXPECT_EQ(e.frame, original.events[i].frame);
    if (e.frame == target->frame && e.type == target->type) {
      EXPECT_TRUE(e.low_confidence) << "frame " << e.frame;
      EXPECT_NEAR(e.visibility, 0.45, 1e-6);
    } else if (std::abs(e.frame - target->frame) > 3) {
      EXPECT_EQ(e.low_confidence, original.events[i].low_confidence) << "frame " << e.frame;
    }
  }
}

}  // namespace
}  // namespace dancer::analysis

// Gait events from body keypoints on the shared walking videos, through the real path: the
// pose tracker on the decoded clip, then the events.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <vector>

#include "gait/gait_keypoints.h"
#include "pose/pose_tracker.h"
#include "support/test_support.h"

namespace dancer::analysis {
namespace {

using dancer::testing::shared_test_data;

void print(const std::string& name, const KeypointGait& g) {
  std::cout << name << ": " << g.passes.size() << " passes, cadence "
            << (g.cadence_steps_per_min ? std::to_string(*g.cadence_steps_per_min) : "null") << " ("
            << g.steps << " steps), low-visibility frames " << g.frames_low_visibility
            << ", warnings";
  for (const auto& w : g.warnings) std::cout << " " << w;
  std::cout << "\n";
  for (const auto& p : g.passes) {
    std::cout << "  pass " << p.first_frame << "-" << p.last_frame << " " << p.direction << " H "
              << p.body_height_px << " px, " << p.speed_body_heights_per_s << " H/s, near "
              << (p.near_camera ? to_string(*p.near_camera) : "?") << ", relabelled "
              << p.relabelled_frames << "\n";
  }
  for (const auto& e : g.events) {
    std::cout << "  " << e.frame << " " << to_string(e.foot) << " " << to_string(e.type) << "\n";
  }
}

// The tracker on the real clip, each frame handed to the events builder as it comes (the
// analyzer's streaming path; nothing but the compact samples is kept).
struct Tracked {
  std::vector<PoseFrame> frames;
  KeypointGait gait;
};

Tracked track_and_detect(const std::string& clip, PoseModelVariant variant) {
  PoseVideoOptions options;
  options.variant = variant;
  options.threads = 1;
  Tracked out;
  KeypointGaitBuilder builder;
  const auto summary =
      track_video_poses(shared_test_data("videos/" + clip), options, [&](const PoseFrame& f) {
        out.frames.push_back(f);  // kept only to perturb below
        builder.add(f);
      });
  out.gait = builder.finish(summary.info.fps);
  print(clip, out.gait);
  return out;
}

std::vector<const FootEvent*> of_type(const KeypointGait& g, FootEventType type) {
  std::vector<const FootEvent*> out;
  for (const auto& e : g.events) {
    if (e.type == type) out.push_back(&e);
  }
  return out;
}

// Contacts within each pass alternate between the feet, except across a gap of a missed one.
void expect_alternating_contacts(const KeypointGait& g) {
  const FootEvent* previous = nullptr;
  for (const auto* e : of_type(g, FootEventType::kInitialContact)) {
    if (previous != nullptr && previous->pass == e->pass && e->time_s - previous->time_s < 0.8) {
      EXPECT_NE(previous->foot, e->foot)
          << "contacts at frames " << previous->frame << " and " << e->frame;
    }
    previous = e;
  }
}

struct Label {
  std::string foot;
  std::string event;
  std::int64_t frame;
};

std::vector<Label> kevin1_labels() {
  std::ifstream in(shared_test_data("videos/gaitcdio_ground_truth_events.csv"));
  std::string line;
  std::getline(in, line);  // header: video,frame,time_s,foot,event
  std::vector<Label> out;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();  // CRLF line ends
    std::vector<std::string> cols;
    std::stringstream ss(line);
    std::string col;
    while (std::getline(ss, col, ',')) cols.push_back(col);
    if (cols.size() != 5 || cols[0] != "side_gaitcdio_4markerskevin1.mp4") continue;
    out.push_back({cols[3], cols[4], std::stoll(cols[1])});
  }
  return out;
}

TEST(KeypointGait, Kevin1EventsMatchTheHandLabels) {
  const auto labels = kevin1_labels();
  ASSERT_EQ(labels.size(), 13u);  // 7 contacts, 6 toe-offs
  // BlazePose full: the landmark model the service runs by default.
  const auto tracked =
      track_and_detect("side_gaitcdio_4markerskevin1.mp4", PoseModelVariant::kFull);
  const auto& g = tracked.gait;
  ASSERT_EQ(g.passes.size(), 1u);
  EXPECT_EQ(g.passes[0].direction, "left_to_right");
  // Walking to the image's right he shows the camera his right side.
  ASSERT_TRUE(g.passes[0].near_camera.has_value());
  EXPECT_EQ(*g.passes[0].near_camera, Foot::kRight);
  EXPECT_TRUE(g.warnings.empty());

  // Each labelled foot maps to one reported foot, for all its events.
  std::map<std::string, std::set<Foot>> mapping;
  int contacts_matched = 0;
  int toe_offs_matched = 0;
  for (const auto& label : labels) {
    const bool contact = label.event == "initial_contact";
    const int tolerance = contact ? 3 : 4;
    const FootEvent* best = nullptr;
    for (const auto* e :
         of_type(g, contact ? FootEventType::kInitialContact : FootEventType::kToeOff)) {
      if (std::abs(e->frame - label.frame) > tolerance) continue;
      if (best == nullptr ||
          std::abs(e->frame - label.frame) < std::abs(best->frame - label.frame)) {
        best = e;
      }
    }
    std::cout << label.foot << " " << label.event << " " << label.frame << ": "
              << (best ? std::to_string(best->frame - label.frame) + " frames, " +
                             to_string(best->foot)
                       : std::string("unmatched"))
              << "\n";
    if (best == nullptr) {
      EXPECT_FALSE(contact) << "labelled contact at frame " << label.frame << " unmatched";
      continue;
    }
    (contact ? contacts_matched : toe_offs_matched)++;
    mapping[label.foot].insert(best->foot);
  }
  EXPECT_EQ(contacts_matched, 7);
  EXPECT_GE(toe_offs_matched, 5);
  ASSERT_EQ(mapping.size(), 2u);
  EXPECT_EQ(mapping["left"].size(), 1u);
  EXPECT_EQ(mapping["right"].size(), 1u);
  EXPECT_NE(*mapping["left"].begin(), *mapping["right"].begin());
  // No contact or toe-off reported that the labels do not have (he is in view throughout).
  EXPECT_EQ(of_type(g, FootEventType::kInitialContact).size(), 7u);
  EXPECT_LE(of_type(g, FootEventType::kToeOff).size(), 6u);

  // Cadence against the labels' own, by the same method (120 / mean whole-stride time): the
  // labels' 7 alternating contacts hold 5 strides, each a contact to the same foot's next.
  std::vector<std::int64_t> contacts;
  for (const auto& label : labels) {
    if (label.event == "initial_contact") contacts.push_back(label.frame);
  }
  ASSERT_EQ(contacts.size(), 7u);
  std::sort(contacts.begin(), contacts.end());
  const double stride_frames =
      static_cast<double>(contacts[6] + contacts[5] - contacts[1] - contacts[0]) / 5;
  const double labelled_cadence = 120.0 / (stride_frames / 30.0);
  ASSERT_TRUE(g.cadence_steps_per_min.has_value());
  std::cout << "kevin1 cadence " << *g.cadence_steps_per_min << " vs labelled " << labelled_cadence
            << " steps/min\n";
  EXPECT_NEAR(*g.cadence_steps_per_min, labelled_cadence, 2.0);
  expect_alternating_contacts(g);

  // The events do not depend on the model's left/right labels: exchanging them on every third
  // frame (as BlazePose does around leg crossings) changes no event, and mirroring the video
  // reverses the direction and keeps every event's frame.
  auto swapped = tracked.frames;
  for (auto& f : swapped) {
    if (f.frame_index % 3 != 0) continue;
    for (int k = 23; k <= 32; k += 2) std::swap(f.landmarks[k], f.landmarks[k + 1]);
  }
  auto mirrored = tracked.frames;
  for (auto& f : mirrored) {
    for (auto& l : f.landmarks) l.x = 1920 - l.x;
  }
  for (const auto& [name, frames] : {std::pair{"swapped", swapped}, {"mirrored", mirrored}}) {
    const auto other = detect_keypoint_gait(frames, 30);
    ASSERT_EQ(other.events.size(), g.events.size()) << name;
    ASSERT_EQ(other.passes.size(), 1u) << name;
    for (std::size_t i = 0; i < g.events.size(); ++i) {
      EXPECT_EQ(other.events[i].frame, g.events[i].frame) << name;
      EXPECT_EQ(other.events[i].type, g.events[i].type) << name;
    }
  }
  // Frames whose hips are hidden are left out and counted, and no event is placed in them.
  auto hidden = tracked.frames;
  for (auto& f : hidden) {
    if (f.frame_index < 120 || f.frame_index > 124) continue;
    f.landmarks[23].visibility = 0.1f;
    f.landmarks[24].visibility = 0.1f;
  }
  const auto gap = detect_keypoint_gait(hidden, 30);
  EXPECT_EQ(gap.frames_low_visibility, g.frames_low_visibility + 5);
  EXPECT_EQ(gap.passes.size(), 2u);  // the walk on either side of the gap
  for (const auto& e : gap.events) {
    EXPECT_FALSE(e.frame >= 120 && e.frame <= 124) << e.frame;
  }
}

TEST(KeypointGait, FindsBothPassesOfTheGymClip) {
  // She walks right to left, turns at the left edge, and walks back backward, still facing
  // left (frames ~36-345).
  const auto tracked = track_and_detect("side_sports2d_demo4_gym.mp4", PoseModelVariant::kLite);
  const auto& g = tracked.gait;
  ASSERT_EQ(g.passes.size(), 2u);
  EXPECT_EQ(g.passes[0].direction, "right_to_left");
  EXPECT_EQ(g.passes[1].direction, "left_to_right");
  EXPECT_LT(g.passes[0].last_frame, g.passes[1].first_frame);
  EXPECT_FALSE(g.passes[0].backward);
  EXPECT_TRUE(g.passes[1].backward);
  // Facing left both times, she shows the camera her left side.
  EXPECT_EQ(g.passes[0].near_camera, Foot::kLeft);
  EXPECT_EQ(g.passes[1].near_camera, Foot::kLeft);
  for (const auto& p : g.passes) {
    ASSERT_TRUE(p.cadence_steps_per_min.has_value());
    EXPECT_GE(*p.cadence_steps_per_min, 90);
    EXPECT_LE(*p.cadence_steps_per_min, 130);
    EXPECT_GE(p.steps, 4);
  }
  ASSERT_TRUE(g.cadence_steps_per_min.has_value());
  EXPECT_GE(*g.cadence_steps_per_min, 90);
  EXPECT_LE(*g.cadence_steps_per_min, 130);
  EXPECT_EQ(g.warnings, std::vector<std::string>{"backward_walking"});
  expect_alternating_contacts(g);
  // She enters walking, stops at the left edge, starts again from standing and leaves walking:
  // the first pass ends in a termination, the second begins with an initiation.
  ASSERT_FALSE(g.passes[0].segments.empty());
  ASSERT_FALSE(g.passes[1].segments.empty());
  EXPECT_EQ(g.passes[0].segments.front().phase, GaitPhase::kSteady);
  EXPECT_EQ(g.passes[0].segments.back().phase, GaitPhase::kTermination);
  EXPECT_EQ(g.passes[1].segments.front().phase, GaitPhase::kInitiation);
  EXPECT_EQ(g.passes[1].segments.back().phase, GaitPhase::kSteady);
  std::map<GaitPhase, int> events_in;
  for (const auto& e : g.events) {
    ++events_in[e.phase];
    // Each event carries the phase of the segment it lies in.
    for (const auto& segment : g.passes[e.pass].segments) {
      if (e.time_s > segment.start_s && e.time_s < segment.end_s) {
        EXPECT_EQ(e.phase, segment.phase) << "event at frame " << e.frame;
      }
    }
  }
  // The labels (tests/data/gait_labels) put 2 events in her stop and 4 in her start.
  EXPECT_GE(events_in[GaitPhase::kTermination], 2);
  EXPECT_GE(events_in[GaitPhase::kInitiation], 2);
  EXPECT_GE(events_in[GaitPhase::kSteady], 20);
}

TEST(KeypointGait, OutdoorClipGivesItsOneStrideAndSaysSo) {
  // About one stride, right to left, at 59.7 frames/s (2.3 s).
  const auto tracked = track_and_detect("side_sarweshshah_outdoor.mp4", PoseModelVariant::kLite);
  const auto& g = tracked.gait;
  ASSERT_EQ(g.passes.size(), 1u);
  EXPECT_EQ(g.passes[0].direction, "right_to_left");
  const auto contacts = of_type(g, FootEventType::kInitialContact);
  ASSERT_GE(contacts.size(), 3u);  // a stride: contact, the other foot's, the first's again
  EXPECT_EQ(contacts[0]->foot, contacts[2]->foot);
  EXPECT_GE(of_type(g, FootEventType::kToeOff).size(), 2u);
  expect_alternating_contacts(g);
  ASSERT_TRUE(g.cadence_steps_per_min.has_value());
  EXPECT_GE(*g.cadence_steps_per_min, 80);
  EXPECT_LE(*g.cadence_steps_per_min, 130);
  EXPECT_NE(std::find(g.warnings.begin(), g.warnings.end(), "too_few_strides"), g.warnings.end());
}

TEST(KeypointGait, FrontViewGivesNoSagittalEvents) {
  // He walks toward the camera: the hips stand apart and the pelvis hardly moves sideways.
  const auto tracked =
      track_and_detect("front_assemblyai_walking_cane.mp4", PoseModelVariant::kLite);
  const auto& g = tracked.gait;
  EXPECT_GT(g.frames_with_person, 100);
  EXPECT_TRUE(g.passes.empty());
  EXPECT_TRUE(g.events.empty());
  EXPECT_FALSE(g.cadence_steps_per_min.has_value());
  EXPECT_EQ(g.warnings, std::vector<std::string>{"front_view"});
}

TEST(KeypointGait, EventsAndPassesInTheResultsShape) {
  const FootEvent event{Foot::kRight, FootEventType::kToeOff, 109, 3.63349, 0, {}};
  EXPECT_EQ(to_json(event).dump(),
            R"({"foot":"right","type":"toe_off","frame":109,"time_s":3.633,"visibility":0.0,)"
            R"("prominence_body_heights":0.0,"low_confidence":false,"phase":"steady"})");
  WalkingPass pass;
  pass.direction = "left_to_right";
  EXPECT_TRUE(to_json(pass)["near_camera"].is_null());
  EXPECT_TRUE(to_json(pass)["cadence_steps_per_min"].is_null());
  pass.near_camera = Foot::kLeft;
  pass.cadence_steps_per_min = 101.234;
  EXPECT_EQ(to_json(pass)["near_camera"], "left");
  EXPECT_EQ(to_json(pass)["cadence_steps_per_min"], 101.2);
}

TEST(KeypointGait, NobodyGivesNoPersonWarning) {
  std::vector<PoseFrame> frames(90);
  for (std::size_t i = 0; i < frames.size(); ++i)
    frames[i].frame_index = static_cast<std::int64_t>(i);
  const auto g = detect_keypoint_gait(frames, 30);
  EXPECT_EQ(g.frames, 90);
  EXPECT_TRUE(g.events.empty());
  EXPECT_EQ(g.warnings, std::vector<std::string>{"no_person"});
}

}  // namespace
}  // namespace dancer::analysis

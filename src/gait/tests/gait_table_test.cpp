// The spatio-temporal table: exact values from synthetic event sequences, and plausible values
// through the real path (pose tracker, events, table) on the shared walking videos.
#include <gtest/gtest.h>

#include <cmath>
#include <iostream>
#include <set>

#include "gait/gait_keypoints.h"
#include "gait/gait_table.h"
#include "pose/pose_tracker.h"
#include "support/test_support.h"

namespace dancer::analysis {
namespace {

using dancer::testing::shared_test_data;

constexpr double kTol = 1e-9;

FootEvent ic(Foot foot, double t, std::size_t pass, double step_length) {
  return {foot, FootEventType::kInitialContact, std::lround(t * 30), t, pass, step_length};
}
FootEvent to(Foot foot, double t, std::size_t pass) {
  return {foot, FootEventType::kToeOff, std::lround(t * 30), t, pass, std::nullopt};
}

void sort_events(KeypointGait& g) {
  std::sort(g.events.begin(), g.events.end(),
            [](const FootEvent& l, const FootEvent& r) { return l.time_s < r.time_s; });
}

WalkingPass pass_of(double start, double end, double speed) {
  WalkingPass p;
  p.start_s = start;
  p.end_s = end;
  p.speed_body_heights_per_s = speed;
  return p;
}

// A walk of 1.0 s strides: left contacts at k, right at k + right_step; the right toe leaves
// 0.1 s after each left contact, the left toe left_to s after it.
KeypointGait walk(int strides, double right_step, double left_to, double left_len,
                  double right_len) {
  KeypointGait g;
  for (int k = 0; k <= strides; ++k) {
    g.events.push_back(ic(Foot::kLeft, k, 0, left_len));
    if (k == strides) break;
    g.events.push_back(to(Foot::kRight, k + 0.1, 0));
    g.events.push_back(ic(Foot::kRight, k + right_step, 0, right_len));
    g.events.push_back(to(Foot::kLeft, k + left_to, 0));
  }
  g.passes.push_back(pass_of(0, strides, 0.8));
  sort_events(g);
  return g;
}

// Every other contact lost (a shaking camera): the contacts left still alternate in name and
// their intervals are all alike, so no interval looks long, but two toe-offs lie between each
// pair of them. No stride is measured rather than strides of two real ones.
TEST(GaitTable, EveryOtherContactMissingGivesNoStride) {
  KeypointGait g;
  for (int k = 0; k < 8; ++k) {
    const double t = 0.5 * k;  // the real contacts, every 0.5 s
    const Foot leaves = k % 2 == 0 ? Foot::kRight : Foot::kLeft;
    // Only every other contact seen, named alternately as the tracker would.
    if (k % 2 == 0) g.events.push_back(ic(k % 4 == 0 ? Foot::kLeft : Foot::kRight, t, 0, 0.4));
    g.events.push_back(to(leaves, t + 0.1, 0));
  }
  g.passes.push_back(pass_of(0, 4, 0.8));
  sort_events(g);
  const GaitTable table = build_gait_table(g);
  EXPECT_TRUE(table.strides.empty())
      << table.strides.size() << " strides, the first "
      << (table.strides.empty() ? 0 : table.strides[0].stride_time_s) << " s";

  // The same walk with every contact seen gives its 1 s strides.
  KeypointGait full;
  for (int k = 0; k < 8; ++k) {
    const double t = 0.5 * k;
    full.events.push_back(ic(k % 2 == 0 ? Foot::kLeft : Foot::kRight, t, 0, 0.4));
    full.events.push_back(to(k % 2 == 0 ? Foot::kRight : Foot::kLeft, t + 0.1, 0));
  }
  full.passes.push_back(pass_of(0, 4, 0.8));
  sort_events(full);
  const GaitTable ft = build_gait_table(full);
  ASSERT_FALSE(ft.strides.empty());
  EXPECT_NEAR(ft.strides[0].stride_time_s, 1.0, kTol);
}

TEST(GaitTable, SymmetricGaitGivesExactPhases) {
  // 1.0 s stride, 60 % stance, 10 % initial and 10 % terminal double support, 0.35 H steps.
  const auto table = build_gait_table(walk(4, 0.5, 0.6, 0.35, 0.35), 1.70);
  ASSERT_EQ(table.strides.size(), 7u);  // 4 left (0-4 s), 3 right (0.5-3.5 s)
  for (const Stride& s : table.strides) {
    EXPECT_NEAR(s.stride_time_s, 1.0, kTol);
    EXPECT_NEAR(*s.step_time_s, 0.5, kTol);
    EXPECT_NEAR(*s.stance_s, 0.6, kTol);
    EXPECT_NEAR(*s.swing_s, 0.4, kTol);
    EXPECT_NEAR(*s.initial_double_support_s, 0.1, kTol);
    EXPECT_NEAR(*s.terminal_double_support_s, 0.1, kTol);
    EXPECT_NEAR(*s.double_support_s, 0.2, kTol);
    EXPECT_NEAR(*s.single_support_s, 0.4, kTol);
    EXPECT_NEAR(*s.step_length_body_heights, 0.35, kTol);
    EXPECT_NEAR(*s.stride_length_body_heights, 0.70, kTol);
  }
  EXPECT_EQ(table.left.at("stride_time_s").n, 4);
  EXPECT_EQ(table.right.at("stride_time_s").n, 3);
  for (const SideSummary* side : {&table.left, &table.right}) {
    EXPECT_NEAR(*side->at("stance_pct").mean, 60, 1e-6);
    EXPECT_NEAR(*side->at("swing_pct").mean, 40, 1e-6);
    EXPECT_NEAR(*side->at("double_support_pct").mean, 20, 1e-6);
    EXPECT_NEAR(*side->at("single_support_pct").mean, 40, 1e-6);
    EXPECT_NEAR(*side->at("stance_s").sd, 0, 1e-9);
    EXPECT_NEAR(*side->at("stance_s").cv, 0, 1e-6);
  }
  EXPECT_NEAR(*table.symmetry_step_time, 0, 1e-6);
  EXPECT_NEAR(*table.symmetry_swing, 0, 1e-6);
  EXPECT_NEAR(*table.symmetry_step_length, 0, 1e-6);
  EXPECT_NEAR(*table.speed_body_heights_per_s, 0.8, kTol);
  EXPECT_TRUE(table.warnings.empty());

  const auto j = to_json(table);
  EXPECT_EQ(j["strides"].size(), 7u);
  EXPECT_EQ(j["strides"][0]["foot"], "left");
  EXPECT_EQ(j["strides"][0]["pass"], 0);
  EXPECT_EQ(j["strides"][0]["start_frame"], 0);
  EXPECT_EQ(j["strides"][0]["stance_pct"], 60.0);
  EXPECT_EQ(j["strides"][0]["step_length_m"], 0.595);  // 0.35 H of 1.70 m
  EXPECT_EQ(j["strides"][0]["stride_length_m"], 1.19);
  EXPECT_EQ(j["per_side"]["right"]["double_support_pct"]["mean"], 20.0);
  EXPECT_EQ(j["per_side"]["right"]["double_support_pct"]["n"], 3);
  EXPECT_EQ(j["per_side"]["left"]["step_length_m"]["mean"], 0.595);
  EXPECT_EQ(j["walking_speed"]["body_heights_per_s"], 0.8);
  EXPECT_EQ(j["walking_speed"]["m_per_s"], 1.36);
  EXPECT_EQ(j["symmetry"]["step_time"]["pct"], 0.0);
  EXPECT_EQ(j["symmetry"]["step_time"]["n_left"], 4);
  EXPECT_EQ(j["symmetry"]["step_time"]["n_right"], 3);
  EXPECT_EQ(j["walking_speed"]["passes"], 1);
  EXPECT_TRUE(j["cadence_steps_per_min"].is_null());  // the events' builder gave none
}

// Steady-state means: a walk of 8 strides whose first two seconds (initiation) have shorter,
// slower strides of 1.4 s; the means rest on the steady 1.0 s strides alone while each side
// keeps 3, and on every stride, with a warning, when too few remain.
TEST(GaitTable, MeansLeaveOutTheStridesOfInitiationAndTermination) {
  KeypointGait g = walk(8, 0.5, 0.6, 0.35, 0.35);
  // Slow the first two strides of each foot to 1.4 s: every event before 2 s is moved back
  // proportionally and marked as gait initiation; later events move by the 0.8 s added.
  for (FootEvent& e : g.events) {
    if (e.time_s < 2) {
      e.time_s *= 1.4;
      e.phase = GaitPhase::kInitiation;
    } else {
      e.time_s += 0.8;
    }
    e.frame = std::lround(e.time_s * 30);
  }
  g.passes[0].end_s = 8.8;
  const auto steady = build_gait_table(g);
  EXPECT_EQ(steady.means_over, "steady_strides");
  EXPECT_TRUE(steady.warnings.empty());
  int initiation = 0;
  for (const Stride& s : steady.strides) initiation += s.phase == GaitPhase::kInitiation;
  EXPECT_EQ(
      initiation,
      4);  // left 0-1.4, 1.4-2.8 (ends at a steady contact, starts in it); right 0.7-2.1, 2.1-3.3
  EXPECT_NEAR(*steady.left.at("stride_time_s").mean, 1.0, 1e-9);
  EXPECT_NEAR(*steady.right.at("stride_time_s").mean, 1.0, 1e-9);
  EXPECT_EQ(steady.left.at("stride_time_s").n, 6);
  const auto j = to_json(steady);
  EXPECT_EQ(j["means_over"], "steady_strides");
  EXPECT_EQ(j["strides"][0]["phase"], "initiation");
  EXPECT_EQ(j["strides"].back()["phase"], "steady");

  // Mark all but two strides per side as termination too: too few steady strides remain.
  KeypointGait short_walk = g;
  for (FootEvent& e : short_walk.events) {
    if (e.time_s > 5) e.phase = GaitPhase::kTermination;
  }
  const auto all = build_gait_table(short_walk);
  EXPECT_EQ(all.means_over, "all_strides");
  EXPECT_EQ(all.warnings, std::vector<std::string>{"start_stop_strides_in_means"});
  EXPECT_EQ(all.left.at("stride_time_s").n, 8);
  EXPECT_GT(*all.left.at("stride_time_s").mean, 1.0);
}

TEST(GaitTable, AsymmetricGaitGivesRobinsonIndices) {
  // Left steps 0.55 s and 0.40 H, right 0.45 s and 0.30 H; the left toe leaves 0.55 s after
  // the left contact.
  const auto table = build_gait_table(walk(4, 0.45, 0.55, 0.40, 0.30));
  const auto& l = table.left;
  const auto& r = table.right;
  EXPECT_NEAR(*l.at("step_time_s").mean, 0.55, 1e-9);
  EXPECT_NEAR(*r.at("step_time_s").mean, 0.45, 1e-9);
  EXPECT_NEAR(*l.at("stance_pct").mean, 55, 1e-6);
  EXPECT_NEAR(*r.at("stance_pct").mean, 65, 1e-6);  // 0.45 -> 1.10
  EXPECT_NEAR(*l.at("swing_s").mean, 0.45, 1e-9);
  EXPECT_NEAR(*r.at("swing_s").mean, 0.35, 1e-9);
  EXPECT_NEAR(*l.at("single_support_s").mean, 0.35, 1e-9);  // the right swing, 0.1 -> 0.45
  EXPECT_NEAR(*r.at("single_support_s").mean, 0.45, 1e-9);  // the left swing, 0.55 -> 1.0
  EXPECT_NEAR(*l.at("double_support_pct").mean, 20, 1e-6);
  EXPECT_NEAR(*r.at("double_support_pct").mean, 20, 1e-6);
  EXPECT_NEAR(*l.at("step_length_body_heights").mean, 0.40, 1e-9);
  EXPECT_NEAR(*r.at("step_length_body_heights").mean, 0.30, 1e-9);
  EXPECT_NEAR(*l.at("stride_length_body_heights").mean, 0.70, 1e-9);
  // Robinson: 100 |L - R| / (0.5 (L + R)).
  EXPECT_NEAR(*table.symmetry_step_time, 20, 1e-6);
  EXPECT_NEAR(*table.symmetry_swing, 25, 1e-6);
  EXPECT_NEAR(*table.symmetry_step_length, 100 * 0.1 / 0.35, 1e-6);
  EXPECT_EQ(to_json(table)["symmetry"]["swing_time"]["pct"], 25.0);
  // No subject height: lengths in metres are null, in body heights given.
  const auto j = to_json(table);
  EXPECT_TRUE(j["strides"][0]["step_length_m"].is_null());
  EXPECT_TRUE(j["walking_speed"]["m_per_s"].is_null());
  EXPECT_EQ(j["per_side"]["left"]["step_length_body_heights"]["mean"], 0.4);
}

TEST(GaitTable, MissedContactsAndPassBoundariesAreNotBridged) {
  auto g = walk(6, 0.5, 0.6, 0.35, 0.35);
  // The pose model missed the right contact at 2.5 s: the left stride 2-3 and the right
  // stride 1.5-3.5 have no measure; the others stay.
  std::erase_if(g.events, [](const FootEvent& e) {
    return e.foot == Foot::kRight && e.type == FootEventType::kInitialContact &&
           std::abs(e.time_s - 2.5) < 1e-9;
  });
  auto table = build_gait_table(g);
  EXPECT_EQ(table.strides.size(), 6u + 5u - 3u);  // left 0-6 less 2-3; right less 1.5-2.5, 2.5-3.5
  for (const Stride& s : table.strides) {
    EXPECT_NEAR(s.stride_time_s, 1.0, kTol) << s.start_s;
    EXPECT_FALSE(s.foot == Foot::kLeft && std::abs(s.start_s - 2) < 1e-9);
  }

  // Two contacts missed in a row (right 2.5 s, left 3 s) keep the alternation, but the steps
  // around them are twice the typical one: the left stride 2-4 and the right 1.5-3.5 are
  // not measured.
  g = walk(6, 0.5, 0.6, 0.35, 0.35);
  std::erase_if(g.events, [](const FootEvent& e) {
    return e.type == FootEventType::kInitialContact &&
           (std::abs(e.time_s - 2.5) < 1e-9 || std::abs(e.time_s - 3) < 1e-9);
  });
  table = build_gait_table(g);
  // Left 0-1, 1-2, 4-5, 5-6; right 0.5-1.5, 3.5-4.5, 4.5-5.5.
  EXPECT_EQ(table.strides.size(), 7u);
  for (const Stride& s : table.strides) EXPECT_NEAR(s.stride_time_s, 1.0, kTol) << s.start_s;

  // Two passes (0-2 s and 5-7 s): nothing from the end of the first to the second.
  KeypointGait two = walk(2, 0.5, 0.6, 0.35, 0.35);
  KeypointGait second = walk(2, 0.5, 0.6, 0.35, 0.35);
  for (FootEvent e : second.events) {
    e.time_s += 5;
    e.frame += 150;
    e.pass = 1;
    two.events.push_back(e);
  }
  two.passes.push_back(pass_of(5, 7, 0.8));
  table = build_gait_table(two);
  EXPECT_EQ(table.strides.size(), 6u);  // per pass: left 0-1, 1-2, right 0.5-1.5
  for (const Stride& s : table.strides) {
    EXPECT_NEAR(s.stride_time_s, 1.0, kTol);
    EXPECT_EQ(s.pass, s.start_s < 4 ? 0u : 1u);
  }
}

TEST(GaitTable, TooFewStridesGiveNullsAndAWarning) {
  // Two left strides, one right: below the minimum of three on either side.
  const auto table = build_gait_table(walk(2, 0.5, 0.6, 0.35, 0.35));
  EXPECT_EQ(table.strides.size(), 3u);
  EXPECT_EQ(table.warnings,
            (std::vector<std::string>{"too_few_strides_left", "too_few_strides_right"}));
  EXPECT_EQ(table.left.at("stance_pct").n, 2);
  EXPECT_FALSE(table.left.at("stance_pct").mean.has_value());
  EXPECT_FALSE(table.right.at("swing_s").mean.has_value());
  EXPECT_FALSE(table.symmetry_step_time.has_value());
  const auto j = to_json(table);
  EXPECT_TRUE(j["per_side"]["left"]["stance_pct"]["mean"].is_null());
  EXPECT_EQ(j["per_side"]["left"]["stance_pct"]["n"], 2);
  EXPECT_TRUE(j["symmetry"]["swing_time"]["pct"].is_null());
  // The strides themselves are still reported.
  EXPECT_EQ(j["strides"][0]["stance_pct"], 60.0);
  // A stride without its toe-offs keeps its time and has null phases.
  KeypointGait g = walk(1, 0.5, 0.6, 0.35, 0.35);
  std::erase_if(g.events, [](const FootEvent& e) { return e.type == FootEventType::kToeOff; });
  const auto bare = build_gait_table(g);
  ASSERT_EQ(bare.strides.size(), 1u);
  EXPECT_NEAR(bare.strides[0].stride_time_s, 1.0, kTol);
  EXPECT_FALSE(bare.strides[0].stance_s.has_value());
  EXPECT_TRUE(to_json(bare)["strides"][0]["stance_pct"].is_null());
}

GaitTable table_of(const std::string& clip, PoseModelVariant variant) {
  PoseVideoOptions options;
  options.variant = variant;
  options.threads = 1;
  KeypointGaitBuilder builder;
  const auto summary = track_video_poses(shared_test_data("videos/" + clip), options,
                                         [&](const PoseFrame& f) { builder.add(f); });
  const auto table = build_gait_table(builder.finish(summary.info.fps));
  std::cout << clip << ":\n" << to_json(table).dump(1) << "\n";
  return table;
}

// All strides' mean of a measure (both feet), for the clip-level targets.
double pooled(const GaitTable& t, const std::string& measure) {
  const auto& l = t.left.at(measure);
  const auto& r = t.right.at(measure);
  double sum = 0;
  int n = 0;
  for (const SideStat* s : {&l, &r}) {
    if (s->mean) {
      sum += *s->mean * s->n;
      n += s->n;
    }
  }
  return n > 0 ? sum / n : std::nan("");
}

TEST(GaitTable, GymClipStanceAndDoubleSupportInTheNormalRange) {
  const auto t = table_of("side_sports2d_demo4_gym.mp4", PoseModelVariant::kLite);
  const double stance = pooled(t, "stance_pct");
  const double double_support = pooled(t, "double_support_pct");
  std::cout << "gym stance " << stance << " %, double support " << double_support << " %\n";
  EXPECT_GE(stance, 55);
  EXPECT_LE(stance, 68);
  EXPECT_GE(double_support, 15);
  EXPECT_LE(double_support, 35);
  ASSERT_TRUE(t.cadence_steps_per_min.has_value());
  EXPECT_GE(*t.cadence_steps_per_min, 90);
  EXPECT_LE(*t.cadence_steps_per_min, 130);
  ASSERT_TRUE(t.speed_body_heights_per_s.has_value());
  EXPECT_GE(*t.speed_body_heights_per_s, 0.3);
  EXPECT_LE(*t.speed_body_heights_per_s, 1.2);
  // Both passes give strides on both feet, and none bridges a missed contact.
  std::set<std::pair<std::size_t, Foot>> pass_feet;
  std::set<std::size_t> passes;
  for (const Stride& s : t.strides) {
    passes.insert(s.pass);
    pass_feet.insert({s.pass, s.foot});
    EXPECT_GE(s.stride_time_s, 0.7) << s.start_frame;
    EXPECT_LE(s.stride_time_s, 1.5) << s.start_frame;
  }
  EXPECT_EQ(passes.size(), 2u);
  EXPECT_EQ(pass_feet.size(), 4u);
  // Lengths from the heels agree with the pelvis: stride length is the distance walked in a
  // stride, speed times stride time, to within the heels' and pelvis's estimation.
  const double stride_length = pooled(t, "stride_length_body_heights");
  const double walked = *t.speed_body_heights_per_s * pooled(t, "stride_time_s");
  std::cout << "gym stride length " << stride_length << " H, speed x stride time " << walked
            << " H\n";
  EXPECT_NEAR(stride_length, walked, 0.25 * walked);
}

TEST(GaitTable, Kevin1StanceAndSwingPerSide) {
  // One pass, 7 contacts and 6 toe-offs labelled; BlazePose full as the service runs it.
  const auto t = table_of("side_gaitcdio_4markerskevin1.mp4", PoseModelVariant::kFull);
  int with_phases[2] = {0, 0};
  for (const Stride& s : t.strides) {
    if (!s.stance_s) continue;
    ++with_phases[s.foot == Foot::kLeft ? 0 : 1];
    const double stance = 100 * *s.stance_s / s.stride_time_s;
    std::cout << "kevin1 " << to_string(s.foot) << " stride at frame " << s.start_frame
              << ": stance " << stance << " %, swing " << 100 - stance << " %\n";
    EXPECT_GE(stance, 55) << s.start_frame;
    EXPECT_LE(stance, 70) << s.start_frame;
    EXPECT_NEAR(*s.stance_s + *s.swing_s, s.stride_time_s, 1e-9);
  }
  // Fewer than three strides with phases on a side: its phases are null, and it says so.
  EXPECT_EQ(t.warnings.empty(), with_phases[0] >= 3 && with_phases[1] >= 3);
  // Each foot has a stride with its phases.
  EXPECT_GE(with_phases[0], 1);
  EXPECT_GE(with_phases[1], 1);
  for (const SideSummary* side : {&t.left, &t.right}) {
    const SideStat& stance = side->at("stance_pct");
    if (stance.mean) {
      EXPECT_GE(*stance.mean, 55);
      EXPECT_LE(*stance.mean, 70);
    } else {
      EXPECT_LT(stance.n, 3);  // null only below the minimum of strides
    }
  }
}

TEST(GaitTable, OutdoorOneStrideGivesItsStrideAndNoMeans) {
  // About one stride at 59.7 frames/s: the stride is listed, no side has a mean.
  const auto t = table_of("side_sarweshshah_outdoor.mp4", PoseModelVariant::kLite);
  ASSERT_GE(t.strides.size(), 1u);
  EXPECT_LE(t.strides.size(), 2u);
  for (const Stride& s : t.strides) {
    EXPECT_GE(s.stride_time_s, 0.7);
    EXPECT_LE(s.stride_time_s, 1.6);
  }
  EXPECT_EQ(t.warnings,
            (std::vector<std::string>{"too_few_strides_left", "too_few_strides_right"}));
  for (const SideSummary* side : {&t.left, &t.right}) {
    for (const SideStat& st : side->stats) {
      EXPECT_FALSE(st.mean.has_value());
      EXPECT_LT(st.n, 3);
    }
  }
  EXPECT_FALSE(t.symmetry_step_time.has_value());
  EXPECT_FALSE(t.symmetry_step_length.has_value());
}

}  // namespace
}  // namespace dancer::analysis

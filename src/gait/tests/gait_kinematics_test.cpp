// Sagittal joint angles: exact values from a synthetic stick figure with known angles, in both
// walking directions and through a left/right relabelling; cycle normalisation and peaks from
// known curves; nulls where the points are hidden or there is no pass.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "gait/gait_kinematics.h"

namespace dancer::analysis {
namespace {

constexpr double kFps = 30;
constexpr double kPi = std::numbers::pi;

struct LegAngles {
  double hip = 0, knee = 0, ankle = 0;  // degrees, clinical signs
};

// A smooth gait-like pattern over a 1 s cycle (phase in cycles): hip 20 +- 20, knee 30 +- 30,
// ankle 0 +- 10 degrees.
LegAngles pattern(double phase) {
  const double w = 2 * kPi * phase;
  return {20 * std::cos(w), 30 - 30 * std::cos(w), 10 * std::sin(w)};
}

double rad(double deg) { return deg * kPi / 180; }

// Places one leg's points (model side `side`) for the given angles, walking toward `forward`.
void place_leg(PoseFrame& f, int side, LegAngles a, double forward, double hip_x) {
  auto set = [&](int index, double x, double y) {
    f.landmarks[static_cast<std::size_t>(index)] = {static_cast<float>(x), static_cast<float>(y), 0,
                                                    1, 1};
  };
  const int hip = side == 0 ? 23 : 24, knee = side == 0 ? 25 : 26, ankle = side == 0 ? 27 : 28;
  const int heel = side == 0 ? 29 : 30, toe = side == 0 ? 31 : 32;
  // Directions from straight down, positive toward forward (the trunk is vertical).
  const double thigh = rad(a.hip);
  const double shank = rad(a.hip - a.knee);
  const double foot = rad(a.hip - a.knee + 90 + a.ankle);
  const double hx = hip_x, hy = 500;
  const double kx = hx + 200 * std::sin(thigh) * forward, ky = hy + 200 * std::cos(thigh);
  const double ax = kx + 200 * std::sin(shank) * forward, ay = ky + 200 * std::cos(shank);
  // The heel a little behind and below the ankle, along the foot's line.
  const double heel_x = ax - 20 * std::sin(foot) * forward, heel_y = ay - 20 * std::cos(foot) + 10;
  set(hip, hx, hy);
  set(knee, kx, ky);
  set(ankle, ax, ay);
  set(heel, heel_x, heel_y);
  set(toe, heel_x + 60 * std::sin(foot) * forward, heel_y + 60 * std::cos(foot));
}

PoseFrame frame_at(std::int64_t index, double forward, int left_model_side) {
  PoseFrame f;
  f.frame_index = index;
  f.time_s = static_cast<double>(index) / kFps;
  f.person = true;
  const double hip_x = 500 + forward * 100 * f.time_s;
  f.landmarks[11] = {static_cast<float>(hip_x), 200, 0, 1, 1};
  f.landmarks[12] = {static_cast<float>(hip_x), 200, 0, 1, 1};
  // The left leg leads the right by half a cycle.
  place_leg(f, left_model_side, pattern(f.time_s), forward, hip_x);
  place_leg(f, 1 - left_model_side, pattern(f.time_s + 0.5), forward, hip_x);
  return f;
}

struct Walk {
  KinematicsBuilder builder;
  KeypointGait gait;
  GaitTable table;
};

// `seconds` of walking in one pass, strides of 1 s per foot (left from 0 s, right from 0.5 s),
// toe-off at 60 % of each.
void make_walk(Walk& w, double forward, int left_model_side, int seconds) {
  const auto frames = static_cast<std::int64_t>(seconds * kFps) + 1;
  for (std::int64_t i = 0; i < frames; ++i) w.builder.add(frame_at(i, forward, left_model_side));
  WalkingPass pass;
  pass.first_frame = 0;
  pass.last_frame = frames - 1;
  pass.end_s = seconds;
  pass.direction = forward > 0 ? "left_to_right" : "right_to_left";
  pass.body_height_px = 1000;
  pass.model_side_of_left.assign(static_cast<std::size_t>(frames),
                                 static_cast<std::uint8_t>(left_model_side));
  w.gait.passes.push_back(pass);
  for (int k = 0; k + 1 <= seconds; ++k) {
    for (Foot foot : {Foot::kLeft, Foot::kRight}) {
      const double start = k + (foot == Foot::kLeft ? 0 : 0.5);
      if (start + 1 > seconds) continue;
      Stride s;
      s.foot = foot;
      s.start_frame = std::lround(start * kFps);
      s.end_frame = std::lround((start + 1) * kFps);
      s.start_s = start;
      s.stride_time_s = 1;
      s.stance_s = 0.6;
      w.table.strides.push_back(s);
    }
  }
}

TEST(GaitKinematics, PerFrameAnglesEqualTheStickFiguresInBothDirectionsAndThroughRelabelling) {
  for (double forward : {1.0, -1.0}) {
    for (int left_model_side : {0, 1}) {
      Walk w;
      make_walk(w, forward, left_model_side, 4);
      const auto k = w.builder.finish(w.gait, w.table, kFps);
      ASSERT_EQ(k.frames.size(), 121u);
      EXPECT_EQ(k.frames_with_angles, 121);
      for (std::size_t i = 0; i < k.frames.size(); ++i) {
        const double t = k.times_s[i];
        for (int named = 0; named < 2; ++named) {
          const LegAngles want = pattern(t + (named == 0 ? 0 : 0.5));
          const auto& got = k.angles[static_cast<std::size_t>(named)];
          ASSERT_TRUE(got[0][i] && got[1][i] && got[2][i]) << i;
          // 1 Hz curves through the 6 Hz zero-phase filter: within a fraction of a degree.
          EXPECT_NEAR(*got[0][i], want.hip, 0.5) << "hip " << named << " frame " << i;
          EXPECT_NEAR(*got[1][i], want.knee, 0.5) << "knee " << named << " frame " << i;
          EXPECT_NEAR(*got[2][i], want.ankle, 0.5) << "ankle " << named << " frame " << i;
          // The heel ahead of the mid-hip, in body heights along the walking direction.
          const PoseFrame f = frame_at(static_cast<std::int64_t>(i), forward, left_model_side);
          const int ms = named == 0 ? left_model_side : 1 - left_model_side;
          const double heel = f.landmarks[static_cast<std::size_t>(29 + ms)].x;
          const double hip = (f.landmarks[23].x + f.landmarks[24].x) / 2.0;
          ASSERT_TRUE(k.heel_ahead[static_cast<std::size_t>(named)][i]);
          EXPECT_NEAR(*k.heel_ahead[static_cast<std::size_t>(named)][i],
                      (heel - hip) * forward / 1000, 0.003)
              << "heel " << named << " frame " << i;
        }
      }
    }
  }
}

TEST(GaitKinematics, CyclesAreNormalisedToTheStrideWithPeaksPerPhase) {
  Walk w;
  make_walk(w, 1, 0, 5);
  const auto k = w.builder.finish(w.gait, w.table, kFps);
  EXPECT_EQ(k.left.cycles, 5);
  EXPECT_EQ(k.right.cycles, 4);
  for (const SideKinematics* side : {&k.left, &k.right}) {
    const CycleCurve& knee = side->curves[1];
    ASSERT_TRUE(knee.mean && knee.sd);
    for (int p = 0; p <= 100; p += 10) {
      // Each stride starts at its own contact, so every cycle is the pattern from phase 0.
      EXPECT_NEAR((*knee.mean)[static_cast<std::size_t>(p)], pattern(p / 100.0).knee, 0.6) << p;
      EXPECT_LT((*knee.sd)[static_cast<std::size_t>(p)], 0.3) << p;
    }
    auto peak = [&](const std::string& name) {
      const auto at = std::find(kPeakNames.begin(), kPeakNames.end(), name) - kPeakNames.begin();
      return side->peaks[static_cast<std::size_t>(at)];
    };
    // The knee pattern 30 - 30 cos: 60 at mid-cycle (in "stance" here, toe-off at 60 %), and in
    // swing (60-100 %) at most 30 - 30 cos(0.6 * 2 pi) = 54.3.
    EXPECT_NEAR(*peak("knee_rom").mean, 60, 0.6);
    EXPECT_NEAR(*peak("knee_flexion_swing_max").mean, 30 - 30 * std::cos(1.2 * kPi), 0.6);
    EXPECT_NEAR(*peak("knee_flexion_loading_max").mean, 30 - 30 * std::cos(0.6 * kPi), 0.6);
    EXPECT_NEAR(*peak("hip_flexion_max").mean, 20, 0.6);
    EXPECT_NEAR(*peak("hip_extension_max").mean, 20, 0.6);
    EXPECT_NEAR(*peak("ankle_plantarflexion_max").mean, 10, 0.6);
    EXPECT_NEAR(*peak("ankle_dorsiflexion_stance_max").mean, 10, 0.6);
    EXPECT_EQ(peak("knee_rom").n, side->cycles);
  }
}

TEST(GaitKinematics, AHiddenKneeDropsItsStridesAndTooFewGiveNulls) {
  Walk w;
  // Frames 20 to 40 (0.67 s to 1.33 s) hide the left knee: the left strides over them go.
  for (std::int64_t i = 0; i <= 150; ++i) {
    PoseFrame f = frame_at(i, 1, 0);
    if (i >= 20 && i <= 40) f.landmarks[25].visibility = 0.1f;
    w.builder.add(f);
  }
  Walk shape;
  make_walk(shape, 1, 0, 5);
  const auto k = w.builder.finish(shape.gait, shape.table, kFps);
  EXPECT_FALSE(k.angles[0][1][30].has_value());
  EXPECT_FALSE(k.angles[0][0][30].has_value());  // the hip needs the knee too
  EXPECT_FALSE(k.angles[0][2][30].has_value());  // and the ankle (the shank)
  EXPECT_TRUE(k.angles[1][1][30].has_value());   // the other leg does not
  EXPECT_EQ(k.left.cycles, 3);                   // strides from 0 s and 1 s are cut
  EXPECT_EQ(k.right.cycles, 4);

  // Two strides a side: below the minimum of three, curves and peaks are null, n still told.
  Walk shortw;
  make_walk(shortw, 1, 0, 2);
  const auto s = shortw.builder.finish(shortw.gait, shortw.table, kFps);
  EXPECT_EQ(s.left.cycles, 2);
  EXPECT_FALSE(s.left.curves[0].mean.has_value());
  EXPECT_FALSE(s.left.peaks[0].mean.has_value());
  EXPECT_EQ(s.left.peaks[0].n, 2);
  const auto j = to_json(s, KinematicsConfig{});
  EXPECT_TRUE(j["cycles"]["left"]["knee"]["mean"].is_null());
  EXPECT_EQ(j["peaks"]["left"]["knee_rom"]["n"], 2);
  EXPECT_EQ(j["per_frame"]["left"]["knee"].size(), 61u);
}

TEST(GaitKinematics, NoPassGivesNoAngles) {
  KinematicsBuilder builder;
  for (std::int64_t i = 0; i < 60; ++i) builder.add(frame_at(i, 1, 0));
  const auto k = builder.finish(KeypointGait{}, GaitTable{}, kFps);
  EXPECT_EQ(k.frames_with_angles, 0);
  EXPECT_EQ(k.left.cycles, 0);
  const auto j = to_json(k, KinematicsConfig{});
  EXPECT_TRUE(j["per_frame"].is_null());
  EXPECT_TRUE(j["cycles"]["right"]["hip"]["mean"].is_null());
  EXPECT_EQ(j["cycles"]["right"]["n"], 0);
  EXPECT_FALSE(j["limits"].get<std::string>().empty());
}

TEST(GaitKinematics, CycleCurvesHave101SamplesInTheJson) {
  Walk w;
  make_walk(w, -1, 1, 4);
  const auto j = to_json(w.builder.finish(w.gait, w.table, kFps), KinematicsConfig{});
  for (const char* side : {"left", "right"}) {
    for (const char* joint : {"hip", "knee", "ankle"}) {
      ASSERT_EQ(j["cycles"][side][joint]["mean"].size(), 101u) << side << joint;
      ASSERT_EQ(j["cycles"][side][joint]["sd"].size(), 101u) << side << joint;
    }
  }
}

}  // namespace
}  // namespace dancer::analysis

#include "silhouette/gait_events.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

namespace dancer::analysis {
namespace {

// Samples of a walker whose leg spread peaks every `step_s`, first peak at `first_peak_s`.
std::vector<GaitSample> periodic_walk(double fps, double seconds, double step_s,
                                      double first_peak_s) {
  std::vector<GaitSample> out;
  for (long i = 0; i < static_cast<long>(seconds * fps); ++i) {
    GaitSample s;
    s.time_s = static_cast<double>(i) / fps;
    s.frame = i;
    s.usable = true;
    s.body_height = 100;
    s.centre_x = 20 + 60 * s.time_s;  // 0.6 body heights per second, left to right
    s.spread = 30 + 20 * std::cos(2 * std::numbers::pi * (s.time_s - first_peak_s) / step_s);
    out.push_back(s);
  }
  return out;
}

TEST(GaitEvents, FindsOneStepPerPeriodAndTheStepTime) {
  const auto samples = periodic_walk(30, 6, 0.55, 0.3);
  const GaitEvents events = detect_gait_events(samples, 30);
  ASSERT_EQ(events.segments.size(), 1u);
  EXPECT_EQ(events.segments[0].direction, "left_to_right");
  EXPECT_NEAR(events.segments[0].step_period_s, 0.55, 0.02);
  ASSERT_TRUE(events.segments[0].speed_body_heights_per_s.has_value());
  EXPECT_NEAR(*events.segments[0].speed_body_heights_per_s, 0.6, 0.02);
  // Peaks at 0.3 + k*0.55 within (0, 6); the first has no rising flank in view.
  EXPECT_GE(events.steps.size(), 9u);
  EXPECT_LE(events.steps.size(), 11u);
  for (double interval : events.step_times_s) EXPECT_NEAR(interval, 0.55, 0.04);
  // On a cosine the heel-strike level sits just before each peak.
  for (const StepEvent& e : events.steps) {
    const double phase = std::fmod(e.time_s - 0.3 + 10 * 0.55, 0.55);
    const double before_peak = phase > 0.275 ? 0.55 - phase : -phase;
    EXPECT_GE(before_peak, 0.0);
    EXPECT_LT(before_peak, 0.12);
  }
}

TEST(GaitEvents, RightToLeftWalkIsRecognised) {
  auto samples = periodic_walk(25, 5, 0.7, 0.1);
  for (auto& s : samples) s.centre_x = 400 - 80 * s.time_s;
  const GaitEvents events = detect_gait_events(samples, 25);
  ASSERT_EQ(events.segments.size(), 1u);
  EXPECT_EQ(events.segments[0].direction, "right_to_left");
  EXPECT_NEAR(events.segments[0].step_period_s, 0.7, 0.03);
}

TEST(GaitEvents, StandingPersonYieldsNoSteps) {
  auto samples = periodic_walk(30, 5, 0.5, 0.1);
  for (auto& s : samples) s.centre_x = 200;  // spread wobbles but nobody moves
  const GaitEvents events = detect_gait_events(samples, 30);
  EXPECT_TRUE(events.segments.empty());
  EXPECT_TRUE(events.steps.empty());
  EXPECT_TRUE(events.step_times_s.empty());
}

TEST(GaitEvents, ShortOrUnusableRunsAreNotSegments) {
  auto samples = periodic_walk(30, 5, 0.5, 0.1);
  for (std::size_t i = 0; i < samples.size(); ++i) samples[i].usable = (i / 20) % 2 == 0;
  EXPECT_TRUE(detect_gait_events(samples, 30).segments.empty());
}

TEST(GaitEvents, StepStatisticsAndAlternateStepSymmetry) {
  EXPECT_FALSE(step_statistics({}).has_value());
  const auto s = step_statistics({0.5, 0.6, 0.5, 0.6});
  ASSERT_TRUE(s.has_value());
  EXPECT_NEAR(s->mean_s, 0.55, 1e-9);
  EXPECT_NEAR(s->sd_s, std::sqrt(4 * 0.05 * 0.05 / 3), 1e-9);
  EXPECT_NEAR(s->cv, s->sd_s / 0.55, 1e-9);
  ASSERT_TRUE(s->symmetry.has_value());
  EXPECT_NEAR(*s->symmetry, 0.5 / 0.6, 1e-9);
  EXPECT_NEAR(*step_statistics({0.5, 0.5, 0.5})->symmetry, 1.0, 1e-12);
}

}  // namespace
}  // namespace dancer::analysis

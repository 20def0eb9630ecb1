// The pose-gait analyzer end to end on the side-view clips of the hand-labelled development set
// (tests/data/gait_labels/events.csv: kevin1, the outdoor clip at 59.7 frames/s and the gym
// clip with its backward bout), scored as bench/gait/pose_gait_accuracy --dev-set scores them
// (tests/support/gait_label_scoring.h). The pooled figures are held with a margin: a real
// regression (a lost pass boundary, a bias of a frame, feet swapped in a pass) breaks them;
// the frame-to-frame jitter of a rebuilt model does not. The front-view clip gives no
// sagittal events by design (front_view) and is not scored here.
#include <gtest/gtest.h>

#include <cmath>
#include <iostream>
#include <map>

#include "analysis/pose_gait_analyzer.h"
#include "support/gait_label_scoring.h"
#include "support/test_support.h"

namespace dancer::analysis {
namespace {

using namespace dancer::testing;

// The pooled figures this test holds, each a little below what the method reached
// (bench/gait/DEV_SET_RESULTS.md: IC within 2 frames 25/27 = 93 %, TO within 3 frames 25/29 =
// 86 %, MAE 0.85 / 1.12 frames, signed -0.23 / -1.04 frames, 5 missed, 1 clip with 2 or more
// missed, no foot mismatch): one more missed contact or toe-off passes, two fail; a bias
// grown by a quarter of a frame fails.
constexpr double kIcWithinPct = 88;  // 24 of 27
constexpr double kToWithinPct = 82;  // 24 of 29
constexpr double kIcMae = 1.1;
constexpr double kToMae = 1.4;
constexpr double kIcBias = 0.5;
constexpr double kToBias = 1.3;
constexpr int kMisses = 6;
constexpr int kClipsMissingTwo = 1;  // the gym clip: entry, termination and the backward start
// Cadence from whole strides against the labels' whole strides: kevin1 is 2.1 steps/min off
// (its stride to the contact at 173, outside the labels, and 1-2 frame timing errors).
constexpr double kCadenceTolerance = 2.5;
// Walk phases (events[].phase) against the labels' context: 48 of 51 matched events agree;
// three more disagreeing fail.
constexpr int kPhaseDisagreements = 5;

TEST(GaitDevSet, PooledEventAccuracyOnTheLabelledSideViewClips) {
  const auto labels = read_gait_labels(test_data("gait_labels/events.csv"));
  ASSERT_EQ(labels.size(), 69u);
  std::map<std::string, std::vector<GaitLabel>> by_clip;
  for (const GaitLabel& l : labels) {
    if (l.side != "na") by_clip[l.video].push_back(l);
  }
  ASSERT_EQ(by_clip.size(), 3u);

  PoseGaitConfig config;
  config.pose.threads = 2;
  const auto analyzer = make_pose_gait_analyzer(config);
  ClipScore pooled;
  int clips_missing_two = 0;
  for (const auto& [clip, clip_labels] : by_clip) {
    AnalysisRequest request;
    request.video = shared_test_data("videos/" + clip);
    const nlohmann::json a = analyzer->analyze(request).analysis;
    std::optional<double> cadence;
    if (a["cadence_steps_per_min"].is_number()) cadence = a["cadence_steps_per_min"].get<double>();
    const ClipScore s =
        score_clip(clip_labels, a["events"], a["quality"]["fps"].get<double>(), cadence);
    std::cout << clip << ": IC within 2 " << s.ic.within << "/" << s.ic.labels << ", TO within 3 "
              << s.to.within << "/" << s.to.labels << ", MAE " << s.ic.mae() << " / " << s.to.mae()
              << ", signed " << s.ic.bias() << " / " << s.to.bias() << ", missed " << s.ic.misses
              << " / " << s.to.misses << ", extras " << s.extras << ", foot mismatches "
              << s.foot_mismatches << ", cadence "
              << (s.detected_cadence ? std::to_string(*s.detected_cadence) : "null")
              << " vs labels " << (s.label_cadence ? std::to_string(*s.label_cadence) : "null")
              << "\n";
    for (const MatchRow& r : s.rows) {
      std::cout << "  " << r.label.frame << " " << r.label.foot << " " << r.label.event << " -> "
                << (r.detected_frame ? std::to_string(*r.detected_frame) : "none") << " "
                << r.detected_foot << "\n";
    }
    pooled.ic.add(s.ic);
    pooled.to.add(s.to);
    pooled.extras += s.extras;
    pooled.foot_mismatches += s.foot_mismatches;
    pooled.phase_compared += s.phase_compared;
    pooled.phase_agree += s.phase_agree;
    if (s.ic.misses + s.to.misses >= 2) ++clips_missing_two;
    // Cadence from whole strides against the labels' whole strides, on every clip.
    ASSERT_TRUE(s.label_cadence.has_value()) << clip;
    ASSERT_TRUE(s.detected_cadence.has_value()) << clip;
    EXPECT_NEAR(*s.detected_cadence, *s.label_cadence, kCadenceTolerance) << clip;
  }
  std::cout << "pooled: IC within 2 " << pooled.ic.within_pct() << " %, TO within 3 "
            << pooled.to.within_pct() << " %, MAE " << pooled.ic.mae() << " / " << pooled.to.mae()
            << ", signed " << pooled.ic.bias() << " / " << pooled.to.bias() << ", missed "
            << pooled.ic.misses << " / " << pooled.to.misses << "\n";
  // The figures reached (bench/gait/DEV_SET_RESULTS.md), each with a margin.
  EXPECT_GE(pooled.ic.within_pct(), kIcWithinPct);
  EXPECT_GE(pooled.to.within_pct(), kToWithinPct);
  EXPECT_LE(pooled.ic.mae(), kIcMae);
  EXPECT_LE(pooled.to.mae(), kToMae);
  EXPECT_LE(std::abs(pooled.ic.bias()), kIcBias);
  EXPECT_LE(std::abs(pooled.to.bias()), kToBias);
  EXPECT_LE(pooled.ic.misses + pooled.to.misses, kMisses);
  EXPECT_LE(clips_missing_two, kClipsMissingTwo);
  EXPECT_EQ(pooled.foot_mismatches, 0);
  // Every matched event carries a phase, and they agree with the labels' context.
  EXPECT_EQ(pooled.phase_compared, pooled.ic.matched + pooled.to.matched);
  EXPECT_LE(pooled.phase_compared - pooled.phase_agree, kPhaseDisagreements);
}

}  // namespace
}  // namespace dancer::analysis

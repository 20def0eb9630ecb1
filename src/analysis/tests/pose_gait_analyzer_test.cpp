// The pose-gait analyzer end to end on real clips (in process; the service runs the same
// analyzer in its sandboxed child, see src/service/tests): the results contract's fields, the
// joint angles within the ranges of normal gait, and nulls with named warnings where the
// video cannot give sagittal numbers.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "analysis/pose_gait_analyzer.h"
#include "gait/gait_result.h"
#include "support/fhir_validator.h"
#include "support/results_schema.h"
#include "support/test_support.h"

namespace dancer::analysis {
namespace {

using dancer::testing::shared_test_data;
using dancer::testing::TempDir;

nlohmann::json analyse(const std::string& clip, const std::filesystem::path& report_dir = {}) {
  PoseGaitConfig config;
  config.pose.threads = 2;
  AnalysisRequest request;
  request.video = shared_test_data("videos/" + clip);
  request.report_dir = report_dir;
  const AnalysisResult result = make_pose_gait_analyzer(config)->analyze(request);
  nlohmann::json summary = result.analysis;
  summary["kinematics"].erase("per_frame");
  std::cout << clip << ":\n" << summary.dump(1) << "\n";
  // Every result is valid under the results contract (docs/results.schema.json).
  EXPECT_TRUE(dancer::testing::matches_analysis_schema(result.analysis));
  // A stored result reads back into the typed result it came from (to_json(from_json(a)) == a),
  // so re-rendering it gives what the analyzer wrote. Any difference, as a JSON Patch.
  EXPECT_EQ(nlohmann::json::diff(result.analysis, to_json(from_json(result.analysis))),
            nlohmann::json::array());
  return result.analysis;
}

bool has_warning(const nlohmann::json& a, const std::string& name) {
  const auto& w = a["quality"]["warnings"];
  return std::find(w.begin(), w.end(), name) != w.end();
}

// At an initial contact the landing leg reaches ahead of the body and the other trails (Perry:
// hip about 30 degrees flexed and 10 extended), so the landing leg's hip is the more flexed;
// walking backward the landing foot reaches behind and it is the less flexed. Holding at every
// contact means the angles' signs, the facing and each leg's name agree with the events.
void expect_landing_hip_leads(const nlohmann::json& a) {
  const auto& per_frame = a["kinematics"]["per_frame"];
  int checked = 0;
  for (const auto& e : a["events"]) {
    if (e["type"] != "initial_contact") continue;
    const std::int64_t f = e["frame"];
    const auto pass = std::find_if(a["passes"].begin(), a["passes"].end(), [&](const auto& p) {
      return p["first_frame"].template get<std::int64_t>() <= f &&
             f <= p["last_frame"].template get<std::int64_t>();
    });
    ASSERT_NE(pass, a["passes"].end()) << f;
    const std::string own = e["foot"];
    const std::string other = own == "left" ? "right" : "left";
    const auto& mine = per_frame[own]["hip"][static_cast<std::size_t>(f)];
    const auto& theirs = per_frame[other]["hip"][static_cast<std::size_t>(f)];
    if (mine.is_null() || theirs.is_null()) continue;
    const double lead = mine.get<double>() - theirs.get<double>();
    if ((*pass)["facing"] == "forward") {
      EXPECT_GT(lead, 0) << own << " contact at frame " << f;
    } else {
      EXPECT_LT(lead, 0) << own << " contact at frame " << f << " (backward)";
    }
    ++checked;
  }
  EXPECT_GE(checked, 3);
}

TEST(PoseGaitAnalyzer, Kevin1LegsAreNamedAsTheirEventsWithTheCycleOfNormalGait) {
  const nlohmann::json a = analyse("side_gaitcdio_4markerskevin1.mp4");
  expect_landing_hip_leads(a);
  // Three left strides: the curve starts flexed at contact and extends through stance
  // (Perry: hip about +30 at 0 %, about -10 at 50 %; knee nearly straight at contact, about
  // 60 flexed in swing near 70 %).
  const auto& left = a["kinematics"]["cycles"]["left"];
  ASSERT_EQ(left["n"], 3);
  const auto hip = left["hip"]["mean"].get<std::vector<double>>();
  const auto knee = left["knee"]["mean"].get<std::vector<double>>();
  EXPECT_GT(hip[0] - hip[50], 20);
  EXPECT_LT(knee[0], 15);
  EXPECT_GT(*std::max_element(knee.begin() + 60, knee.end()), 40);
}

TEST(PoseGaitAnalyzer, GymClipGivesTheContractWithAnglesOfNormalGait) {
  const auto dir = std::filesystem::temp_directory_path() / "pose_gait_gym_report";
  std::filesystem::remove_all(dir);
  const nlohmann::json a = analyse("side_sports2d_demo4_gym.mp4", dir);
  EXPECT_EQ(a["analyzer"]["name"], "pose-gait");
  EXPECT_EQ(a["analyzer"]["pose_model"], "blazepose-full");
  EXPECT_TRUE(a["person_detected"].get<bool>());
  for (const char* key : {"events", "passes", "strides", "per_side", "cadence_steps_per_min",
                          "walking_speed", "kinematics", "quality", "symmetry"}) {
    EXPECT_TRUE(a.contains(key)) << key;
  }
  // The second pass is walked backward (the walker faces the way she came): found, named and
  // warned about; the angles' "forward" is where she faces, so both passes give flexion.
  ASSERT_EQ(a["passes"].size(), 2u);
  EXPECT_EQ(a["passes"][0]["facing"], "forward");
  EXPECT_EQ(a["passes"][1]["facing"], "backward");
  EXPECT_TRUE(has_warning(a, "backward_walking"));
  expect_landing_hip_leads(a);

  const auto& k = a["kinematics"];
  const std::int64_t frames = a["frames_analyzed"];
  for (const char* side : {"left", "right"}) {
    for (const char* joint : {"hip", "knee", "ankle"}) {
      EXPECT_EQ(k["per_frame"][side][joint].size(), static_cast<std::size_t>(frames));
    }
    EXPECT_GE(k["cycles"][side]["n"].get<int>(), 3) << side;
    const auto& peaks = k["peaks"][side];
    // Normal gait (Perry and Burnfield, ch. 5-7): knee flexion about 60 degrees in swing, hip
    // about 40-45 degrees of motion, ankle about 30. Projected 2D angles of a pose model
    // read lower peaks, so the bounds are wide but exclude a sign error or a lost leg.
    EXPECT_GE(peaks["knee_flexion_swing_max"]["mean"].get<double>(), 35) << side;
    EXPECT_LE(peaks["knee_flexion_swing_max"]["mean"].get<double>(), 80) << side;
    EXPECT_GE(peaks["hip_rom"]["mean"].get<double>(), 25) << side;
    EXPECT_LE(peaks["hip_rom"]["mean"].get<double>(), 65) << side;
    EXPECT_GE(peaks["ankle_rom"]["mean"].get<double>(), 15) << side;
    EXPECT_LE(peaks["ankle_rom"]["mean"].get<double>(), 55) << side;
    // In swing the knee bends more than in loading response.
    EXPECT_GT(peaks["knee_flexion_swing_max"]["mean"].get<double>(),
              peaks["knee_flexion_loading_max"]["mean"].get<double>())
        << side;
    EXPECT_EQ(k["cycles"][side]["knee"]["mean"].size(), 101u);
  }
  EXPECT_FALSE(k["limits"].get<std::string>().empty());
  // The report is written beside.
  EXPECT_GT(std::filesystem::file_size(dir / "report.html"), 1000u);
  std::filesystem::remove_all(dir);
}

TEST(PoseGaitAnalyzer, FrontViewGivesTimingButNoSagittalNumbers) {
  // He walks toward the camera: the steps are timed from the front (gait/frontal_events.h), and
  // what a front view cannot give (lengths, speed, sagittal angles) stays null.
  const nlohmann::json a = analyse("front_assemblyai_walking_cane.mp4");
  EXPECT_TRUE(dancer::testing::matches_analysis_schema(a));
  EXPECT_TRUE(a["person_detected"].get<bool>());
  EXPECT_FALSE(has_warning(a, "front_view"));
  EXPECT_TRUE(has_warning(a, "frontal_view_timing_only"));
  ASSERT_EQ(a["passes"].size(), 1u);
  EXPECT_EQ(a["passes"][0]["view"], "front");
  EXPECT_EQ(a["passes"][0]["direction"], "toward_camera");
  EXPECT_TRUE(a["passes"][0]["speed_body_heights_per_s"].is_null());
  EXPECT_EQ(a["passes"][0]["not_reported"]["walking_speed"], "needs_depth_scale");
  EXPECT_FALSE(a["events"].empty());
  ASSERT_FALSE(a["strides"].empty());
  EXPECT_TRUE(a["cadence_steps_per_min"].is_number());
  for (const auto& s : a["strides"]) {
    EXPECT_GT(s["stride_time_s"].get<double>(), 0);
    EXPECT_TRUE(s["stance_pct"].is_null());
    EXPECT_TRUE(s["step_length_body_heights"].is_null());
    EXPECT_TRUE(s["stride_length_body_heights"].is_null());
  }
  EXPECT_TRUE(a["walking_speed"]["body_heights_per_s"].is_null());
  EXPECT_EQ(a["walking_speed"]["passes"], 0);
  EXPECT_TRUE(a["kinematics"]["per_frame"].is_null());
  for (const char* side : {"left", "right"}) {
    EXPECT_EQ(a["kinematics"]["cycles"][side]["n"], 0);
    EXPECT_TRUE(a["kinematics"]["cycles"][side]["knee"]["mean"].is_null());
    EXPECT_TRUE(a["per_side"][side]["step_length_body_heights"]["mean"].is_null());
  }
}

TEST(PoseGaitAnalyzer, SubjectHeightScalesLengthsToMetres) {
  PoseGaitConfig config;
  config.pose.threads = 2;
  AnalysisRequest request;
  request.video = shared_test_data("videos/side_sarweshshah_outdoor.mp4");
  request.subject_height_m = 1.75;
  const nlohmann::json a = make_pose_gait_analyzer(config)->analyze(request).analysis;
  EXPECT_TRUE(dancer::testing::matches_analysis_schema(a));
  expect_landing_hip_leads(a);
  EXPECT_EQ(a["subject_height_m"], 1.75);
  EXPECT_TRUE(has_warning(a, "too_few_strides"));
  ASSERT_FALSE(a["strides"].empty());
  for (const auto& s : a["strides"]) {
    if (s["step_length_body_heights"].is_null()) continue;
    EXPECT_NEAR(s["step_length_m"].get<double>(),
                s["step_length_body_heights"].get<double>() * 1.75, 0.002);
  }
  EXPECT_NEAR(a["walking_speed"]["m_per_s"].get<double>(),
              a["walking_speed"]["body_heights_per_s"].get<double>() * 1.75, 0.002);
}

TEST(PoseGaitAnalyzer, UploadersTextFhirCannotTakeIsLeftOutOfTheBundle) {
  // A creation time with month 13 (a container may carry any tag) and a Content-Type with a
  // tab: FHIR accepts neither, and the job still gets a valid bundle, without them.
  TempDir dir;
  const auto video = dir.path() / "tiny.mp4";
  ASSERT_EQ(dancer::testing::run_command(
                "ffmpeg -v error -y -f lavfi -i testsrc2=size=160x120:rate=30 -t 1 -c:v "
                "libx264 -pix_fmt yuv420p " +
                dancer::testing::shell_quote(video.string()))
                .exit_code,
            0);
  PoseGaitConfig config;
  config.pose.variant = PoseModelVariant::kLite;
  AnalysisRequest request;
  request.video = video;
  request.metadata = {{"format", {{"tags", {{"creation_time", "2024-13-01T00:00:00Z"}}}}}};
  request.report_dir = dir.path() / "out";
  request.artifacts = {kStridesArtifact.name, kFhirArtifact.name};
  request.job = {"7", "uploads/tiny.mp4", "s3://b/uploads/tiny.mp4", "video/mp4;\tcodecs=avc1"};
  const AnalysisResult result = make_pose_gait_analyzer(config)->analyze(request);
  EXPECT_EQ(result.outputs_written,
            (std::vector<std::string>{"report.html", "strides.csv", "fhir.json"}));
  const auto bundle =
      nlohmann::json::parse(dancer::testing::read_file(dir.path() / "out" / "fhir.json"));
  EXPECT_TRUE(dancer::testing::matches_fhir_r4(bundle));
  for (const auto& entry : bundle["entry"]) {
    const auto& resource = entry["resource"];
    EXPECT_FALSE(resource.contains("effectiveDateTime")) << resource["resourceType"];
    if (resource["resourceType"] == "Media") {
      EXPECT_EQ(resource["content"]["contentType"], "application/octet-stream");
    }
  }
}

}  // namespace
}  // namespace dancer::analysis

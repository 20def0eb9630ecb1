#include "analysis/pose_gait_analyzer.h"

#include <chrono>
#include <cmath>

#include "analysis/gait_report.h"
#include "analysis/json_number.h"
#include "analysis/pose_model.h"

namespace dancer::analysis {
namespace {

class PoseGaitAnalyzer final : public Analyzer {
 public:
  explicit PoseGaitAnalyzer(PoseGaitConfig config) : config_(std::move(config)) {}
  std::string name() const override { return kPoseGaitAnalyzerName; }
  std::string version() const override { return kPoseGaitAnalyzerVersion; }
  AnalysisResult analyze(const AnalysisRequest& request) override;

 private:
  PoseGaitConfig config_;
};

AnalysisResult PoseGaitAnalyzer::analyze(const AnalysisRequest& request) {
  const auto started = std::chrono::steady_clock::now();
  KeypointGaitBuilder events(config_.events);
  KinematicsBuilder kinematics(config_.kinematics);
  PoseVideoSummary summary;
  try {
    summary = track_video_poses(request.video, config_.pose, [&](const PoseFrame& frame) {
      if (request.cancel != nullptr && request.cancel->load()) {
        throw AnalysisError(AnalysisErrorCode::kCancelled, "analysis cancelled by shutdown");
      }
      events.add(frame);
      kinematics.add(frame);
    });
  } catch (const PoseModelError& e) {
    // A missing or unreadable model is this machine's fault, not the video's.
    throw AnalysisError(AnalysisErrorCode::kInternal, e.what());
  }
  const media::VideoStreamInfo& info = summary.info;
  if (!(info.fps > 0)) {
    throw AnalysisError(AnalysisErrorCode::kInvalidInput, "the video has no frame rate");
  }
  const KeypointGait gait = events.finish(info.fps);
  const GaitTable table = build_gait_table(gait, request.subject_height_m, config_.table);
  const GaitKinematics angles = kinematics.finish(gait, table, info.fps);

  std::vector<std::string> warnings = gait.warnings;
  // The table's per-side warnings add to the gait's only where there was a pass to measure.
  if (!gait.passes.empty()) {
    warnings.insert(warnings.end(), table.warnings.begin(), table.warnings.end());
  }
  if (info.fps < config_.min_fps) warnings.emplace_back("low_frame_rate");

  nlohmann::ordered_json a;
  a["analyzer"] = {{"name", kPoseGaitAnalyzerName},
                   {"version", kPoseGaitAnalyzerVersion},
                   {"pose_model", "blazepose-" + std::string(to_string(config_.pose.variant))},
                   {"model_source", kPoseModelSource}};
  a["person_detected"] = gait.frames_with_person > 0;
  a["frames_analyzed"] = summary.frames;
  auto passes = nlohmann::ordered_json::array();
  for (const WalkingPass& p : gait.passes) passes.push_back(to_json(p));
  a["passes"] = passes;
  auto event_list = nlohmann::ordered_json::array();
  for (const FootEvent& e : gait.events) event_list.push_back(to_json(e));
  a["events"] = event_list;
  nlohmann::ordered_json spatio_temporal = to_json(table);
  spatio_temporal.erase("warnings");
  for (auto& [key, value] : spatio_temporal.items()) a[key] = value;
  a["kinematics"] = to_json(angles, config_.kinematics);
  a["quality"] = {{"warnings", warnings},
                  {"frames", gait.frames},
                  {"frames_with_person", gait.frames_with_person},
                  {"frames_low_visibility", gait.frames_low_visibility},
                  {"frames_with_angles", angles.frames_with_angles},
                  {"fps", json_number(info.fps)},
                  {"duration_s", json_number(info.duration_s)},
                  {"resolution", {{"width", info.width}, {"height", info.height}}},
                  {"rotation_degrees", info.rotation_degrees},
                  {"steps", gait.steps},
                  {"strides", static_cast<int>(table.strides.size())},
                  {"detector_runs", summary.detector_runs},
                  {"walker_switches", summary.walker_switches}};
  a["processing_time_s"] = json_number(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());

  AnalysisResult result;
  result.analysis = nlohmann::json::parse(a.dump());
  DirectoryOutputs directory(request.report_dir);
  OutputFiles* outputs = request.outputs != nullptr    ? request.outputs
                         : !request.report_dir.empty() ? &directory
                                                       : nullptr;
  if (outputs != nullptr && outputs->accepts("report.html")) {
    // The knee angle of the left leg over time, with the events, until the clinical report.
    std::vector<double> knee;
    for (const auto& v : angles.angles[0][1]) knee.push_back(v ? *v : std::nan(""));
    nlohmann::json report_view = result.analysis;
    report_view["step_events"] = nlohmann::json::array();
    for (const FootEvent& e : gait.events) {
      if (e.type == FootEventType::kInitialContact) {
        report_view["step_events"].push_back({{"time_s", e.time_s}, {"frame", e.frame}});
      }
    }
    outputs->write("report.html",
                   render_gait_report(report_view, request.metadata, angles.times_s, knee, {}));
    result.outputs_written.push_back("report.html");
    if (outputs == &directory) {
      result.report_path = request.report_dir / "report.html";
      result.artifacts.push_back(*result.report_path);
    }
  }
  return result;
}

}  // namespace

std::unique_ptr<Analyzer> make_pose_gait_analyzer(PoseGaitConfig config) {
  return std::make_unique<PoseGaitAnalyzer>(std::move(config));
}

}  // namespace dancer::analysis

#include "gait/gait_result.h"

#include <algorithm>

#include "common/json_number.h"

namespace dancer::analysis {

GaitTable reported_table(const GaitResult& result) {
  return without_measures(result.table, withheld_measures(result.checks).keys);
}

std::vector<std::string> quality_warnings(const GaitResult& result) {
  std::vector<std::string> out = result.warnings;
  const auto add = [&](const std::vector<std::string>& names) {
    for (const std::string& name : names) {
      if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
    }
  };
  add(withheld_measures(result.checks).warnings);
  add(result.render_warnings);
  return out;
}

nlohmann::json to_json(const GaitResult& r) {
  const media::VideoStreamInfo& info = r.video.info;
  nlohmann::ordered_json a;
  a["analyzer"] = {{"name", r.analyzer.name},
                   {"version", r.analyzer.version},
                   {"pose_model", r.analyzer.pose_model},
                   {"model_source", r.analyzer.model_source}};
  a["person_detected"] = r.gait.frames_with_person > 0;
  a["frames_analyzed"] = r.video.frames;
  auto passes = nlohmann::ordered_json::array();
  for (const WalkingPass& p : r.gait.passes) passes.push_back(to_json(p));
  a["passes"] = passes;
  auto event_list = nlohmann::ordered_json::array();
  for (const FootEvent& e : r.gait.events) event_list.push_back(to_json(e));
  a["events"] = event_list;
  nlohmann::ordered_json spatio_temporal = to_json(reported_table(r));
  spatio_temporal.erase("warnings");
  for (auto& [key, value] : spatio_temporal.items()) a[key] = value;
  a["kinematics"] = to_json(r.angles, r.kinematics_config);
  a["quality"] = {{"warnings", quality_warnings(r)},
                  {"frames", r.gait.frames},
                  {"frames_with_person", r.gait.frames_with_person},
                  {"frames_low_visibility", r.gait.frames_low_visibility},
                  {"frames_with_angles", r.angles.frames_with_angles},
                  {"fps", common::json_number(info.fps)},
                  {"stream_fps", common::json_number(info.stream_fps)},
                  {"frames_skipped_non_monotonic", r.video.non_monotonic_frames},
                  {"frames_skipped_sampling", r.video.sampled_out_frames},
                  {"duration_s", common::json_number(info.duration_s)},
                  {"resolution", {{"width", info.width}, {"height", info.height}}},
                  {"rotation_degrees", info.rotation_degrees},
                  {"steps", r.gait.steps},
                  {"strides", static_cast<int>(r.table.strides.size())},
                  {"detector_runs", r.video.detector_runs},
                  {"walker_switches", r.video.walker_switches}};
  // The named checks; a failing one's withheld measures are null above, and named.
  a["quality"]["checks"] = to_json(r.checks);
  a["quality"]["camera_motion"] = to_json(r.camera, r.camera_judgement);
  a["processing_time_s"] = common::json_number(r.processing_time_s);
  return nlohmann::json(a);
}

}  // namespace dancer::analysis

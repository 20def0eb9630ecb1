// One pose-gait analysis, typed: what the gait stages produced from a video's keypoints (the
// events with the signals they were found in, the stride table, the joint angles, the
// recording's checks and the camera's motion) before anything is written. to_json gives the
// results contract's `analysis` object (docs/results.md); the analyzer renders the report and
// the exports from that once, without reading its own output back.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gait/gait_keypoints.h"
#include "gait/gait_kinematics.h"
#include "gait/gait_table.h"
#include "gait/recording_quality.h"
#include "pose/camera_motion.h"
#include "pose/pose_tracker.h"

namespace dancer::analysis {

// Who made the result: the contract's `analyzer` object.
struct AnalyzerIdentity {
  std::string name;
  std::string version;
  std::string pose_model;    // "blazepose-full"
  std::string model_source;  // the npm package the model came from
};

struct GaitResult {
  AnalyzerIdentity analyzer;
  PoseVideoSummary video;  // what the tracking pass decoded
  KeypointGait gait;       // passes and events, in the scene's frame when compensated
  GaitTable table;
  GaitKinematics angles;  // and heel_ahead, the signal the side-view events come from
  KinematicsConfig kinematics_config;
  std::vector<QualityCheck> checks;
  CameraMotion camera;
  CameraJudgement camera_judgement;
  // The gait's and the table's warnings and the caller's; the failing checks add theirs.
  std::vector<std::string> warnings;
  double processing_time_s = 0;
};

// The results contract's `analysis` object, with the measures a failing check withholds made
// null and named (withhold_measures).
nlohmann::json to_json(const GaitResult& result);

}  // namespace dancer::analysis

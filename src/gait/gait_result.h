// One pose-gait analysis, typed: what the gait stages produced from a video's keypoints (the
// events with the signals they were found in, the stride table, the joint angles, the
// recording's checks and the camera's motion) before anything is written. to_json gives the
// results contract's `analysis` object (docs/results.md); the analyzer renders the report and
// the exports from that once, without reading its own output back.
#pragma once

#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gait/gait_keypoints.h"
#include "gait/gait_kinematics.h"
#include "gait/gait_table.h"
#include "gait/measures.h"
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
  // Conditions of the render pass ("overlay_failed"), named after the checks' warnings.
  std::vector<std::string> render_warnings;
  double processing_time_s = 0;
};

// The table as it is reported: what the failing checks withhold (withheld_measures) made null.
// What to_json and every writer read.
GaitTable reported_table(const GaitResult& result);

// quality.warnings: the result's warnings, then the failing checks' (withheld_measures) and the
// render pass's not already named, each once.
std::vector<std::string> quality_warnings(const GaitResult& result);

// The results contract's `analysis` object, with the measures a failing check withholds made
// null and named.
nlohmann::json to_json(const GaitResult& result);

// The analysis is not a pose-gait `analysis` object as to_json writes it: a field missing or of
// the wrong type or value. The message names the field ("analysis.strides[2].foot: ...").
class AnalysisJsonError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// A stored `analysis` object read back (gait_result_json.cpp), for the writers to render it
// again: to_json(from_json(to_json(r))) == to_json(r), and the report, CSV and FHIR bundle of
// from_json(j) are those of the result j came from. What to_json does not write is not
// recovered and keeps its default: the video's coded size, frame count and codec, the events'
// step lengths (the strides carry them), each pass's model_side_of_left and summed stride time,
// the heel-ahead signals (ReportSignals carry them to the report), the per-frame camera fits,
// the kinematics configuration but its low-pass frequency, the table's own warnings (they are
// among quality.warnings, which all go to `warnings`), and CameraJudgement's measurable and
// moved. Each Stride's `measures` are the JSON's (rounded) values; its named fields are those
// values too. Fields added to the contract after 1.0 (passes' view and segments, events'
// visibility, prominence, low_confidence and phase, cadence_method, quality's stream_fps,
// frames_skipped_*, checks and camera_motion) may be absent and take their defaults. `catalogue`:
// the measures the strides and per_side carry (every key must be there). Throws AnalysisJsonError.
GaitResult from_json(const nlohmann::json& analysis,
                     std::span<const StrideMeasure> catalogue = stride_measures());

}  // namespace dancer::analysis

// "silhouette-gait": classical gait analysis from a static camera without a neural network.
// A sliding-median background model gives the walker's silhouette; the periodic spread of
// the legs (BenAbdelkader, Cutler & Davis, 2002) gives the steps; the silhouette height is
// the ruler for speed and step length.
#pragma once

#include <memory>

#include "analysis/analyzer.h"
#include "silhouette/gait_events.h"

namespace dancer::analysis {

struct GaitConfig {
  static constexpr int kAnalysisWidth = 320;               // px; frames are scaled once to this
  static constexpr double kMinFps = 15;                    // below: warning "low_frame_rate"
  static constexpr int kMinShortSidePx = 240;              // below: warning "low_resolution"
  static constexpr double kDarkMeanLuma = 40;              // below: warning "too_dark"
  static constexpr double kBrightMeanLuma = 215;           // above: warning "overexposed"
  static constexpr double kMinPersonHeight = 0.2;          // silhouette height / frame height
  static constexpr double kBackgroundSamplesPerS = 4;      // frames sampled into the median
  static constexpr int kBackgroundSamples = 15;            // window of the sliding median
  static constexpr double kMovingCameraForeground = 0.35;  // foreground share of the frame
  static constexpr int kReportKeyFrames = 4;

  int analysis_width = kAnalysisWidth;
  double min_fps = kMinFps;
  int min_short_side_px = kMinShortSidePx;
  double dark_mean_luma = kDarkMeanLuma;
  double bright_mean_luma = kBrightMeanLuma;
  double min_person_height = kMinPersonHeight;
  double background_samples_per_s = kBackgroundSamplesPerS;
  int background_samples = kBackgroundSamples;
  double moving_camera_foreground = kMovingCameraForeground;
  int report_key_frames = kReportKeyFrames;
  bool skip_loop_filter = true;  // see media::DecoderOptions
  int decoder_threads = 0;       // 0: one per core
  GaitEventConfig events;
};

inline constexpr const char* kGaitAnalyzerName = "silhouette-gait";
inline constexpr const char* kGaitAnalyzerVersion = "1.0.0";

std::unique_ptr<Analyzer> make_gait_analyzer(GaitConfig config = {});

}  // namespace dancer::analysis

// Gait-event logic shared by every analyzer that turns video into a per-frame gait signal
// (silhouette leg spread today, pose-model ankle distance later): walking segments, step
// period, heel-strike instants and the step metrics derived from them.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace dancer::analysis {

// One analysed frame, as any front end (silhouette, pose) reports it.
struct GaitSample {
  double time_s = 0;
  long frame = 0;
  bool usable = false;     // a whole person is in view
  double spread = 0;       // leg spread (px): largest at double support, i.e. at heel strike
  double centre_x = 0;     // horizontal body position (px)
  double body_height = 0;  // silhouette height (px): the ruler for speed and step length
};

struct GaitEventConfig {
  double min_cadence_steps_per_min = 60;
  double max_cadence_steps_per_min = 200;
  double min_segment_s = 1.0;
  int max_gap_frames = 2;  // short dropouts inside a segment are bridged
  // Heel strike = where the spread, rising to its peak, crosses this fraction of the way from
  // the previous trough to the peak: the feet stop separating at initial contact, so the
  // peak of the spread is a plateau whose start, not its middle, is the heel strike.
  double heel_strike_level = 0.92;
  double min_peak_prominence = 0.3;  // of the segment's robust spread amplitude
  double min_periodicity = 0.1;      // autocorrelation at the step period
};

struct StepEvent {
  double time_s = 0;
  double frame = 0;  // fractional frame index (sub-frame interpolation)
  std::size_t segment = 0;
};

struct WalkingSegment {
  double start_s = 0;
  double end_s = 0;
  std::string direction;  // left_to_right, right_to_left, toward_camera, away_from_camera, unknown
  double step_period_s = 0;
  double periodicity = 0;  // autocorrelation of the spread at the step period (0..1)
  std::optional<double> speed_body_heights_per_s;
  std::size_t first_sample = 0;
  std::size_t end_sample = 0;  // one past the last
};

struct GaitEvents {
  std::vector<WalkingSegment> segments;
  std::vector<StepEvent> steps;
  std::vector<double> step_times_s;     // intervals between consecutive steps of a segment
  std::vector<double> smoothed_spread;  // per sample, normalised by body height (for plots)
};

// Finds walking segments and steps in a series of samples ordered by time.
GaitEvents detect_gait_events(const std::vector<GaitSample>& samples, double fps,
                              const GaitEventConfig& config = {});

struct StepStatistics {
  double mean_s = 0;
  double sd_s = 0;
  double cv = 0;
  std::optional<double> symmetry;  // mean of the shorter alternate-step group / the longer (<= 1)
};
std::optional<StepStatistics> step_statistics(const std::vector<double>& step_times_s);

}  // namespace dancer::analysis

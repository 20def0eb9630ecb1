// A synthetic walker with a known gait, rendered to H.264 with Debian's ffmpeg CLI: the
// ground truth for the gait analyzer's tests and accuracy benchmark.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace dancer::analysis {

struct SyntheticWalkSpec {
  double cadence_steps_per_min = 110;
  double fps = 30;
  int width = 640;
  int height = 360;
  bool left_to_right = true;
  // Clip length; <= 0 picks the time the walker needs to cross the view (capped at 8 s).
  double duration_s = 0;
  double body_height_fraction = 0.55;  // standing height / frame height
  double step_length_body_heights = 0.40;
  double noise_sigma = 0;  // Gaussian noise added to every frame (gray levels)
  bool textured_background = false;
  int figure_gray = 45;
  int background_gray = 190;
  bool with_walker = true;  // false: an empty scene (for "no walker" checks)
  unsigned seed = 1;
  int crf = 20;
};

struct SyntheticWalkTruth {
  std::vector<double> heel_strike_times_s;  // every heel strike inside the clip
  std::vector<std::string> heel_strike_sides;
  double cadence_steps_per_min = 0;
  double speed_body_heights_per_s = 0;
  double step_length_body_heights = 0;
  double body_height_px = 0;
  double duration_s = 0;
  std::string walking_direction;  // "left_to_right" / "right_to_left"
};

// Renders the clip to `output` (an .mp4). Throws std::runtime_error when ffmpeg fails.
SyntheticWalkTruth render_synthetic_walk(const SyntheticWalkSpec& spec,
                                         const std::filesystem::path& output);

}  // namespace dancer::analysis

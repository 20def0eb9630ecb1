// synthetic_walker: renders a walking figure with a known gait to an .mp4 and prints the
// ground truth as JSON. Used by scripts/run.sh for the local demo and by developers.
#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "synthetic_walker/synthetic_walker.h"

int main(int argc, char** argv) {
  CLI::App app{"Render a synthetic walker with a known gait"};
  dancer::analysis::SyntheticWalkSpec spec;
  std::string output = "synthetic-walk.mp4";
  bool right_to_left = false;
  app.add_option("--output,-o", output, "output .mp4");
  app.add_option("--cadence", spec.cadence_steps_per_min, "steps per minute");
  app.add_option("--fps", spec.fps, "frames per second");
  app.add_option("--width", spec.width, "frame width");
  app.add_option("--height", spec.height, "frame height");
  app.add_option("--duration", spec.duration_s, "seconds (0: time to cross the view)");
  app.add_flag("--right-to-left", right_to_left, "walk from right to left");
  CLI11_PARSE(app, argc, argv);
  spec.left_to_right = !right_to_left;
  const auto truth = dancer::analysis::render_synthetic_walk(spec, output);
  std::cout << nlohmann::json{{"output", output},
                              {"cadence_steps_per_min", truth.cadence_steps_per_min},
                              {"heel_strike_times_s", truth.heel_strike_times_s},
                              {"walking_direction", truth.walking_direction},
                              {"duration_s", truth.duration_s}}
                   .dump()
            << std::endl;
  return 0;
}

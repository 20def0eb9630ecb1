#include "pose/pose_track.h"

#include <cmath>

namespace dancer::analysis {
namespace {

// Dividing by an exact power of ten gives the double nearest the decimal, which the JSON
// writer prints in its shortest form (736.3, not 736.3000000000001).
double rounded(double value, double per_unit) { return std::round(value * per_unit) / per_unit; }

}  // namespace

nlohmann::ordered_json to_json(const PoseFrame& frame) {
  nlohmann::ordered_json j = {{"frame", frame.frame_index},
                              {"time_s", rounded(frame.time_s, 1e4)},
                              {"person", frame.person},
                              {"pose_score", rounded(frame.pose_score, 1e3)}};
  if (frame.person) {
    nlohmann::ordered_json points = nlohmann::ordered_json::array();
    for (const Landmark& l : frame.landmarks) {
      points.push_back({rounded(l.x, 100), rounded(l.y, 100), rounded(l.z, 100),
                        rounded(l.visibility, 1e3), rounded(l.presence, 1e3)});
    }
    j["landmarks"] = std::move(points);
  }
  return j;
}

std::string to_json_line(const PoseFrame& frame) { return to_json(frame).dump(); }

}  // namespace dancer::analysis

#include "analysis/pose_track.h"

#include <cmath>

namespace dancer::analysis {
namespace {

double rounded(double value, double step) { return std::round(value / step) * step; }

}  // namespace

nlohmann::json to_json(const PoseFrame& frame) {
  nlohmann::json j = {{"frame", frame.frame_index},
                      {"time_s", rounded(frame.time_s, 1e-4)},
                      {"person", frame.person},
                      {"pose_score", rounded(frame.pose_score, 1e-3)}};
  if (frame.person) {
    nlohmann::json points = nlohmann::json::array();
    for (const Landmark& l : frame.landmarks) {
      points.push_back({rounded(l.x, 0.01), rounded(l.y, 0.01), rounded(l.z, 0.01),
                        rounded(l.visibility, 1e-3), rounded(l.presence, 1e-3)});
    }
    j["landmarks"] = std::move(points);
  }
  return j;
}

std::string to_json_line(const PoseFrame& frame) { return to_json(frame).dump(); }

}  // namespace dancer::analysis

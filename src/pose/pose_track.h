// The body-keypoint track of a video: one PoseFrame per decoded frame, written as JSON Lines.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "pose/pose_model.h"

namespace dancer::analysis {

// One BlazePose landmark (0 nose ... 29/30 heels, 31/32 foot index), in pixels of the
// original video frame as a player shows it (display rotation applied, no scaling); the
// origin is the image's top-left corner, so pixel i spans [i, i + 1).
struct Landmark {
  float x = 0;
  float y = 0;
  float z = 0;           // depth on the scale of x, relative to the hips (smaller: nearer)
  float visibility = 0;  // probability that the point is visible (not occluded), 0..1
  float presence = 0;    // probability that the point is inside the frame, 0..1
};

struct PoseFrame {
  std::int64_t frame_index = 0;  // 0-based, decode (presentation) order
  double time_s = 0;             // presentation time from the stream start
  bool person = false;           // false: nobody found; landmarks are then all zero
  float pose_score = 0;          // the landmark model's pose flag (0..1)
  std::array<Landmark, kPoseLandmarks> landmarks{};
};

// {"frame": 12, "time_s": 0.4, "person": true, "pose_score": 0.998,
//  "landmarks": [[x, y, z, visibility, presence], ...33]} (x, y, z rounded to 0.01 px,
// probabilities to 0.001), keys in this order; "landmarks" is absent when person is false.
nlohmann::ordered_json to_json(const PoseFrame& frame);
// to_json(frame).dump() without a trailing newline.
std::string to_json_line(const PoseFrame& frame);

}  // namespace dancer::analysis

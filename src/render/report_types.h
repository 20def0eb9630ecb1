// What the render pass hands to the report: still frames with the skeleton drawn, and the
// per-frame keypoint signals the events were found in.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace dancer::analysis {

// A frame of the video with the skeleton and the event drawn, as PNG bytes.
struct KeyFrameImage {
  std::int64_t frame = 0;  // 0-based, decode order
  double time_s = 0;
  std::string caption;  // e.g. "left initial contact"
  std::string png;
};

// Per frame of the video: each named foot's heel ahead of the pelvis along the walker's
// facing direction, in body heights (NaN outside walking passes or where not visible). The
// events are this signal's extremes (gait_keypoints.h), so the report plots them together.
struct ReportSignals {
  std::vector<double> time_s;
  std::array<std::vector<double>, 2> heel_ahead;  // [0] left, [1] right
};

}  // namespace dancer::analysis

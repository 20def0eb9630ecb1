// Decoding of MediaPipe's BlazePose person detector (pose_detection.tflite, 224x224): SSD
// anchors, sigmoid scores, weighted non-maximum suppression and removal of the letterbox.
#pragma once

#include <vector>

#include <opencv2/core.hpp>

#include "pose/pose_model.h"

namespace dancer::analysis {

inline constexpr int kDetectorAnchors = 2254;
inline constexpr int kDetectorValues = 13;  // score logit, box (4), 4 keypoints (x, y)

struct DetectorAnchor {
  float x = 0;  // centre, fraction of the input
  float y = 0;
};
// MediaPipe's SsdAnchorsCalculator with pose_detection's options: 5 layers, strides 8, 16,
// 32, 32, 32 on 224x224, offset 0.5, one aspect ratio plus the interpolated scale (2 anchors
// per cell and layer; the last three layers share the 7x7 grid), fixed anchor size.
const std::vector<DetectorAnchor>& pose_detector_anchors();

// Where the frame sits inside the detector's square input.
struct Letterbox {
  int width = kDetectorInputSize;  // the frame's size inside the input
  int height = kDetectorInputSize;
  int pad_x = 0;  // input pixels left of and above the frame
  int pad_y = 0;
  float scale_x = 1;  // input pixels per frame pixel (width / frame width)
  float scale_y = 1;
};
// The frame (w x h) scaled to fit kDetectorInputSize and centred: black bars, as
// pose_detection's ImageToTensorCalculator (border_mode BORDER_ZERO, keep_aspect_ratio).
Letterbox detector_letterbox(int frame_width, int frame_height);
// The letterboxed RGB input image (CV_8UC3, kDetectorInputSize square).
cv::Mat letterbox_frame(const cv::Mat& rgb_frame, const Letterbox& box);

struct DetectorDecodeOptions {
  float min_score = 0.5f;            // pose_detection's min_score_thresh
  float min_suppression_iou = 0.3f;  // NonMaxSuppressionCalculator, WEIGHTED
};
// raw: kDetectorAnchors x kDetectorValues floats (the model's `person` output). Returns the
// people in frame pixels, highest score first.
std::vector<Detection> decode_pose_detections(const float* raw, const Letterbox& box,
                                              const DetectorDecodeOptions& options = {});

}  // namespace dancer::analysis

#include "pose/pose_detector.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace dancer::analysis {

const std::vector<DetectorAnchor>& pose_detector_anchors() {
  static const std::vector<DetectorAnchor> anchors = [] {
    // SsdAnchorsCalculator: consecutive layers with the same stride share one grid, each
    // layer adding 2 anchors per cell (aspect ratio 1 and the interpolated scale). With
    // fixed_anchor_size every anchor is 1x1, so only the centres matter.
    constexpr int kStrides[] = {8, 16, 32, 32, 32};
    constexpr int kLayers = 5;
    std::vector<DetectorAnchor> out;
    out.reserve(kDetectorAnchors);
    int layer = 0;
    while (layer < kLayers) {
      int last = layer;
      while (last < kLayers && kStrides[last] == kStrides[layer]) ++last;
      const int per_cell = 2 * (last - layer);
      const int cells =
          static_cast<int>(std::ceil(static_cast<double>(kDetectorInputSize) / kStrides[layer]));
      for (int y = 0; y < cells; ++y) {
        for (int x = 0; x < cells; ++x) {
          for (int a = 0; a < per_cell; ++a) {
            out.push_back(
                {(x + 0.5f) / static_cast<float>(cells), (y + 0.5f) / static_cast<float>(cells)});
          }
        }
      }
      layer = last;
    }
    return out;
  }();
  return anchors;
}

Letterbox detector_letterbox(int frame_width, int frame_height) {
  Letterbox box;
  frame_width = std::max(frame_width, 1);
  frame_height = std::max(frame_height, 1);
  const double scale =
      static_cast<double>(kDetectorInputSize) / std::max(frame_width, frame_height);
  box.width = std::clamp(static_cast<int>(std::lround(frame_width * scale)), 1, kDetectorInputSize);
  box.height =
      std::clamp(static_cast<int>(std::lround(frame_height * scale)), 1, kDetectorInputSize);
  box.pad_x = (kDetectorInputSize - box.width) / 2;
  box.pad_y = (kDetectorInputSize - box.height) / 2;
  box.scale_x = static_cast<float>(box.width) / static_cast<float>(frame_width);
  box.scale_y = static_cast<float>(box.height) / static_cast<float>(frame_height);
  return box;
}

cv::Mat letterbox_frame(const cv::Mat& rgb_frame, const Letterbox& box) {
  cv::Mat input(kDetectorInputSize, kDetectorInputSize, CV_8UC3, cv::Scalar::all(0));
  cv::Mat inside = input(cv::Rect(box.pad_x, box.pad_y, box.width, box.height));
  // Area averaging: a bilinear shrink of a 1080p frame to 224 pixels would alias.
  cv::resize(rgb_frame, inside, inside.size(), 0, 0, cv::INTER_AREA);
  return input;
}

namespace {

float sigmoid_clipped(float logit) {
  // TensorsToDetectionsCalculator: score_clipping_thresh 100, then sigmoid_score.
  logit = std::clamp(logit, -100.0f, 100.0f);
  return 1.0f / (1.0f + std::exp(-logit));
}

float iou(const cv::Rect2f& a, const cv::Rect2f& b) {
  const float inter = (a & b).area();
  const float uni = a.area() + b.area() - inter;
  return uni > 0 ? inter / uni : 0.0f;
}

}  // namespace

std::vector<Detection> decode_pose_detections(const float* raw, const Letterbox& box,
                                              const DetectorDecodeOptions& options) {
  const auto& anchors = pose_detector_anchors();
  constexpr float kScale = kDetectorInputSize;  // x_scale = y_scale = w_scale = h_scale
  // Decoded in detector-input pixels (anchor centres are fractions of the input).
  std::vector<Detection> candidates;
  for (int i = 0; i < kDetectorAnchors; ++i) {
    const float* r = raw + static_cast<std::ptrdiff_t>(i) * kDetectorValues;
    const float score = sigmoid_clipped(r[0]);
    if (score < options.min_score) continue;
    const float ax = anchors[static_cast<std::size_t>(i)].x * kScale;
    const float ay = anchors[static_cast<std::size_t>(i)].y * kScale;
    Detection d;
    d.score = score;
    const float cx = r[1] + ax, cy = r[2] + ay, w = r[3], h = r[4];
    d.box = cv::Rect2f(cx - w / 2, cy - h / 2, w, h);
    for (int k = 0; k < 4; ++k) {
      d.keypoints[static_cast<std::size_t>(k)] = {r[5 + 2 * k] + ax, r[6 + 2 * k] + ay};
    }
    candidates.push_back(d);
  }
  std::sort(candidates.begin(), candidates.end(),
            [](const Detection& a, const Detection& b) { return a.score > b.score; });

  // NonMaxSuppressionCalculator, algorithm WEIGHTED: every box overlapping the best remaining
  // one by more than the threshold is merged into it, weighted by score; the best's score
  // stays.
  std::vector<Detection> kept;
  std::vector<bool> used(candidates.size(), false);
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    if (used[i]) continue;
    const Detection& best = candidates[i];
    float total = 0, x0 = 0, y0 = 0, x1 = 0, y1 = 0;
    std::array<cv::Point2f, 4> kp{};
    for (std::size_t j = i; j < candidates.size(); ++j) {
      if (used[j] || iou(best.box, candidates[j].box) <= options.min_suppression_iou) continue;
      used[j] = true;
      const Detection& c = candidates[j];
      total += c.score;
      x0 += c.box.x * c.score;
      y0 += c.box.y * c.score;
      x1 += (c.box.x + c.box.width) * c.score;
      y1 += (c.box.y + c.box.height) * c.score;
      for (std::size_t k = 0; k < 4; ++k) kp[k] += c.keypoints[k] * c.score;
    }
    Detection merged = best;
    if (total > 0) {
      merged.box = cv::Rect2f(x0 / total, y0 / total, (x1 - x0) / total, (y1 - y0) / total);
      for (std::size_t k = 0; k < 4; ++k) merged.keypoints[k] = kp[k] / total;
    }
    kept.push_back(merged);
  }

  // Undo the letterbox: input pixels to frame pixels.
  const auto to_frame = [&](cv::Point2f p) {
    return cv::Point2f((p.x - static_cast<float>(box.pad_x)) / box.scale_x,
                       (p.y - static_cast<float>(box.pad_y)) / box.scale_y);
  };
  for (Detection& d : kept) {
    const cv::Point2f tl = to_frame(d.box.tl());
    d.box = cv::Rect2f(tl.x, tl.y, d.box.width / box.scale_x, d.box.height / box.scale_y);
    for (auto& p : d.keypoints) p = to_frame(p);
  }
  return kept;
}

}  // namespace dancer::analysis

#include "pose/camera_motion.h"

#include <opencv2/calib3d.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/video/tracking.hpp>

#include <algorithm>
#include <cmath>
#include <numbers>

namespace dancer::analysis {
namespace {

cv::Matx33d homogeneous(const cv::Matx23d& m) {
  return {m(0, 0), m(0, 1), m(0, 2), m(1, 0), m(1, 1), m(1, 2), 0, 0, 1};
}

cv::Matx23d affine(const cv::Matx33d& m) {
  return {m(0, 0), m(0, 1), m(0, 2), m(1, 0), m(1, 1), m(1, 2)};
}

cv::Point2d apply(const cv::Matx23d& m, cv::Point2d p) {
  return {m(0, 0) * p.x + m(0, 1) * p.y + m(0, 2), m(1, 0) * p.x + m(1, 1) * p.y + m(1, 2)};
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  const auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  return *mid;
}

}  // namespace

std::optional<cv::Rect2f> walker_box(const PoseFrame& pose) {
  if (!pose.person) return std::nullopt;
  float x0 = pose.landmarks[0].x, x1 = x0, y0 = pose.landmarks[0].y, y1 = y0;
  for (const Landmark& l : pose.landmarks) {
    if (!std::isfinite(l.x) || !std::isfinite(l.y)) return std::nullopt;
    x0 = std::min(x0, l.x);
    x1 = std::max(x1, l.x);
    y0 = std::min(y0, l.y);
    y1 = std::max(y1, l.y);
  }
  const float margin = 0.1f * (y1 - y0);
  return cv::Rect2f(x0 - margin, y0 - margin, x1 - x0 + 2 * margin, y1 - y0 + 2 * margin);
}

cv::Rect clip_to_image(const cv::Rect2f& r, cv::Size size) {
  const int x0 = std::clamp(static_cast<int>(std::floor(r.x)), 0, size.width);
  const int y0 = std::clamp(static_cast<int>(std::floor(r.y)), 0, size.height);
  const int x1 = std::clamp(static_cast<int>(std::ceil(r.x + r.width)), 0, size.width);
  const int y1 = std::clamp(static_cast<int>(std::ceil(r.y + r.height)), 0, size.height);
  return {x0, y0, x1 - x0, y1 - y0};
}

PoseFrame to_scene(const PoseFrame& pose, const cv::Matx23d& m) {
  PoseFrame out = pose;
  if (!pose.person) return out;
  const float scale = static_cast<float>(std::hypot(m(0, 0), m(1, 0)));
  for (Landmark& l : out.landmarks) {
    const cv::Point2d p = apply(m, {l.x, l.y});
    l.x = static_cast<float>(p.x);
    l.y = static_cast<float>(p.y);
    l.z *= scale;
  }
  return out;
}

CameraMotionEstimator::CameraMotionEstimator(CameraMotionConfig config) : config_(config) {}

void CameraMotionEstimator::add(const cv::Mat& rgb_frame, const PoseFrame& pose) {
  add(rgb_frame, walker_box(pose), pose.time_s);
}

void CameraMotionEstimator::add(const cv::Mat& rgb_frame, const std::optional<cv::Rect2f>& walker,
                                double time_s) {
  if (steps_.empty()) {
    width_ = rgb_frame.cols;
    height_ = rgb_frame.rows;
    scale_ = std::min(1.0, static_cast<double>(config_.work_width) / std::max(1, width_));
  }
  // Gray first: resizing one channel costs a third of resizing three.
  if (scale_ < 1.0) {
    cv::cvtColor(rgb_frame, full_gray_, cv::COLOR_RGB2GRAY);
    cv::resize(full_gray_, gray_, cv::Size(), scale_, scale_, cv::INTER_AREA);
  } else {
    cv::cvtColor(rgb_frame, gray_, cv::COLOR_RGB2GRAY);
  }
  std::optional<cv::Rect> masked;
  if (walker) {
    const auto s = static_cast<float>(scale_);
    masked = clip_to_image(
        cv::Rect2f(walker->x * s, walker->y * s, walker->width * s, walker->height * s),
        gray_.size());
  }
  time_s_.push_back(time_s);
  CameraStep step;
  if (steps_.empty() || key_gray_.size() != gray_.size()) {
    step.key = true;
    const cv::Matx33d start = cv::Matx33d::eye();
    take_key_frame(masked, start);
    steps_.push_back(step);
    to_scene_.emplace_back(start);
    return;
  }

  const auto min_inliers = static_cast<std::size_t>(std::max(3, config_.min_inliers));
  std::optional<cv::Matx33d> fit;  // the key frame's video pixels to this frame's
  if (key_points_.size() >= min_inliers) {
    // From the key frame itself, starting where each corner was last seen.
    std::vector<cv::Point2f> next = last_points_, back = key_points_;
    std::vector<unsigned char> status, back_status;
    std::vector<float> error;
    // 15 px windows over 3 pyramid levels follow up to about 50 work pixels a frame from the
    // first guess (a fast pan of a 1080p picture moves 25 video pixels, 6 work pixels).
    const cv::Size window(15, 15);
    const cv::TermCriteria stop(cv::TermCriteria::COUNT | cv::TermCriteria::EPS, 20, 0.03);
    cv::calcOpticalFlowPyrLK(key_gray_, gray_, key_points_, next, status, error, window, 3, stop,
                             cv::OPTFLOW_USE_INITIAL_FLOW);
    cv::calcOpticalFlowPyrLK(gray_, key_gray_, next, back, back_status, error, window, 3, stop,
                             cv::OPTFLOW_USE_INITIAL_FLOW);
    std::vector<cv::Point2f> from, to;
    const double fb2 = config_.max_forward_backward_px * config_.max_forward_backward_px;
    for (std::size_t i = 0; i < next.size(); ++i) {
      if (status[i] == 0 || back_status[i] == 0) continue;
      const cv::Point2f& p = next[i];
      if (p.x < 0 || p.y < 0 || p.x >= static_cast<float>(gray_.cols) ||
          p.y >= static_cast<float>(gray_.rows)) {
        continue;
      }
      const cv::Point2f d = back[i] - key_points_[i];
      if (d.dot(d) > fb2) continue;
      // A corner the walker now stands in front of.
      if (masked && masked->contains(cv::Point(static_cast<int>(p.x), static_cast<int>(p.y)))) {
        continue;
      }
      last_points_[i] = p;
      // OpenCV's pixel centres are at integers; the landmarks' at + 0.5 (pixel i spans
      // [i, i + 1)), the convention in which resizing is a pure scale.
      from.push_back(key_points_[i] + cv::Point2f(0.5f, 0.5f));
      to.push_back(p + cv::Point2f(0.5f, 0.5f));
    }
    step.tracked = static_cast<int>(from.size());
    if (from.size() >= min_inliers) {
      std::vector<unsigned char> inliers;
      const cv::Mat m = cv::estimateAffinePartial2D(from, to, inliers, cv::RANSAC,
                                                    config_.ransac_px, 2000, 0.99, 10);
      const int n = inliers.empty() ? 0 : cv::countNonZero(inliers);
      if (!m.empty() && n >= static_cast<int>(min_inliers)) {
        const cv::Matx23d w(m.ptr<double>());
        std::vector<double> distances;
        distances.reserve(from.size());
        for (std::size_t i = 0; i < from.size(); ++i) {
          const cv::Point2d e = apply(w, from[i]) - cv::Point2d(to[i]);
          distances.push_back(std::hypot(e.x, e.y));
        }
        // Work pixels to the video's: the same rotation and scale, the translation / scale_.
        fit = cv::Matx33d(w(0, 0), w(0, 1), w(0, 2) / scale_, w(1, 0), w(1, 1), w(1, 2) / scale_, 0,
                          0, 1);
        step.inliers = n;
        step.residual_px = median(distances) / scale_;
        step.measured = true;
      }
    }
  }
  std::optional<cv::Matx33d> to_scene;
  if (fit) {
    lost_ = 0;
    to_scene = key_to_scene_ * fit->inv();
    const double key_scale = std::hypot((*fit)(0, 0), (*fit)(1, 0));
    if (static_cast<double>(step.inliers) <
            config_.min_inlier_share * static_cast<double>(key_points_.size()) ||
        static_cast<std::size_t>(step.inliers) < 2 * min_inliers ||
        std::abs(key_scale - 1.0) > config_.max_key_scale_change) {
      step.key = true;
      take_key_frame(masked, *to_scene);
    }
  } else if (++lost_ > config_.max_lost_frames) {
    // Nothing to follow for a while (a blank wall, a blur, the walker filling the picture):
    // go on from here as if the camera had stood still since its last known position.
    for (auto it = to_scene_.rbegin(); it != to_scene_.rend(); ++it) {
      if (*it) {
        to_scene = **it;
        break;
      }
    }
    step.key = true;
    lost_ = 0;
    take_key_frame(masked, to_scene.value_or(cv::Matx33d::eye()));
  }
  steps_.push_back(step);
  to_scene_.push_back(to_scene);
}

void CameraMotionEstimator::take_key_frame(const std::optional<cv::Rect>& walker,
                                           const cv::Matx33d& to_scene) {
  gray_.copyTo(key_gray_);
  cv::Mat mask(gray_.size(), CV_8U, cv::Scalar(255));
  if (walker && walker->area() > 0) mask(*walker).setTo(0);
  cv::goodFeaturesToTrack(gray_, key_points_, config_.max_corners, config_.corner_quality,
                          config_.corner_spacing, mask, 3);
  last_points_ = key_points_;
  key_to_scene_ = to_scene;
}

CameraMotion CameraMotionEstimator::finish() const {
  CameraMotion out;
  out.width = width_;
  out.height = height_;
  out.time_s = time_s_;
  out.steps = steps_;
  const std::size_t n = steps_.size();
  if (n == 0) return out;
  // A frame without a fit lies between its nearest known neighbours (a blurred frame in a
  // steady pan moves as the frames around it); after the last known one, it stays there.
  out.to_scene.assign(n, cv::Matx23d(1, 0, 0, 0, 1, 0));
  std::optional<std::size_t> before;
  for (std::size_t i = 0; i < n; ++i) {
    if (to_scene_[i]) {
      out.to_scene[i] = affine(*to_scene_[i]);
      before = i;
      continue;
    }
    std::optional<std::size_t> after;
    for (std::size_t j = i + 1; j < n; ++j) {
      if (to_scene_[j]) {
        after = j;
        break;
      }
    }
    if (before && after) {
      const double w = static_cast<double>(i - *before) / static_cast<double>(*after - *before);
      out.to_scene[i] = affine((1 - w) * *to_scene_[*before] + w * *to_scene_[*after]);
    } else if (before) {
      out.to_scene[i] = affine(*to_scene_[*before]);
    } else if (after) {
      out.to_scene[i] = affine(*to_scene_[*after]);
    }
  }
  const cv::Point2d centre(0.5 * width_, 0.5 * height_);
  std::vector<double> residuals;
  for (std::size_t i = 0; i < n; ++i) {
    if (steps_[i].key) ++out.key_frames;
    if (i == 0) continue;
    const cv::Matx33d from_scene = homogeneous(out.to_scene[i]).inv();
    const double rotation =
        std::atan2(from_scene(1, 0), from_scene(0, 0)) * 180.0 / std::numbers::pi;
    const double scale = (std::hypot(from_scene(0, 0), from_scene(1, 0)) - 1.0) * 100.0;
    out.rotation_max_deg = std::max(out.rotation_max_deg, std::abs(rotation));
    out.scale_max_pct = std::max(out.scale_max_pct, std::abs(scale));
    if (i == n - 1) {
      out.rotation_deg = rotation;
      out.scale_change_pct = scale;
    }
    const cv::Point2d moved = apply(out.to_scene[i], centre) - apply(out.to_scene[i - 1], centre);
    out.path_widths += std::hypot(moved.x, moved.y) / std::max(1, width_);
    if (steps_[i].key && !steps_[i].measured) ++out.chain_breaks;
    if (!steps_[i].measured) {
      ++out.frame_pairs_unmeasured;
      continue;
    }
    ++out.frame_pairs;
    residuals.push_back(steps_[i].residual_px);
  }
  out.duration_s = std::max(0.0, time_s_.back() - time_s_.front());
  const cv::Point2d net = apply(out.to_scene[n - 1], centre) - centre;
  out.translation_x_px = net.x;
  out.translation_y_px = net.y;
  out.residual_px = median(residuals);
  return out;
}

}  // namespace dancer::analysis

// The per-job HTML report: self-contained (inline SVG plot, inline PNG key frames).
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

namespace dancer::analysis {

struct KeyFrame {
  cv::Mat gray;  // thumbnail with the silhouette box drawn
  double time_s = 0;
  long frame = 0;
};

// Keeps at most `2 * count` thumbnails spread over the video, without knowing its length:
// when full, every other one is dropped and the sampling stride doubles.
class KeyFrameSampler {
 public:
  explicit KeyFrameSampler(std::size_t count) : count_(std::max<std::size_t>(1, count)) {}
  void offer(const cv::Mat& gray, const cv::Rect& person, double time_s, long frame);
  // Evenly spread selection of at most `count` frames.
  std::vector<KeyFrame> frames() const;

 private:
  std::size_t count_;
  long stride_ = 1;
  long offered_ = 0;
  std::vector<KeyFrame> kept_;
};

// PNG bytes of an 8-bit gray image (libavcodec's PNG encoder). Throws std::runtime_error.
std::string encode_png(const cv::Mat& gray);

std::string render_gait_report(const nlohmann::json& analysis, const nlohmann::json& metadata,
                               const std::vector<double>& times_s,
                               const std::vector<double>& gait_signal,  // NaN: no silhouette
                               const std::vector<KeyFrame>& key_frames);

}  // namespace dancer::analysis

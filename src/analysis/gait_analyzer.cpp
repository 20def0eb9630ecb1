#include "analysis/gait_analyzer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "media/video_decoder.h"
#include "silhouette/gait_report.h"

namespace dancer::analysis {
namespace {

using nlohmann::json;

// Background = per-pixel median of frames sampled over a window centred on the frame being
// analysed (frames wait in a short queue until the window's future half is filled). A
// walker covers any pixel for well under half the window, so the median is the empty scene,
// even when the walker is in view from the first frame. Memory: the queue and the samples,
// a constant number of analysis-size frames.
class SlidingMedianBackground {
 public:
  explicit SlidingMedianBackground(std::size_t samples) : capacity_(samples) {}

  void add_sample(const cv::Mat& gray) {
    samples_.push_back(gray);
    if (samples_.size() > capacity_) samples_.pop_front();
    dirty_ = true;
  }

  const cv::Mat& background() {
    if (dirty_ && !samples_.empty()) recompute();
    return background_;
  }

 private:
  // Per-pixel median of the samples, as an odd-even transposition sort across whole
  // images: m passes of element-wise min/max (SIMD in OpenCV) leave sorted_[k] holding
  // each pixel's k-th smallest value. Same result as a per-pixel nth_element, several
  // times cheaper for the small m used here.
  void recompute() {
    const std::size_t m = samples_.size();
    sorted_.resize(m);
    for (std::size_t k = 0; k < m; ++k) samples_[k].copyTo(sorted_[k]);
    for (std::size_t pass = 0; pass < m; ++pass) {
      for (std::size_t k = pass % 2; k + 1 < m; k += 2) {
        cv::min(sorted_[k], sorted_[k + 1], smaller_);
        cv::max(sorted_[k], sorted_[k + 1], sorted_[k + 1]);
        std::swap(sorted_[k], smaller_);
      }
    }
    sorted_[m / 2].copyTo(background_);
    dirty_ = false;
  }

  std::size_t capacity_;
  std::deque<cv::Mat> samples_;
  std::vector<cv::Mat> sorted_;
  cv::Mat smaller_;
  cv::Mat background_;
  bool dirty_ = false;
};

struct PendingFrame {
  cv::Mat gray;
  double time_s;
  long index;
};

struct QualityCounters {
  long frames = 0;
  long person_frames = 0;
  long multi_person_frames = 0;
  long cut_frames = 0;  // silhouette touching the top or bottom edge
  long moving_camera_frames = 0;
  double luma_sum = 0;
  long luma_samples = 0;
  double clipped_sum = 0;  // share of pixels at >= 250
};

// A person is there when the silhouette was found for half a second (at least 3 frames).
bool person_detected(const QualityCounters& quality, double fps) {
  return quality.person_frames >= std::max(3.0, 0.5 * fps);
}

class GaitAnalyzer final : public Analyzer {
 public:
  explicit GaitAnalyzer(GaitConfig config) : config_(std::move(config)) {}
  std::string name() const override { return kGaitAnalyzerName; }
  std::string version() const override { return kGaitAnalyzerVersion; }
  AnalysisResult analyze(const AnalysisRequest& request) override;

 private:
  // What the pass over the video saw.
  struct Observed {
    std::vector<GaitSample> samples;
    QualityCounters quality;
    KeyFrameSampler key_frames;
    std::int64_t corrupt_packets = 0;
  };
  // The phases of analyze, in order.
  std::unique_ptr<media::VideoDecoder> open_decoder(const AnalysisRequest& request) const;
  Observed observe_video(media::VideoDecoder& decoder, double fps);
  json recording_warnings(const media::VideoStreamInfo& info, double fps, double duration_s,
                          const QualityCounters& quality) const;
  void add_walking_measures(json& analysis, const GaitEvents& events, json& warnings,
                            std::optional<double> subject_height_m) const;
  static void write_report(const AnalysisRequest& request, const json& analysis,
                           const Observed& observed, const GaitEvents& events,
                           AnalysisResult& result);
  GaitSample observe(const PendingFrame& frame, const cv::Mat& background, QualityCounters& quality,
                     KeyFrameSampler& key_frames);
  GaitConfig config_;
  // Scratch buffers reused frame after frame.
  cv::Mat diff_;
  cv::Mat mask_;
  cv::Mat labels_;
  cv::Mat stats_;
  cv::Mat centroids_;
};

GaitSample GaitAnalyzer::observe(const PendingFrame& frame, const cv::Mat& background,
                                 QualityCounters& quality, KeyFrameSampler& key_frames) {
  GaitSample sample;
  sample.time_s = frame.time_s;
  sample.frame = frame.index;
  ++quality.frames;
  const cv::Mat& gray = frame.gray;
  cv::absdiff(gray, background, diff_);

  // Threshold from the noise level: the median absolute difference of a mostly-static scene
  // is about 0.67 sigma of the noise.
  int histogram[256] = {};
  for (int y = 0; y < diff_.rows; y += 2) {
    const std::uint8_t* row = diff_.ptr<std::uint8_t>(y);
    for (int x = 0; x < diff_.cols; x += 2) ++histogram[row[x]];
  }
  const long half = static_cast<long>(((diff_.rows + 1) / 2) * ((diff_.cols + 1) / 2)) / 2;
  long seen = 0;
  int median_diff = 0;
  while (median_diff < 255 && (seen += histogram[median_diff]) < half) ++median_diff;
  const double threshold = std::max(14.0, 4.5 * median_diff / 0.67);
  cv::threshold(diff_, mask_, threshold, 255, cv::THRESH_BINARY);
  static const cv::Mat open_kernel = cv::getStructuringElement(cv::MORPH_RECT, {3, 3});
  static const cv::Mat close_kernel = cv::getStructuringElement(cv::MORPH_ELLIPSE, {5, 5});
  cv::morphologyEx(mask_, mask_, cv::MORPH_OPEN, open_kernel);
  cv::morphologyEx(mask_, mask_, cv::MORPH_CLOSE, close_kernel);

  const double foreground = cv::countNonZero(mask_) / static_cast<double>(mask_.total());
  if (foreground > config_.moving_camera_foreground) {
    // Most of the picture changed: the camera moved (or the light did); no silhouette here.
    ++quality.moving_camera_frames;
    return sample;
  }
  const int count = cv::connectedComponentsWithStats(mask_, labels_, stats_, centroids_, 8, CV_32S);
  int best = 0;
  int best_area = 0;
  for (int i = 1; i < count; ++i) {
    const int area = stats_.at<int>(i, cv::CC_STAT_AREA);
    if (area > best_area) {
      best_area = area;
      best = i;
    }
  }
  if (best == 0) return sample;
  const int bx = stats_.at<int>(best, cv::CC_STAT_LEFT);
  const int by = stats_.at<int>(best, cv::CC_STAT_TOP);
  const int bw = stats_.at<int>(best, cv::CC_STAT_WIDTH);
  const int bh = stats_.at<int>(best, cv::CC_STAT_HEIGHT);
  if (bh < config_.min_person_height * gray.rows || bh < 1.2 * bw * 0.5) return sample;
  ++quality.person_frames;
  for (int i = 1; i < count; ++i) {
    if (i == best) continue;
    const int h = stats_.at<int>(i, cv::CC_STAT_HEIGHT);
    if (stats_.at<int>(i, cv::CC_STAT_AREA) >= 0.3 * best_area && h >= 0.5 * bh) {
      ++quality.multi_person_frames;
      break;
    }
  }
  const bool touches_side = bx <= 1 || bx + bw >= gray.cols - 1;
  const bool touches_top_bottom = by <= 1 || by + bh >= gray.rows - 1;
  if (touches_top_bottom) ++quality.cut_frames;

  // Leg spread: horizontal extent of the silhouette in its lowest fifth (feet and shins).
  const int y0 = by + static_cast<int>(0.8 * bh);
  int min_x = bx + bw;
  int max_x = bx - 1;
  for (int y = y0; y < by + bh; ++y) {
    const int* row = labels_.ptr<int>(y);
    for (int x = bx; x < bx + bw; ++x) {
      if (row[x] == best) {
        min_x = std::min(min_x, x);
        break;
      }
    }
    for (int x = bx + bw - 1; x >= bx; --x) {
      if (row[x] == best) {
        max_x = std::max(max_x, x);
        break;
      }
    }
  }
  sample.spread = max_x >= min_x ? max_x - min_x + 1 : 0;
  sample.centre_x = centroids_.at<double>(best, 0);
  sample.body_height = bh;
  sample.usable = !touches_side && !touches_top_bottom && sample.spread > 0;
  if (sample.usable) key_frames.offer(gray, cv::Rect(bx, by, bw, bh), frame.time_s, frame.index);
  return sample;
}

std::unique_ptr<media::VideoDecoder> GaitAnalyzer::open_decoder(
    const AnalysisRequest& request) const {
  media::DecoderOptions options;
  options.max_width = config_.analysis_width;
  options.max_height = config_.analysis_width;
  options.skip_loop_filter = config_.skip_loop_filter;
  options.threads = config_.decoder_threads;
  options.limits = request.limits;
  try {
    return std::make_unique<media::VideoDecoder>(request.video, options);
  } catch (const media::MediaError& e) {
    const bool bad_input = e.code() == media::MediaErrorCode::kInvalidData ||
                           e.code() == media::MediaErrorCode::kNoVideo ||
                           e.code() == media::MediaErrorCode::kUnsupported;
    throw AnalysisError(bad_input ? AnalysisErrorCode::kInvalidInput : AnalysisErrorCode::kInternal,
                        e.what());
  }
}

// Every frame against the median background of the frames around it: each frame waits until
// the background has seen as many samples after it as before.
GaitAnalyzer::Observed GaitAnalyzer::observe_video(media::VideoDecoder& decoder, double fps) {
  const long sample_interval = std::max(1L, std::lround(fps / config_.background_samples_per_s));
  const auto delay = static_cast<std::size_t>(sample_interval * (config_.background_samples / 2));
  SlidingMedianBackground background(static_cast<std::size_t>(config_.background_samples));
  Observed out{{}, {}, KeyFrameSampler(static_cast<std::size_t>(config_.report_key_frames)), 0};
  std::deque<PendingFrame> pending;
  media::VideoFrame frame;
  try {
    while (true) {
      const bool more = decoder.next(frame);
      if (more) {
        const cv::Mat view(frame.height, frame.width, CV_8UC1,
                           const_cast<std::uint8_t*>(frame.data),
                           static_cast<std::size_t>(frame.stride));
        PendingFrame p{view.clone(), frame.pts_s, static_cast<long>(frame.index)};
        if (frame.index % sample_interval == 0) {
          background.add_sample(p.gray);
          const cv::Scalar mean = cv::mean(p.gray);
          out.quality.luma_sum += mean[0];
          out.quality.clipped_sum +=
              cv::countNonZero(p.gray >= 250) / static_cast<double>(p.gray.total());
          ++out.quality.luma_samples;
        }
        pending.push_back(std::move(p));
      }
      while (!pending.empty() && (pending.size() > delay || !more)) {
        out.samples.push_back(
            observe(pending.front(), background.background(), out.quality, out.key_frames));
        pending.pop_front();
      }
      if (!more) break;
    }
  } catch (const media::MediaError& e) {
    throw AnalysisError(AnalysisErrorCode::kInvalidInput, e.what());
  }
  if (out.samples.empty()) {
    throw AnalysisError(AnalysisErrorCode::kInvalidInput, "no decodable video frames");
  }
  out.corrupt_packets = decoder.corrupt_packets();
  return out;
}

json GaitAnalyzer::recording_warnings(const media::VideoStreamInfo& info, double fps,
                                      double duration_s, const QualityCounters& quality) const {
  json warnings = json::array();
  const double mean_luma = quality.luma_samples ? quality.luma_sum / quality.luma_samples : 0;
  const double clipped = quality.luma_samples ? quality.clipped_sum / quality.luma_samples : 0;
  const double shortest_two_steps_s = 2 * 60.0 / config_.events.max_cadence_steps_per_min;
  if (duration_s < std::max(1.0, shortest_two_steps_s)) warnings.push_back("too_short");
  if (fps < config_.min_fps) warnings.push_back("low_frame_rate");
  if (std::min(info.coded_width, info.coded_height) < config_.min_short_side_px) {
    warnings.push_back("low_resolution");
  }
  if (mean_luma < config_.dark_mean_luma) warnings.push_back("too_dark");
  if (mean_luma > config_.bright_mean_luma || clipped > 0.4) warnings.push_back("overexposed");
  if (quality.moving_camera_frames > 0.2 * quality.frames) warnings.push_back("camera_moving");
  const bool person = person_detected(quality, fps);
  if (!person) warnings.push_back("no_person");
  if (person && quality.multi_person_frames > 0.2 * quality.person_frames) {
    warnings.push_back("multiple_people");
  }
  if (person && quality.cut_frames > 0.2 * quality.person_frames) {
    warnings.push_back("person_cut_by_frame_edge");
  }
  if (info.rotation_degrees != 0) warnings.push_back("rotation_applied");
  return warnings;
}

// Steps, cadence, their variability, direction, speed and step length, and the confidence
// (a periodic signal, enough steps, regular steps, clean conditions).
void GaitAnalyzer::add_walking_measures(json& analysis, const GaitEvents& events, json& warnings,
                                        std::optional<double> subject_height_m) const {
  const bool person_detected = analysis["person_detected"].get<bool>();
  const bool walking = person_detected && !events.segments.empty() && events.steps.size() >= 2;
  if (person_detected && !walking) warnings.push_back("no_walking_detected");
  // (A plain struct and flag: GCC's -Wmaybe-uninitialized misfires on std::optional here.)
  StepStatistics st;
  bool has_stats = false;
  if (walking) {
    if (const auto computed = step_statistics(events.step_times_s)) {
      st = *computed;
      has_stats = true;
    }
  }
  if (walking && !has_stats) warnings.push_back("too_few_steps");

  json steps = json::array();
  if (walking) {
    for (const StepEvent& e : events.steps) {
      steps.push_back({{"time_s", std::round(e.time_s * 1000) / 1000},
                       {"frame", std::lround(e.frame)},
                       {"segment", e.segment}});
    }
  }
  analysis["step_events"] = steps;
  analysis["step_count"] = walking ? json(steps.size()) : json(nullptr);
  analysis["step_times_s"] = has_stats ? json(events.step_times_s) : json(nullptr);
  analysis["cadence_steps_per_min"] = has_stats ? json(60.0 / st.mean_s) : json(nullptr);
  analysis["step_time_mean_s"] = has_stats ? json(st.mean_s) : json(nullptr);
  analysis["step_time_sd_s"] = has_stats ? json(st.sd_s) : json(nullptr);
  analysis["step_time_cv"] = has_stats ? json(st.cv) : json(nullptr);
  analysis["step_time_symmetry"] = has_stats && st.symmetry ? json(*st.symmetry) : json(nullptr);

  // Direction and speed: from the longest segment / duration-weighted over segments.
  json segments = json::array();
  double speed_weight = 0;
  double speed_sum = 0;
  const WalkingSegment* longest = nullptr;
  for (const WalkingSegment& s : events.segments) {
    json js = {{"start_s", s.start_s},
               {"end_s", s.end_s},
               {"direction", s.direction},
               {"step_period_s", s.step_period_s},
               {"periodicity", s.periodicity}};
    if (s.speed_body_heights_per_s) {
      js["speed_body_heights_per_s"] = *s.speed_body_heights_per_s;
      speed_sum += *s.speed_body_heights_per_s * (s.end_s - s.start_s);
      speed_weight += s.end_s - s.start_s;
    }
    segments.push_back(js);
    if (!longest || s.end_s - s.start_s > longest->end_s - longest->start_s) longest = &s;
  }
  analysis["segments"] = walking ? segments : json::array();
  analysis["walking_direction"] = walking && longest ? json(longest->direction) : json(nullptr);
  const std::optional<double> speed =
      walking && speed_weight > 0 ? std::optional<double>(speed_sum / speed_weight) : std::nullopt;
  analysis["speed_body_heights_per_s"] = speed ? json(*speed) : json(nullptr);
  const std::optional<double> step_length =
      speed && has_stats ? std::optional<double>(*speed * st.mean_s) : std::nullopt;
  analysis["step_length_body_heights"] = step_length ? json(*step_length) : json(nullptr);
  if (subject_height_m) {
    analysis["subject_height_m"] = *subject_height_m;
    analysis["speed_m_per_s"] = speed ? json(*speed * *subject_height_m) : json(nullptr);
    analysis["step_length_m"] =
        step_length ? json(*step_length * *subject_height_m) : json(nullptr);
  }

  double confidence = 0;
  if (has_stats && longest) {
    confidence = std::clamp(longest->periodicity, 0.0, 1.0) *
                 std::min(1.0, static_cast<double>(events.steps.size()) / 6.0) *
                 (1.0 - std::min(1.0, 2.0 * st.cv));
    for (const auto& w : warnings) {
      const std::string text = w.get<std::string>();
      if (text != "rotation_applied") confidence *= 0.7;
    }
  }
  analysis["confidence"] = std::round(confidence * 1000) / 1000;
}

void GaitAnalyzer::write_report(const AnalysisRequest& request, const json& analysis,
                                const Observed& observed, const GaitEvents& events,
                                AnalysisResult& result) {
  DirectoryOutputs directory(request.report_dir);
  OutputFiles* outputs = request.outputs != nullptr    ? request.outputs
                         : !request.report_dir.empty() ? &directory
                                                       : nullptr;
  if (outputs == nullptr || !outputs->accepts("report.html")) return;
  std::vector<double> times;
  std::vector<double> signal;
  times.reserve(observed.samples.size());
  for (std::size_t i = 0; i < observed.samples.size(); ++i) {
    times.push_back(observed.samples[i].time_s);
    signal.push_back(observed.samples[i].usable ? events.smoothed_spread[i] : std::nan(""));
  }
  outputs->write("report.html", render_gait_report(analysis, request.metadata, times, signal,
                                                   observed.key_frames.frames()));
  result.outputs_written.push_back("report.html");
  if (outputs == &directory) {
    result.report_path = request.report_dir / "report.html";
    result.artifacts.push_back(*result.report_path);
  }
}

AnalysisResult GaitAnalyzer::analyze(const AnalysisRequest& request) {
  const auto started = std::chrono::steady_clock::now();
  const std::unique_ptr<media::VideoDecoder> decoder = open_decoder(request);
  const media::VideoStreamInfo info = decoder->info();
  const double fps = info.fps > 0 ? info.fps : 30.0;
  const Observed observed = observe_video(*decoder, fps);
  const std::vector<GaitSample>& samples = observed.samples;
  const QualityCounters& quality = observed.quality;

  const GaitEvents events = detect_gait_events(samples, fps, config_.events);
  const double duration_s =
      info.duration_s > 0 ? info.duration_s : samples.back().time_s + 1.0 / fps;
  json warnings = recording_warnings(info, fps, duration_s, quality);

  json analysis;
  analysis["analyzer"] = {{"name", name()}, {"version", version()}};
  analysis["person_detected"] = person_detected(quality, fps);
  add_walking_measures(analysis, events, warnings, request.subject_height_m);
  const double mean_luma = quality.luma_samples ? quality.luma_sum / quality.luma_samples : 0;
  analysis["quality"] = {
      {"warnings", warnings},
      {"fps", fps},
      {"resolution", {{"width", info.coded_width}, {"height", info.coded_height}}},
      {"analysis_resolution", {{"width", info.width}, {"height", info.height}}},
      {"rotation_degrees", info.rotation_degrees},
      {"duration_s", duration_s},
      {"mean_luma", mean_luma},
      {"person_frames", quality.person_frames},
      {"multiple_person_frames", quality.multi_person_frames},
      {"cut_person_frames", quality.cut_frames},
      {"moving_camera_frames", quality.moving_camera_frames},
      {"corrupt_packets", observed.corrupt_packets}};
  // The caller's warnings say nothing of the recording: after the confidence, not in it.
  for (const std::string& w : request.warnings) analysis["quality"]["warnings"].push_back(w);
  analysis["frames_analyzed"] = samples.size();
  analysis["processing_time_s"] =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  AnalysisResult result;
  write_report(request, analysis, observed, events, result);
  result.analysis = std::move(analysis);
  return result;
}

}  // namespace

std::unique_ptr<Analyzer> make_gait_analyzer(GaitConfig config) {
  return std::make_unique<GaitAnalyzer>(std::move(config));
}

}  // namespace dancer::analysis

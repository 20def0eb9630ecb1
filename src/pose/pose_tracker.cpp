#include "pose/pose_tracker.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <exception>
#include <limits>
#include <mutex>
#include <numbers>
#include <thread>

namespace dancer::analysis {
namespace {

float sigmoid(float logit) {
  logit = std::clamp(logit, -80.0f, 80.0f);  // exp() stays finite
  return 1.0f / (1.0f + std::exp(-logit));
}

float normalize_radians(float angle) {
  const float two_pi = 2.0f * std::numbers::pi_v<float>;
  return angle - two_pi * std::floor((angle + std::numbers::pi_v<float>) / two_pi);
}

constexpr std::size_t kAuxCenter = 33;  // auxiliary landmarks: the next frame's alignment
constexpr std::size_t kAuxScale = 34;   // points (pose_landmarks_to_roi)
constexpr std::size_t kMaxCandidates = 8;

}  // namespace

PoseRoi roi_from_alignment(cv::Point2f center, cv::Point2f scale_point, float scale) {
  const float dx = scale_point.x - center.x;
  const float dy = scale_point.y - center.y;
  PoseRoi roi;
  roi.center = center;
  roi.size = 2.0f * std::sqrt(dx * dx + dy * dy) * scale;
  // Image y points down, hence -dy; 90 degrees brings the body axis upright.
  roi.rotation = normalize_radians(std::numbers::pi_v<float> / 2 - std::atan2(-dy, dx));
  return roi;
}

PoseRoi roi_from_detection(const Detection& detection, float scale) {
  return roi_from_alignment(detection.keypoints[0], detection.keypoints[1], scale);
}

void crop_pose_roi(const cv::Mat& rgb_frame, const PoseRoi& roi, cv::Mat& out, int side) {
  // Maps output pixel (u, v) to the frame (WARP_INVERSE_MAP). OpenCV's pixel centres sit at
  // integer coordinates, the ROI's at +0.5: offsets (u + 0.5) / side - 0.5 of the side.
  const double k = static_cast<double>(roi.size) / side;
  const double c = std::cos(roi.rotation) * k;
  const double s = std::sin(roi.rotation) * k;
  const double o = 0.5 - side / 2.0;
  cv::Mat m = (cv::Mat_<double>(2, 3) << c, -s, roi.center.x - 0.5 + c * o - s * o, s, c,
               roi.center.y - 0.5 + s * o + c * o);
  cv::warpAffine(rgb_frame, out, m, cv::Size(side, side), cv::INTER_LINEAR | cv::WARP_INVERSE_MAP,
                 cv::BORDER_REPLICATE);
}

cv::Point2f roi_to_frame(const PoseRoi& roi, float x, float y, int side) {
  const float a = x / static_cast<float>(side) - 0.5f;
  const float b = y / static_cast<float>(side) - 0.5f;
  const float c = std::cos(roi.rotation), s = std::sin(roi.rotation);
  return {roi.center.x + roi.size * (c * a - s * b), roi.center.y + roi.size * (s * a + c * b)};
}

PoseTracker::PoseTracker(PersonDetector& detector, LandmarkModel& model, PoseTrackerOptions options)
    : detector_(detector), model_(model), options_(options) {}

bool PoseTracker::landmarks_in(const cv::Mat& rgb_frame, const PoseRoi& roi, PoseFrame& frame,
                               PoseRoi& next) {
  if (!(roi.size >= options_.min_roi_size_px) || !std::isfinite(roi.center.x) ||
      !std::isfinite(roi.center.y)) {
    return false;
  }
  crop_pose_roi(rgb_frame, roi, crop_);
  const LandmarkOutput out = model_.run(crop_);
  frame.pose_score = out.pose_flag;
  if (out.pose_flag < options_.min_pose_score) return false;
  frame.person = true;
  const float z_scale = roi.size / static_cast<float>(kLandmarkInputSize);
  for (std::size_t i = 0; i < frame.landmarks.size(); ++i) {
    const RawLandmark& r = out.landmarks[i];
    const cv::Point2f p = roi_to_frame(roi, r.x, r.y);
    frame.landmarks[i] = {p.x, p.y, r.z * z_scale, sigmoid(r.visibility_logit),
                          sigmoid(r.presence_logit)};
  }
  const RawLandmark& a = out.landmarks[kAuxCenter];
  const RawLandmark& b = out.landmarks[kAuxScale];
  next = roi_from_alignment(roi_to_frame(roi, a.x, a.y), roi_to_frame(roi, b.x, b.y),
                            options_.roi_scale);
  return true;
}

bool PoseTracker::run_landmarks(const cv::Mat& rgb_frame, const PoseRoi& roi, PoseFrame& frame) {
  PoseRoi next;
  if (!landmarks_in(rgb_frame, roi, frame, next)) return false;
  roi_ = next;
  last_ = next.center;
  last_frame_ = current_frame_;
  return true;
}

PoseFrame PoseTracker::track_back(const cv::Mat& rgb_frame, std::int64_t frame_index, double time_s,
                                  PoseRoi& roi) {
  PoseFrame frame;
  frame.frame_index = frame_index;
  frame.time_s = time_s;
  PoseRoi before;
  if (!landmarks_in(rgb_frame, roi, frame, before)) return frame;
  // Backward, only a walker seen whole counts: where the body is cut by the image's edge (the
  // walker entering the picture) the model still answers, but places the missing half, hips
  // included, by guess, and the detector was right not to fire.
  const auto inside = [&](const Landmark& l) {
    return l.x >= 0 && l.y >= 0 && l.x < static_cast<float>(rgb_frame.cols) &&
           l.y < static_cast<float>(rgb_frame.rows);
  };
  if (!std::all_of(frame.landmarks.begin(), frame.landmarks.end(), inside)) {
    PoseFrame nobody;
    nobody.frame_index = frame_index;
    nobody.time_s = time_s;
    nobody.pose_score = frame.pose_score;
    return nobody;
  }
  roi = before;
  ++backfilled_frames_;
  return frame;
}

std::optional<Detection> PoseTracker::pick(const std::vector<Detection>& detections) const {
  std::optional<Detection> best;
  float best_key = std::numeric_limits<float>::max();
  const bool recent = last_ && current_frame_ - last_frame_ <= options_.reacquire_frames;
  for (const Detection& d : detections) {
    if (d.score < options_.min_detection_score) continue;
    // Re-found after a brief loss: the person nearest to where the walker was. Otherwise the
    // largest body: a gait recording frames its subject, bystanders are further away.
    const cv::Point2f hip = d.keypoints[0];
    const float key = recent ? static_cast<float>(cv::norm(hip - *last_))
                             : -roi_from_detection(d, options_.roi_scale).size;
    if (key < best_key) {
      best_key = key;
      best = d;
    }
  }
  return best;
}

float PoseTracker::walker_travel_since(std::int64_t frame) const {
  // The tracked hips' horizontal travel from the first check at or after `frame` to now.
  for (const auto& [f, x] : walker_x_) {
    if (f >= frame) return std::abs(walker_x_.back().second - x);
  }
  return 0;
}

void PoseTracker::recheck(const cv::Mat& rgb_frame) {
  last_check_ = current_frame_;
  ++detector_runs_;
  const std::vector<Detection> detections = detector_.detect(rgb_frame);
  walker_x_.emplace_back(current_frame_, last_->x);
  const std::int64_t window = 8LL * options_.recheck_frames;
  std::erase_if(walker_x_, [&](const auto& e) { return e.first < current_frame_ - window; });
  const std::int64_t stale = current_frame_ - 2LL * options_.recheck_frames;
  std::erase_if(others_, [&](const Candidate& c) { return c.last_frame < stale; });

  const float walker_gate = 0.25f * roi_->size;
  for (const Detection& d : detections) {
    if (d.score < options_.min_detection_score) continue;
    const cv::Point2f hip = d.keypoints[0];
    if (cv::norm(hip - *last_) < walker_gate) continue;  // the tracked person
    // The same other person as before: the nearest within half a body (about half a second
    // of walking between checks).
    const float gate = 0.5f * roi_from_detection(d, options_.roi_scale).size;
    Candidate* match = nullptr;
    float best = gate;
    for (Candidate& c : others_) {
      const float distance = static_cast<float>(cv::norm(hip - c.last));
      if (c.last_frame < current_frame_ && distance < best) {
        best = distance;
        match = &c;
      }
    }
    if (match == nullptr) {
      if (others_.size() >= kMaxCandidates) continue;
      others_.push_back({hip, current_frame_, hip, current_frame_, d});
      continue;
    }
    match->last = hip;
    match->last_frame = current_frame_;
    match->detection = d;
    // Limit the comparison to the walker's remembered window.
    if (match->first_frame < current_frame_ - window) {
      match->first = hip;
      match->first_frame = current_frame_;
      continue;
    }
    const float travel = std::abs(match->last.x - match->first.x);
    if (travel >= options_.switch_travel_fraction * static_cast<float>(rgb_frame.cols) &&
        travel > 2.0f * walker_travel_since(match->first_frame)) {
      roi_ = roi_from_detection(match->detection, options_.roi_scale);
      last_ = hip;
      ++walker_switches_;
      others_.clear();
      walker_x_.clear();
      return;
    }
  }
}

PoseFrame PoseTracker::process(const cv::Mat& rgb_frame, std::int64_t frame_index, double time_s) {
  current_frame_ = frame_index;
  PoseFrame frame;
  frame.frame_index = frame_index;
  frame.time_s = time_s;
  if (roi_) {
    const PoseRoi tracked = *roi_;
    roi_.reset();
    if (run_landmarks(rgb_frame, tracked, frame)) {
      if (options_.recheck_frames > 0 && current_frame_ - last_check_ >= options_.recheck_frames) {
        recheck(rgb_frame);
      }
      return frame;
    }
  }
  // Lost (or never found): detect in this very frame rather than waiting for the next, so a
  // frame the tracker drops is re-found at once.
  ++detector_runs_;
  if (!last_ || current_frame_ - last_frame_ > options_.reacquire_frames) {
    // A new track: what was seen of the previous one says nothing about this one.
    walker_x_.clear();
    others_.clear();
  }
  const std::optional<Detection> walker = pick(detector_.detect(rgb_frame));
  if (!walker) return frame;
  PoseFrame detected = frame;
  if (run_landmarks(rgb_frame, roi_from_detection(*walker, options_.roi_scale), detected)) {
    last_check_ = current_frame_;  // this frame's detections were just seen
    return detected;
  }
  frame.pose_score = detected.pose_score;
  return frame;
}

namespace {

struct DecodedFrame {
  cv::Mat rgb;
  std::int64_t index = 0;
  double time_s = 0;
};

// Frames from the decoder, upright RGB at the video's own resolution, handed to `consume`
// in order. With `overlap`, a second thread decodes ahead through a queue of at most
// kPoseFramesInFlight frames; an exception on either side stops both and is rethrown here.
void for_each_frame(media::VideoDecoder& decoder, bool overlap,
                    const std::function<void(const DecodedFrame&)>& consume) {
  const auto decode_one = [&decoder](media::VideoFrame& raw, DecodedFrame& out) {
    if (!decoder.next(raw)) return false;
    const cv::Mat bgr(raw.height, raw.width, CV_8UC3, const_cast<std::uint8_t*>(raw.data),
                      static_cast<std::size_t>(raw.stride));
    cv::cvtColor(bgr, out.rgb, cv::COLOR_BGR2RGB);
    out.index = raw.index;
    out.time_s = raw.pts_s;
    return true;
  };
  media::VideoFrame raw;
  if (!overlap) {
    DecodedFrame frame;
    while (decode_one(raw, frame)) consume(frame);
    return;
  }
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<DecodedFrame> queue;
  bool done = false, stop = false;
  std::exception_ptr decode_error;
  std::thread producer([&] {
    try {
      for (;;) {
        DecodedFrame frame;
        if (!decode_one(raw, frame)) break;
        std::unique_lock lock(mutex);
        changed.wait(lock, [&] { return stop || queue.size() < kPoseFramesInFlight; });
        if (stop) break;
        queue.push_back(std::move(frame));
        changed.notify_all();
      }
    } catch (...) {
      decode_error = std::current_exception();
    }
    std::lock_guard lock(mutex);
    done = true;
    changed.notify_all();
  });
  const auto finish = [&] {
    {
      std::lock_guard lock(mutex);
      stop = true;
      changed.notify_all();
    }
    producer.join();
  };
  try {
    for (;;) {
      DecodedFrame frame;
      {
        std::unique_lock lock(mutex);
        changed.wait(lock, [&] { return done || !queue.empty(); });
        if (queue.empty()) break;
        frame = std::move(queue.front());
        queue.pop_front();
        changed.notify_all();
      }
      consume(frame);
    }
  } catch (...) {
    finish();
    throw;
  }
  finish();
  if (decode_error) std::rethrow_exception(decode_error);
}

}  // namespace

PoseVideoSummary track_video_poses(const common::FileSource& video, const PoseVideoOptions& options,
                                   const std::function<void(const PoseFrame&)>& sink) {
  PoseRuntimeOptions runtime;
  runtime.threads = options.threads;
  runtime.fusion = options.fusion;
  std::shared_ptr<PersonDetector> detector;
  std::shared_ptr<LandmarkModel> model;
  if (options.preloaded && options.preloaded->detector && options.preloaded->landmark) {
    // Process-wide, as make_opencv_* set it: the networks were loaded with the loader's count.
    cv::setNumThreads(std::max(1, options.threads));
    detector = options.preloaded->detector;
    model = options.preloaded->landmark;
  } else {
    detector = make_opencv_person_detector(options.detector_model.empty()
                                               ? detector_model_path(options.model_dir)
                                               : options.detector_model,
                                           runtime);
    model = make_opencv_landmark_model(options.landmark_model.empty()
                                           ? landmark_model_path(options.model_dir, options.variant)
                                           : options.landmark_model,
                                       runtime);
  }

  media::DecoderOptions decoding;
  decoding.max_width = 0;  // original resolution: landmarks in the video's own pixels
  decoding.max_height = 0;
  decoding.layout = media::PixelLayout::kBgr24;
  decoding.threads = options.decoder_threads;
  decoding.apply_rotation = true;
  decoding.limits = options.limits;
  media::VideoDecoder decoder(video, decoding);

  PoseVideoSummary summary;
  summary.info = decoder.info();
  PoseTracker tracker(*detector, *model, options.tracker);
  const auto emit = [&](const cv::Mat& rgb, const PoseFrame& pose) {
    ++summary.frames;
    if (pose.person) ++summary.frames_with_person;
    sink(pose);
    if (options.frame_hook) options.frame_hook(rgb, pose);
  };
  // Frames without anyone, held until the walker is found (then tracked back into them) or
  // the backfill window passes them.
  struct Held {
    cv::Mat rgb;
    PoseFrame pose;
  };
  std::deque<Held> held;
  const double fps = summary.info.fps > 0 ? summary.info.fps : 30.0;
  const std::size_t frame_bytes = static_cast<std::size_t>(std::max(1, summary.info.width)) *
                                  static_cast<std::size_t>(std::max(1, summary.info.height)) * 3;
  const std::size_t max_held =
      std::min(static_cast<std::size_t>(std::lround(options.tracker.backfill_seconds * fps)),
               options.tracker.backfill_max_bytes / frame_bytes);
  for_each_frame(decoder, options.overlap_decoding, [&](const DecodedFrame& frame) {
    PoseFrame pose = tracker.process(frame.rgb, frame.index, frame.time_s);
    if (!pose.person && max_held > 0) {
      if (held.size() == max_held) {
        emit(held.front().rgb, held.front().pose);
        held.pop_front();
      }
      held.push_back({frame.rgb.clone(), std::move(pose)});
      return;
    }
    if (pose.person && !held.empty()) {
      std::optional<PoseRoi> roi = tracker.next_roi();
      // The crop the found frame's landmarks give serves its neighbour either side.
      for (auto it = held.rbegin(); roi && it != held.rend(); ++it) {
        PoseFrame back = tracker.track_back(it->rgb, it->pose.frame_index, it->pose.time_s, *roi);
        if (!back.person) break;
        it->pose = back;
      }
      for (const Held& h : held) emit(h.rgb, h.pose);
      held.clear();
    }
    emit(frame.rgb, pose);
  });
  for (const Held& h : held) emit(h.rgb, h.pose);
  summary.detector_runs = tracker.detector_runs();
  summary.walker_switches = tracker.walker_switches();
  summary.backfilled_frames = tracker.backfilled_frames();
  summary.non_monotonic_frames = decoder.non_monotonic_frames();
  summary.sampled_out_frames = decoder.sampled_out_frames();
  return summary;
}

}  // namespace dancer::analysis

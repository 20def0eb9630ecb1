// MediaPipe-style pose tracking on decoded frames: the detector places the first crop, then
// each frame's landmarks place the next one, until the landmark model's pose flag says the
// person is gone, when the detector runs again.
//
// ROIs follow MediaPipe's pose_landmark module of the GHUM-era models (lite/full/heavy;
// google/mediapipe mediapipe/modules/pose_landmark/pose_landmarks_to_roi.pbtxt @ a9b643e0):
// AlignmentPointsRectsCalculator from point 0 (centre) to point 1 (size and rotation),
// target angle 90 degrees, square side twice their distance, then
// RectTransformationCalculator scale 1.25, square_long. From a detection the points are its
// keypoints 0 (mid-hip) and 1 (full body); from landmarks they are the auxiliary landmarks
// 33 and 34. (The older upper-body graphs used keypoints 2 and 3 and scale 1.5.)
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <optional>

#include <opencv2/core.hpp>

#include "media/video_decoder.h"
#include "pose/pose_model.h"
#include "pose/pose_track.h"

namespace dancer::analysis {

// A square crop of the frame: centre and side in frame pixels (continuous coordinates, pixel
// i spans [i, i + 1)), rotation in radians. A crop point at offset (a, b) from the centre,
// in fractions of the side, lies at centre + side * (cos r * a - sin r * b,
// sin r * a + cos r * b) in the frame (MediaPipe's LandmarkProjectionCalculator).
struct PoseRoi {
  cv::Point2f center;
  float size = 0;
  float rotation = 0;
};

// Rect from two alignment points, as AlignmentPointsRectsCalculator + RectTransformation.
PoseRoi roi_from_alignment(cv::Point2f center, cv::Point2f scale_point, float scale = 1.25f);
PoseRoi roi_from_detection(const Detection& detection, float scale = 1.25f);

// The crop resampled to side x side (bilinear); what lies off the frame repeats the edge
// pixels, as pose_landmark_by_roi's ImageToTensorCalculator (border mode unset, default
// BORDER_REPLICATE). `out` is reused between calls.
void crop_pose_roi(const cv::Mat& rgb_frame, const PoseRoi& roi, cv::Mat& out,
                   int side = kLandmarkInputSize);

// Crop pixels (x, y in [0, 256)) to frame pixels.
cv::Point2f roi_to_frame(const PoseRoi& roi, float x, float y, int side = kLandmarkInputSize);

struct PoseTrackerOptions {
  float min_detection_score = 0.5f;  // pose_detection's min_score_thresh
  float min_pose_score = 0.5f;       // pose flag below this: nobody in the crop
  float roi_scale = 1.25f;
  float min_roi_size_px = 16;  // a smaller crop is treated as lost
  // After losing the walker, a new detection within this many frames is matched to where the
  // walker was last seen (the same person re-found after a brief occlusion).
  int reacquire_frames = 30;
  // While tracking, the detector also runs every this many frames (0: never) to see who else
  // is in the scene. Another person whose hips travel horizontally by more than
  // switch_travel_fraction of the frame's width, and more than twice as far as the tracked
  // person over the same frames, is the walker: tracking moves to them. A bystander who
  // stands or sits keeps still; the person a gait recording is about crosses the scene.
  int recheck_frames = 15;
  float switch_travel_fraction = 0.15f;
  // When the walker is found after frames without anyone (entering the picture, or after a
  // loss), those frames are tracked backward from the first found one, as MediaPipe tracks
  // forward, down to the first frame the landmark model still sees the walker whole in
  // (every landmark inside the picture: a body cut by the edge gets guessed hips). The
  // detector can miss a small, blurred or partly hidden walker that the landmark model,
  // given where to look, still finds.
  // Held for this long (seconds), within backfill_max_bytes of decoded frames; 0: off.
  double backfill_seconds = 0.5;
  std::size_t backfill_max_bytes = std::size_t{96} << 20;
};

class PoseTracker {
 public:
  PoseTracker(PersonDetector& detector, LandmarkModel& model, PoseTrackerOptions options = {});

  // The pose in one frame (CV_8UC3 RGB, upright), frames in order.
  PoseFrame process(const cv::Mat& rgb_frame, std::int64_t frame_index, double time_s);

  // Where the last processed frame's landmarks put the crop of a neighbouring frame; empty
  // when that frame had nobody.
  std::optional<PoseRoi> next_roi() const { return roi_; }

  // The pose in an earlier frame than the ones processed, tracked backward: the landmark
  // model on `roi` (a later frame's next_roi, or the previous call's), which becomes the crop
  // for the frame before. No detector runs and the forward track is unchanged. person is
  // false when the model does not see the walker there, or not whole (a landmark outside
  // the picture).
  PoseFrame track_back(const cv::Mat& rgb_frame, std::int64_t frame_index, double time_s,
                       PoseRoi& roi);
  std::int64_t backfilled_frames() const { return backfilled_frames_; }

  std::int64_t detector_runs() const { return detector_runs_; }
  std::int64_t walker_switches() const { return walker_switches_; }

 private:
  // Another person seen by the periodic detector runs.
  struct Candidate {
    cv::Point2f first;  // mid-hip when first seen
    std::int64_t first_frame = 0;
    cv::Point2f last;
    std::int64_t last_frame = 0;
    Detection detection;  // the latest
  };

  bool run_landmarks(const cv::Mat& rgb_frame, const PoseRoi& roi, PoseFrame& frame);
  // The model on one crop: the frame's landmarks and the neighbouring frame's crop.
  bool landmarks_in(const cv::Mat& rgb_frame, const PoseRoi& roi, PoseFrame& frame, PoseRoi& next);
  std::optional<Detection> pick(const std::vector<Detection>& detections) const;
  void recheck(const cv::Mat& rgb_frame);
  float walker_travel_since(std::int64_t frame) const;

  PersonDetector& detector_;
  LandmarkModel& model_;
  PoseTrackerOptions options_;
  std::optional<PoseRoi> roi_;       // where to look in the next frame
  std::optional<cv::Point2f> last_;  // the walker's last mid-hip position
  std::int64_t last_frame_ = -1;
  std::int64_t current_frame_ = 0;
  std::int64_t detector_runs_ = 0;
  std::int64_t walker_switches_ = 0;
  std::int64_t backfilled_frames_ = 0;
  std::int64_t last_check_ = std::numeric_limits<std::int64_t>::min() / 2;
  std::vector<Candidate> others_;                         // at most kMaxCandidates
  std::vector<std::pair<std::int64_t, float>> walker_x_;  // tracked mid-hip x at each check
  cv::Mat crop_;
};

// A decoded frame (CV_8UC3 RGB, upright, the video's resolution) with its pose; the frame is
// valid only during the call.
using PoseFrameHook = std::function<void(const cv::Mat& rgb_frame, const PoseFrame& pose)>;

struct PoseVideoOptions {
  std::filesystem::path model_dir = default_pose_model_dir();
  // The model files themselves, when set (the sandboxed child reads them through inherited
  // descriptors); otherwise the files of `variant` in model_dir.
  common::FileSource landmark_model;
  common::FileSource detector_model;
  PoseModelVariant variant = PoseModelVariant::kFull;
  // Networks already loaded (a fork server's); when set, the files above are not read.
  std::shared_ptr<const PoseModels> preloaded;
  int threads = 1;          // inference threads
  int decoder_threads = 1;  // FFmpeg decoding threads
  // Decode the next frame on a second thread while the models run on this one (at most
  // kPoseFramesInFlight frames are held, so memory stays flat).
  bool overlap_decoding = true;
  bool fusion = true;  // PoseRuntimeOptions::fusion
  PoseTrackerOptions tracker;
  media::DecodeLimits limits;  // what the untrusted video may cost
  // Optional: also sees every decoded frame with its pose, after the sink (the recording's
  // quality checks). Runs on the inference thread, so it should be cheap.
  PoseFrameHook frame_hook;
};

inline constexpr int kPoseFramesInFlight = 2;

struct PoseVideoSummary {
  media::VideoStreamInfo info;
  std::int64_t frames = 0;
  std::int64_t frames_with_person = 0;
  std::int64_t detector_runs = 0;
  std::int64_t walker_switches = 0;       // PoseTracker::walker_switches()
  std::int64_t backfilled_frames = 0;     // PoseTracker::backfilled_frames()
  std::int64_t non_monotonic_frames = 0;  // media::VideoDecoder's counts
  std::int64_t sampled_out_frames = 0;
};

// Decodes `video` frame by frame at its own resolution (display rotation applied) and hands
// every frame's pose to `sink`, in order, then, when options.frame_hook is set, the frame
// itself with its pose. Memory stays flat: besides the frame in work, at most the backfill
// window (PoseTrackerOptions::backfill_seconds, within backfill_max_bytes) of frames without
// anyone is held, until the walker is found or the window passes. Throws
// media::MediaError for an unreadable video and PoseModelError for a missing model.
PoseVideoSummary track_video_poses(const common::FileSource& video, const PoseVideoOptions& options,
                                   const std::function<void(const PoseFrame&)>& sink);

}  // namespace dancer::analysis

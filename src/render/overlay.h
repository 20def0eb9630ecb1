// The verification video: the analysed video again, with the tracked skeleton and the foot
// events drawn on every frame, so a clinician can check what the numbers rest on. The same
// render pass captures the report's key frames (the annotated frames of chosen events).
//
// It runs after the analysis, from what the pose pass kept (SkeletonTrack: ~400 bytes per
// frame) and the events; it decodes the video a second time rather than holding frames.
// Memory stays flat: one frame is drawn and encoded at a time.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/fd.h"
#include "gait/gait_keypoints.h"
#include "media/video_decoder.h"
#include "pose/pose_track.h"
#include "render/report_types.h"

namespace dancer::analysis {

// The 33 BlazePose landmarks of every frame, reduced to what drawing needs: x and y in the
// pixels of the video frame as a player shows it (PoseFrame's), and visibility.
class SkeletonTrack {
 public:
  struct Point {
    float x = 0;
    float y = 0;
    float visibility = 0;
  };
  using Landmarks = std::array<Point, kPoseLandmarks>;

  // Frames in order (PoseFrame::frame_index); a skipped index counts as a frame without a
  // person.
  void add(const PoseFrame& frame);
  std::int64_t frames() const { return static_cast<std::int64_t>(person_.size()); }
  // Landmarks of frame `index`; nullptr when nobody was found there or it is out of range.
  const Landmarks* at(std::int64_t index) const;

 private:
  std::vector<Landmarks> landmarks_;
  std::vector<std::uint8_t> person_;
};

struct OverlayOptions {
  // Height of the video written: the picture, scaled down (never up) with its aspect ratio
  // kept, plus the timeline strip under it (4.5% of the picture's height); even dimensions
  // (yuv420p).
  int max_height = 720;
  // Per frame: which of the pose model's sides (0: its left, 1: its right) is the leg named
  // left there (WalkingPass::model_side_of_left), or -1 outside walking passes, where the
  // legs are drawn neutral grey. Frames past the end count as -1. See left_model_sides().
  std::vector<std::int8_t> left_model_side;
  // Frames (0-based, decode order) to capture as key frames, e.g. the initial contacts.
  std::vector<std::int64_t> key_frames;
  int key_frame_width = 480;   // key frame PNGs are scaled to this width
  double event_label_s = 0.3;  // how long an event's label ("L IC") stays on screen
  int crf = 23;                // libx264 quality (media::VideoEncoderOptions)
  std::string preset = "veryfast";
  int decoder_threads = 0;  // 0: one per core and one more (media::DecoderOptions)
  int encoder_threads = 0;  // 0: libx264's choice
  // The pose pass's decoding limits: the same frames must come out (frame-rate sampling).
  media::DecodeLimits limits;
  // When it turns true, rendering stops with RenderCancelled. May be null.
  const std::atomic<bool>* cancel = nullptr;
};

// Rendering stopped because OverlayOptions::cancel turned true (service shutdown); the
// analyzer maps it to AnalysisError(kCancelled).
class RenderCancelled : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct OverlayResult {
  std::int64_t frames = 0;  // frames drawn
  int width = 0;            // of the video written
  int height = 0;
  std::int64_t video_bytes = 0;  // size of the MP4 written, 0 without one
  // One per requested key frame the video has, in frame order, each with its events as
  // the caption ("left initial contact"): the annotated picture without the timeline strip,
  // as PNG scaled to key_frame_width.
  std::vector<KeyFrameImage> key_frames;
};

// OverlayOptions::left_model_side from the walking passes of the analysis.
std::vector<std::int8_t> left_model_sides(const std::vector<WalkingPass>& passes,
                                          std::int64_t frames);

// Decodes `video` (display rotation applied, as the pose pass decoded it, so frame indices
// and landmark pixels match), draws on each frame the skeleton (the named left leg sky
// blue, the named right leg orange: Okabe-Ito colours, distinct under every common colour
// vision deficiency; landmarks with visibility below 0.3 left out), the label of each event
// for event_label_s after it, and, in a strip under the picture (over it, it would hide the
// feet), a timeline of all events with the playhead.
// With mp4_fd >= 0 the frames are encoded there as an H.264 faststart MP4 at the source's
// frame times (media::VideoEncoder: the descriptor must be an empty regular file open
// O_RDWR); with mp4_fd < 0 only the key frames are made, and decoding stops after the last.
// Throws media::MediaError (unreadable video, failed write) and AnalysisError(kCancelled).
OverlayResult render_overlay(const common::FileSource& video, const SkeletonTrack& skeleton,
                             const std::vector<FootEvent>& events, const OverlayOptions& options,
                             int mp4_fd = -1);

}  // namespace dancer::analysis

#include "render/overlay.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <optional>
#include <set>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "media/png_encoder.h"
#include "media/video_decoder.h"
#include "media/video_encoder.h"
#include "pose/blazepose.h"

namespace dancer::analysis {
namespace {

// Okabe & Ito (2008), "Color Universal Design": sky blue and orange stay distinct under
// protanopia, deuteranopia and tritanopia. BGR.
const cv::Scalar kLeftColour(233, 180, 86);      // sky blue #56B4E9
const cv::Scalar kRightColour(0, 159, 230);      // orange #E69F00
const cv::Scalar kNeutralColour(160, 160, 160);  // a leg outside walking passes
const cv::Scalar kBodyColour(255, 255, 255);
const cv::Scalar kOutline(0, 0, 0);
constexpr float kMinVisibility = 0.3f;
constexpr int kShift = 4;  // OpenCV drawing with 4 fractional bits: sub-pixel positions
constexpr double kOne = 1 << kShift;

// The colour group of a landmark or connection: the body, or the model's left or right leg.
enum class Part { kBody, kModelLeftLeg, kModelRightLeg };

Part part_of_landmark(int k) {
  const int side = blazepose::leg_side(k);
  if (side < 0) return Part::kBody;
  return side == 0 ? Part::kModelLeftLeg : Part::kModelRightLeg;
}

// A connection belongs to a leg when both its ends do (the hips' bar is the body's).
Part part_of(const blazepose::Connection& c) {
  const Part a = part_of_landmark(c.a);
  return a == part_of_landmark(c.b) ? a : Part::kBody;
}

const cv::Scalar& foot_colour(Foot foot) {
  return foot == Foot::kLeft ? kLeftColour : kRightColour;
}

// The colour of a part given which model side is the named left leg (-1: not in a pass).
const cv::Scalar& part_colour(Part part, int left_side) {
  if (part == Part::kBody) return kBodyColour;
  if (left_side < 0) return kNeutralColour;
  const int model_side = part == Part::kModelLeftLeg ? 0 : 1;
  return model_side == left_side ? kLeftColour : kRightColour;
}

const char* event_words(FootEventType type) {
  return type == FootEventType::kInitialContact ? "initial contact" : "toe off";
}

// The timeline strip under the picture: 4.5% of the picture's height, at least 12 lines, even
// (yuv420p).
int timeline_height(int picture_height) {
  return std::max(12, static_cast<int>(std::lround(picture_height * 0.045 / 2)) * 2);
}

struct EventMark {
  const FootEvent* event;
  std::string label;  // "L IC"
};

// Everything that stays the same from frame to frame. The canvas is the picture (width x
// height) with the timeline strip below it.
class Painter {
 public:
  Painter(int width, int height, double scale_x, double scale_y, std::int64_t total_frames,
          const std::vector<FootEvent>& events, const OverlayOptions& options)
      : width_(width),
        height_(height),
        scale_x_(scale_x),
        scale_y_(scale_y),
        total_frames_(std::max<std::int64_t>(1, total_frames)),
        options_(options),
        // At least 3 px (4 at 720 lines): yuv420p keeps one colour sample per 2x2 pixels, so a
        // thinner line's colour bleeds into its black outline.
        thickness_(std::max(3, static_cast<int>(std::lround(height / 180.0)))),
        font_scale_(std::max(0.4, height / 720.0 * 0.8)),
        font_thickness_(std::max(1, static_cast<int>(std::lround(height / 360.0)))),
        bar_height_(timeline_height(height)) {
    for (const FootEvent& e : events) {
      // A contact or toe-off on weak evidence (FootEvent::low_confidence) carries a question
      // mark, so whoever checks the video knows which ones to look at closely.
      marks_.push_back({&e, std::string(e.foot == Foot::kLeft ? "L " : "R ") +
                                (e.type == FootEventType::kInitialContact ? "IC" : "TO") +
                                (e.low_confidence ? " ?" : "")});
    }
    build_timeline();
  }

  void draw(cv::Mat& canvas, std::int64_t frame, double time_s,
            const SkeletonTrack::Landmarks* landmarks) const {
    const int left_side = left_side_at(frame);
    if (landmarks != nullptr) draw_skeleton(canvas, *landmarks, left_side);
    draw_events(canvas, frame, time_s, landmarks, left_side);
    draw_clock(canvas, frame, time_s);
    draw_timeline(canvas, frame);
  }

 private:
  int left_side_at(std::int64_t frame) const {
    const auto& sides = options_.left_model_side;
    if (frame < 0 || frame >= static_cast<std::int64_t>(sides.size())) return -1;
    const int side = sides[static_cast<std::size_t>(frame)];
    return side == 0 || side == 1 ? side : -1;
  }

  // Landmark pixels (continuous: pixel i spans [i, i + 1)) to OpenCV's fixed-point drawing
  // coordinates, in which pixel i's centre is i.
  cv::Point to_canvas(const SkeletonTrack::Point& p) const {
    return {static_cast<int>(std::lround((p.x * scale_x_ - 0.5) * kOne)),
            static_cast<int>(std::lround((p.y * scale_y_ - 0.5) * kOne))};
  }

  static bool visible(const SkeletonTrack::Point& p) { return p.visibility >= kMinVisibility; }

  void draw_skeleton(cv::Mat& canvas, const SkeletonTrack::Landmarks& lm, int left_side) const {
    // Black underneath first, so the lines stand out on light and dark backgrounds alike.
    for (int pass = 0; pass < 2; ++pass) {
      for (const blazepose::Connection& s : blazepose::kConnections) {
        if (!visible(lm[s.a]) || !visible(lm[s.b])) continue;
        const cv::Scalar& colour = pass == 0 ? kOutline : part_colour(part_of(s), left_side);
        cv::line(canvas, to_canvas(lm[s.a]), to_canvas(lm[s.b]), colour,
                 thickness_ + (pass == 0 ? 2 : 0), cv::LINE_AA, kShift);
      }
    }
    const int radius = static_cast<int>((thickness_ + 1) * kOne);
    for (int k = blazepose::kLeftShoulder; k < blazepose::kLandmarkCount; ++k) {  // not the face
      if (!visible(lm[static_cast<std::size_t>(k)])) continue;
      const cv::Point c = to_canvas(lm[static_cast<std::size_t>(k)]);
      cv::circle(canvas, c, radius, part_colour(part_of_landmark(k), left_side), cv::FILLED,
                 cv::LINE_AA, kShift);
      cv::circle(canvas, c, radius, kOutline, 1, cv::LINE_AA, kShift);
    }
  }

  void draw_events(cv::Mat& canvas, std::int64_t frame, double time_s,
                   const SkeletonTrack::Landmarks* lm, int left_side) const {
    const int margin = std::max(4, height_ / 90);
    int y = margin;
    for (const EventMark& m : marks_) {
      const FootEvent& e = *m.event;
      if (frame < e.frame || time_s >= e.time_s + options_.event_label_s) continue;
      const cv::Scalar& colour = foot_colour(e.foot);
      int baseline = 0;
      const cv::Size text = cv::getTextSize(m.label, cv::FONT_HERSHEY_SIMPLEX, font_scale_,
                                            font_thickness_, &baseline);
      const int pad = std::max(3, text.height / 3);
      const cv::Rect box(margin, y, text.width + 2 * pad, text.height + baseline + 2 * pad);
      cv::rectangle(canvas, box, colour, cv::FILLED);
      cv::putText(canvas, m.label, {box.x + pad, box.y + pad + text.height},
                  cv::FONT_HERSHEY_SIMPLEX, font_scale_, kOutline, font_thickness_, cv::LINE_AA);
      y += box.height + margin / 2;
      // A ring around the heel of the named foot, where the pass tells which model side it is.
      if (lm != nullptr && left_side >= 0) {
        const int model_side = e.foot == Foot::kLeft ? left_side : 1 - left_side;
        const auto& heel = (*lm)[static_cast<std::size_t>(blazepose::kSides[model_side].heel)];
        if (visible(heel)) {
          const int radius = static_cast<int>(4 * thickness_ * kOne);
          cv::circle(canvas, to_canvas(heel), radius, kOutline, thickness_ + 2, cv::LINE_AA,
                     kShift);
          cv::circle(canvas, to_canvas(heel), radius, colour, thickness_, cv::LINE_AA, kShift);
        }
      }
    }
  }

  void draw_clock(cv::Mat& canvas, std::int64_t frame, double time_s) const {
    char text[64];
    std::snprintf(text, sizeof text, "%.2f s  frame %lld", time_s, static_cast<long long>(frame));
    const double scale = font_scale_ * 0.7;
    int baseline = 0;
    const cv::Size size =
        cv::getTextSize(text, cv::FONT_HERSHEY_SIMPLEX, scale, font_thickness_, &baseline);
    const int margin = std::max(4, height_ / 90);
    const cv::Point origin(width_ - size.width - 2 * margin, margin + size.height + margin / 2);
    cv::rectangle(canvas, {origin.x - margin / 2, origin.y - size.height - margin / 2},
                  {origin.x + size.width + margin / 2, origin.y + baseline + margin / 2},
                  cv::Scalar(0, 0, 0), cv::FILLED);
    cv::putText(canvas, text, origin, cv::FONT_HERSHEY_SIMPLEX, scale, kBodyColour, font_thickness_,
                cv::LINE_AA);
  }

  int timeline_x(std::int64_t frame) const {
    const double x = (static_cast<double>(frame) + 0.5) * width_ / total_frames_;
    return std::clamp(static_cast<int>(x), 0, width_ - 1);
  }

  // The strip drawn under the playhead: walking passes lighter, initial contacts as full
  // ticks and toe-offs as half ticks, each in its foot's colour (capped white when of low
  // confidence).
  void build_timeline() {
    timeline_ = cv::Mat(bar_height_, width_, CV_8UC3, cv::Scalar(35, 35, 35));
    const int band = bar_height_ / 4;
    for (std::int64_t f = 0; f < total_frames_; ++f) {
      if (left_side_at(f) < 0) continue;
      const int x0 = timeline_x(f);
      const int x1 = std::max(x0, timeline_x(f + 1) - 1);
      cv::rectangle(timeline_, cv::Point(x0, band), cv::Point(x1, bar_height_ - band - 1),
                    cv::Scalar(90, 90, 90), cv::FILLED);
    }
    const int tick = std::max(3, width_ / 320);
    for (const EventMark& m : marks_) {
      const int x = timeline_x(m.event->frame);
      const int top = m.event->type == FootEventType::kInitialContact ? 0 : bar_height_ / 2;
      cv::rectangle(timeline_, cv::Point(x - tick / 2, top),
                    cv::Point(x - tick / 2 + tick - 1, bar_height_ - 1), foot_colour(m.event->foot),
                    cv::FILLED);
      // Low confidence: a white cap over the strip's top quarter (the tick keeps its colour,
      // which yuv420p would blur out of a one-pixel outline).
      if (m.event->low_confidence) {
        cv::rectangle(timeline_, cv::Point(x - tick / 2, 0),
                      cv::Point(x - tick / 2 + tick - 1, std::max(0, bar_height_ / 4 - 1)),
                      kBodyColour, cv::FILLED);
      }
    }
  }

  void draw_timeline(cv::Mat& canvas, std::int64_t frame) const {
    cv::Mat roi = canvas(cv::Rect(0, height_, width_, bar_height_));
    timeline_.copyTo(roi);
    const int x = timeline_x(frame);
    const int w = std::max(2, width_ / 320);
    cv::rectangle(roi, cv::Point(x - w / 2, 0), cv::Point(x - w / 2 + w - 1, bar_height_ - 1),
                  kBodyColour, cv::FILLED);
  }

  int width_;
  int height_;
  double scale_x_;
  double scale_y_;
  std::int64_t total_frames_;
  const OverlayOptions& options_;
  int thickness_;
  double font_scale_;
  int font_thickness_;
  int bar_height_;
  std::vector<EventMark> marks_;
  cv::Mat timeline_;
};

std::string caption_of(std::int64_t frame, const std::vector<FootEvent>& events) {
  std::string caption;
  for (const FootEvent& e : events) {
    if (e.frame != frame) continue;
    if (!caption.empty()) caption += "; ";
    caption += std::string(to_string(e.foot)) + " " + event_words(e.type);
    if (e.low_confidence) caption += " (low confidence)";
  }
  return caption.empty() ? "frame " + std::to_string(frame) : caption;
}

}  // namespace

void SkeletonTrack::add(const PoseFrame& frame) {
  if (frame.frame_index < frames()) return;  // out of order: keep the first
  landmarks_.resize(static_cast<std::size_t>(frame.frame_index) + 1);
  person_.resize(landmarks_.size(), 0);
  if (!frame.person) return;
  Landmarks& out = landmarks_.back();
  for (std::size_t k = 0; k < out.size(); ++k) {
    out[k] = {frame.landmarks[k].x, frame.landmarks[k].y, frame.landmarks[k].visibility};
  }
  person_.back() = 1;
}

const SkeletonTrack::Landmarks* SkeletonTrack::at(std::int64_t index) const {
  if (index < 0 || index >= frames() || person_[static_cast<std::size_t>(index)] == 0) {
    return nullptr;
  }
  return &landmarks_[static_cast<std::size_t>(index)];
}

std::vector<std::int8_t> left_model_sides(const std::vector<WalkingPass>& passes,
                                          std::int64_t frames) {
  std::vector<std::int8_t> sides(static_cast<std::size_t>(std::max<std::int64_t>(0, frames)), -1);
  for (const WalkingPass& p : passes) {
    for (std::size_t i = 0; i < p.model_side_of_left.size(); ++i) {
      const std::int64_t f = p.first_frame + static_cast<std::int64_t>(i);
      if (f < 0 || f >= frames || f > p.last_frame) continue;
      sides[static_cast<std::size_t>(f)] = p.model_side_of_left[i] == 0 ? 0 : 1;
    }
  }
  return sides;
}

OverlayResult render_overlay(const common::FileSource& video, const SkeletonTrack& skeleton,
                             const std::vector<FootEvent>& events, const OverlayOptions& options,
                             int mp4_fd) {
  media::DecoderOptions decoding;
  decoding.max_width = 0;
  // The timeline goes under the picture (drawn over it, it would hide the feet at the bottom
  // of the frame); together they stay within max_height.
  decoding.max_height = std::max(2, options.max_height - timeline_height(options.max_height));
  decoding.layout = media::PixelLayout::kBgr24;
  decoding.threads = options.decoder_threads;
  decoding.apply_rotation = true;  // as track_video_poses: landmarks are upright pixels
  decoding.limits = options.limits;
  media::VideoDecoder decoder(video, decoding);
  const media::VideoStreamInfo& info = decoder.info();

  // Landmarks are in the pixels of the upright frame at its own size.
  const bool quarter_turn = info.rotation_degrees == 90 || info.rotation_degrees == 270;
  const double upright_width = quarter_turn ? info.coded_height : info.coded_width;
  const double upright_height = quarter_turn ? info.coded_width : info.coded_height;
  // The decoder keeps an unscaled frame's own size, which may be odd; yuv420p needs even.
  const int width = info.width & ~1;
  const int height = info.height & ~1;
  if (width < 2 || height < 2) {
    throw media::MediaError(media::MediaErrorCode::kInvalidData, "video frames too small");
  }
  const int canvas_height = height + timeline_height(height);

  std::int64_t total = skeleton.frames();
  if (total <= 0) total = info.frame_count;
  if (total <= 0 && info.fps > 0) total = std::llround(info.duration_s * info.fps);
  for (const FootEvent& e : events) total = std::max(total, e.frame + 1);
  const Painter painter(width, height, info.width / upright_width, info.height / upright_height,
                        total, events, options);

  std::optional<media::VideoEncoder> encoder;
  if (mp4_fd >= 0) {
    media::VideoEncoderOptions encoding;
    encoding.width = width;
    encoding.height = canvas_height;
    encoding.fps = info.fps > 0 ? info.fps : 30.0;  // the frames' own times still apply
    encoding.crf = options.crf;
    encoding.preset = options.preset;
    encoding.threads = options.encoder_threads;
    encoder.emplace(mp4_fd, encoding);
  }

  const std::set<std::int64_t> wanted(options.key_frames.begin(), options.key_frames.end());
  auto next_key = wanted.begin();
  OverlayResult result;
  result.width = width;
  result.height = canvas_height;
  cv::Mat canvas(canvas_height, width, CV_8UC3);
  const cv::Mat picture = canvas(cv::Rect(0, 0, width, height));
  cv::Mat still;
  media::VideoFrame frame;
  while ((encoder || next_key != wanted.end()) && decoder.next(frame)) {
    if (options.cancel != nullptr && options.cancel->load()) {
      throw RenderCancelled("rendering cancelled by shutdown");
    }
    for (int y = 0; y < height; ++y) {
      std::memcpy(canvas.ptr(y), frame.data + static_cast<std::ptrdiff_t>(y) * frame.stride,
                  static_cast<std::size_t>(width) * 3);
    }
    painter.draw(canvas, frame.index, frame.pts_s, skeleton.at(frame.index));
    while (next_key != wanted.end() && *next_key < frame.index) ++next_key;
    if (next_key != wanted.end() && *next_key == frame.index) {
      const int still_width = options.key_frame_width > 0 ? options.key_frame_width : width;
      const int still_height = std::max(
          1, static_cast<int>(std::lround(static_cast<double>(still_width) * height / width)));
      cv::resize(picture, still, cv::Size(still_width, still_height), 0, 0,
                 still_width < width ? cv::INTER_AREA : cv::INTER_LINEAR);
      KeyFrameImage image;
      image.frame = frame.index;
      image.time_s = frame.pts_s;
      image.caption = caption_of(frame.index, events);
      image.png = media::encode_png(still.data, still.cols, still.rows,
                                    static_cast<int>(still.step), media::PixelLayout::kBgr24);
      result.key_frames.push_back(std::move(image));
      ++next_key;
    }
    if (encoder) encoder->write_bgr(canvas.data, static_cast<int>(canvas.step), frame.pts_s);
    ++result.frames;
  }
  if (encoder) {
    encoder->finish();
    result.video_bytes = encoder->bytes_written();
  }
  return result;
}

}  // namespace dancer::analysis

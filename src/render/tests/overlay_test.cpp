// The verification video and key frames (render_overlay): on a real walk tracked by the pose
// pass, on synthetic skeletons where every pixel's colour is known, and inside the sandbox.
#include "render/overlay.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "gait/gait_keypoints.h"
#include "media/video_decoder.h"
#include "pose/pose_tracker.h"
#include "sandbox/sandbox.h"
#include "support/test_support.h"

namespace dancer::analysis {
namespace {

using dancer::testing::run_command;
using dancer::testing::shared_test_data;
using dancer::testing::shell_quote;
using dancer::testing::TempDir;

// Colours of overlay.cpp (BGR).
constexpr int kSkyBlue[3] = {233, 180, 86};
constexpr int kOrange[3] = {0, 159, 230};
constexpr int kGrey[3] = {160, 160, 160};

using Fd = dancer::testing::OpenFile;

nlohmann::json ffprobe(const std::filesystem::path& path) {
  const auto r = run_command(
      "ffprobe -v error -count_frames -select_streams v:0 -show_entries "
      "stream=codec_name,width,height,nb_read_frames,duration,avg_frame_rate -of json " +
      shell_quote(path.string()));
  EXPECT_EQ(r.exit_code, 0);
  return nlohmann::json::parse(r.output).at("streams").at(0);
}

bool moov_before_mdat(const std::filesystem::path& path) {
  const auto boxes = dancer::testing::mp4_top_level_boxes(path);
  const auto moov = std::find(boxes.begin(), boxes.end(), "moov");
  const auto mdat = std::find(boxes.begin(), boxes.end(), "mdat");
  return moov != boxes.end() && mdat != boxes.end() && moov < mdat;
}

bool near_colour(const std::uint8_t* p, const int (&colour)[3], int tolerance = 45) {
  for (int c = 0; c < 3; ++c) {
    if (std::abs(p[c] - colour[c]) > tolerance) return false;
  }
  return true;
}

// Decoded BGR frames of a file (scaled to at most max_height lines; 0: unscaled), the first
// `count` of them (0: all).
std::vector<std::vector<std::uint8_t>> decode(const std::filesystem::path& path, int& width,
                                              int& height, int max_height = 0,
                                              std::size_t count = 0) {
  media::DecoderOptions options;
  options.layout = media::PixelLayout::kBgr24;
  options.max_width = 0;
  options.max_height = max_height;
  options.containers.clear();  // key frames are PNG stills
  media::VideoDecoder decoder(path, options);
  std::vector<std::vector<std::uint8_t>> frames;
  media::VideoFrame f;
  while ((count == 0 || frames.size() < count) && decoder.next(f)) {
    width = f.width;
    height = f.height;
    std::vector<std::uint8_t> rows(static_cast<std::size_t>(f.width) * f.height * 3);
    for (int y = 0; y < f.height; ++y) {
      std::copy_n(f.data + static_cast<std::ptrdiff_t>(y) * f.stride, f.width * 3,
                  rows.data() + static_cast<std::ptrdiff_t>(y) * f.width * 3);
    }
    frames.push_back(std::move(rows));
  }
  return frames;
}

// Frame `index` alone.
std::vector<std::uint8_t> decode_frame(const std::filesystem::path& path, std::int64_t index,
                                       int& width, int& height, int max_height = 0) {
  media::DecoderOptions options;
  options.layout = media::PixelLayout::kBgr24;
  options.max_width = 0;
  options.max_height = max_height;
  media::VideoDecoder decoder(path, options);
  media::VideoFrame f;
  while (decoder.next(f)) {
    if (f.index != index) continue;
    width = f.width;
    height = f.height;
    std::vector<std::uint8_t> rows(static_cast<std::size_t>(f.width) * f.height * 3);
    for (int y = 0; y < f.height; ++y) {
      std::copy_n(f.data + static_cast<std::ptrdiff_t>(y) * f.stride, f.width * 3,
                  rows.data() + static_cast<std::ptrdiff_t>(y) * f.width * 3);
    }
    return rows;
  }
  ADD_FAILURE() << path << " has no frame " << index;
  return {};
}

// ---------------------------------------------------------------------------------------
// The pieces

TEST(SkeletonTrack, KeepsPositionsAndVisibilityInAboutFourHundredBytesPerFrame) {
  static_assert(sizeof(SkeletonTrack::Landmarks) == 33 * 12);
  SkeletonTrack track;
  PoseFrame f;
  f.frame_index = 0;
  f.person = true;
  for (int k = 0; k < kPoseLandmarks; ++k) {
    f.landmarks[static_cast<std::size_t>(k)] = {10.0f + k, 20.0f + k, 5.0f, 0.25f + k * 0.01f, 1};
  }
  track.add(f);
  PoseFrame nobody;
  nobody.frame_index = 1;
  track.add(nobody);
  f.frame_index = 4;  // frames 2 and 3 never came: nobody there
  track.add(f);
  EXPECT_EQ(track.frames(), 5);
  ASSERT_NE(track.at(0), nullptr);
  EXPECT_FLOAT_EQ((*track.at(0))[29].x, 39.0f);
  EXPECT_FLOAT_EQ((*track.at(0))[29].y, 49.0f);
  EXPECT_FLOAT_EQ((*track.at(0))[29].visibility, 0.54f);
  EXPECT_EQ(track.at(1), nullptr);
  EXPECT_EQ(track.at(2), nullptr);
  EXPECT_EQ(track.at(3), nullptr);
  ASSERT_NE(track.at(4), nullptr);
  EXPECT_EQ(track.at(5), nullptr);
  EXPECT_EQ(track.at(-1), nullptr);
}

TEST(LeftModelSides, FollowEachPassAndAreUnsetOutside) {
  WalkingPass a;
  a.first_frame = 2;
  a.last_frame = 4;
  a.model_side_of_left = {0, 1, 1};
  WalkingPass b;
  b.first_frame = 7;
  b.last_frame = 9;
  b.model_side_of_left = {1, 0, 0};  // its last frame lies past the video's end
  EXPECT_EQ(left_model_sides({a, b}, 9), (std::vector<std::int8_t>{-1, -1, 0, 1, 1, -1, -1, 1, 0}));
}

// ---------------------------------------------------------------------------------------
// Synthetic skeletons on a plain clip: every colour is known.

// A gray clip of 10 frames at 10 fps stored as 360x640 with a display matrix that shows it
// as 640x360 (a phone video): the landmarks are in the displayed frame's pixels.
std::filesystem::path make_turned_gray_clip(const TempDir& dir) {
  const auto plain = dir / "plain.mp4";
  const auto turned = dir / "turned.mp4";
  const std::string ffmpeg = "ffmpeg -nostdin -v error -y ";
  EXPECT_EQ(run_command(ffmpeg +
                        "-f lavfi -i color=c=0x606060:size=360x640:rate=10 -frames:v 10 -c:v "
                        "libx264 -pix_fmt yuv420p " +
                        shell_quote(plain.string()))
                .exit_code,
            0);
  // FFmpeg 5.1 writes the rotate tag as a display matrix only when copying the stream.
  EXPECT_EQ(run_command(ffmpeg + "-i " + shell_quote(plain.string()) +
                        " -c copy -metadata:s:v:0 rotate=90 " + shell_quote(turned.string()))
                .exit_code,
            0);
  return turned;
}

// A standing figure in 640x360 display pixels: the model's left leg at x = 160, its right
// leg at x = 480, hips at y = 100 down to the toes at y = 320.
PoseFrame standing_figure(std::int64_t index) {
  PoseFrame f;
  f.frame_index = index;
  f.time_s = index / 10.0;
  f.person = true;
  for (auto& l : f.landmarks) l = {320, 40, 0, 0.0f, 1};  // face and arms: not visible
  const float ys[] = {100, 180, 260, 300, 320};           // hip, knee, ankle, heel, foot index
  const int left[] = {23, 25, 27, 29, 31};
  const int right[] = {24, 26, 28, 30, 32};
  for (int i = 0; i < 5; ++i) {
    f.landmarks[static_cast<std::size_t>(left[i])] = {160, ys[i], 0, 0.9f, 1};
    f.landmarks[static_cast<std::size_t>(right[i])] = {480, ys[i], 0, 0.9f, 1};
  }
  return f;
}

TEST(Overlay, LegsTakeTheColourOfTheirNamedSideAndGreyOutsidePasses) {
  TempDir dir;
  const auto clip = make_turned_gray_clip(dir);
  SkeletonTrack track;
  for (int i = 0; i < 10; ++i) {
    PoseFrame f = standing_figure(i);
    if (i == 2) f.landmarks[25].visibility = 0.2f;  // the left knee: hip-knee-ankle not drawn
    track.add(f);
  }
  FootEvent contact;
  contact.foot = Foot::kLeft;
  contact.type = FootEventType::kInitialContact;
  contact.frame = 3;
  contact.time_s = 0.3;
  OverlayOptions options;
  options.max_height = 192;  // 640x360 shown, drawn at 320x180 over a 12-line timeline
  // Frames 0-4: the model's left leg is the named left; 5-7: the right one; 8-9: no pass.
  options.left_model_side = {0, 0, 0, 0, 0, 1, 1, 1, -1, -1};
  const auto out = dir / "overlay.mp4";
  OverlayResult result;
  {
    Fd fd(out, O_RDWR | O_CREAT | O_TRUNC);
    result = render_overlay(clip, track, {contact}, options, fd.get());
  }
  EXPECT_EQ(result.frames, 10);
  EXPECT_EQ(result.width, 320);
  EXPECT_EQ(result.height, 192);
  EXPECT_GT(result.video_bytes, 0);
  EXPECT_TRUE(moov_before_mdat(out));

  int width = 0, height = 0;
  const auto frames = decode(out, width, height);
  ASSERT_EQ(frames.size(), 10u);
  ASSERT_EQ(width, 320);
  ASSERT_EQ(height, 192);
  // Mid-shin of each leg (display y = 220, drawn at 110), model left at x = 80, right at 240.
  const auto pixel = [&](std::size_t frame, int x, int y) {
    return frames[frame].data() + (static_cast<std::size_t>(y) * width + x) * 3;
  };
  for (std::size_t f : {0u, 4u}) {
    EXPECT_TRUE(near_colour(pixel(f, 80, 110), kSkyBlue)) << f;
    EXPECT_TRUE(near_colour(pixel(f, 240, 110), kOrange)) << f;
  }
  for (std::size_t f : {5u, 7u}) {  // the pass names the model's right leg left
    EXPECT_TRUE(near_colour(pixel(f, 80, 110), kOrange)) << f;
    EXPECT_TRUE(near_colour(pixel(f, 240, 110), kSkyBlue)) << f;
  }
  for (std::size_t f : {8u, 9u}) {
    EXPECT_TRUE(near_colour(pixel(f, 80, 110), kGrey)) << f;
    EXPECT_TRUE(near_colour(pixel(f, 240, 110), kGrey)) << f;
  }
  // Frame 2: the thigh and shin of the leg with the invisible knee are left out (background
  // gray); the other leg is drawn.
  EXPECT_TRUE(near_colour(pixel(2, 80, 70), {96, 96, 96}, 20));
  EXPECT_TRUE(near_colour(pixel(2, 80, 110), {96, 96, 96}, 20));
  EXPECT_TRUE(near_colour(pixel(2, 240, 70), kOrange));
  // Away from the legs, the frame is the source's gray.
  EXPECT_TRUE(near_colour(pixel(0, 160, 110), {96, 96, 96}, 20));
  // "L IC" in a sky-blue box at the top left for 0.3 s after the contact (frames 3-5), not
  // before it nor after.
  const auto label_pixels = [&](std::size_t f) {
    int n = 0;
    for (int y = 0; y < 40; ++y) {
      for (int x = 0; x < 80; ++x) n += near_colour(pixel(f, x, y), kSkyBlue) ? 1 : 0;
    }
    return n;
  };
  EXPECT_EQ(label_pixels(2), 0);
  EXPECT_GT(label_pixels(3), 100);
  EXPECT_GT(label_pixels(4), 100);
  EXPECT_EQ(label_pixels(7), 0);
  // The timeline under the picture: a sky-blue tick at frame 3's place ((3 + 0.5) / 10 of
  // the width; the bluest column of the strip), and the white playhead moving along it.
  const int bar_y = height - 3;
  int tick_x = -1;
  int bluest = 0;
  for (int x = 0; x < width; ++x) {
    const std::uint8_t* p = pixel(0, x, bar_y);
    if (p[0] - p[2] > bluest) {
      bluest = p[0] - p[2];
      tick_x = x;
    }
  }
  EXPECT_GT(bluest, 60);
  EXPECT_NEAR(tick_x, 3.5 * width / 10, 3);
  for (std::size_t f : {0u, 9u}) {
    const int x = static_cast<int>((f + 0.5) * width / 10);
    EXPECT_TRUE(near_colour(pixel(f, x, bar_y), {255, 255, 255}, 40)) << f;
  }
}

TEST(Overlay, KeyFramesAlonePngsAtTheRequestedWidthAndDecodingStopsAfterTheLast) {
  TempDir dir;
  const auto clip = make_turned_gray_clip(dir);
  SkeletonTrack track;
  for (int i = 0; i < 10; ++i) track.add(standing_figure(i));
  FootEvent right_contact;
  right_contact.foot = Foot::kRight;
  right_contact.frame = 6;
  right_contact.time_s = 0.6;
  FootEvent left_off;
  left_off.foot = Foot::kLeft;
  left_off.type = FootEventType::kToeOff;
  left_off.frame = 6;
  left_off.time_s = 0.61;
  left_off.low_confidence = true;  // named as such in the caption
  OverlayOptions options;
  options.max_height = 192;
  options.left_model_side.assign(10, 0);
  options.key_frames = {6, 1, 6, 50};  // unordered, repeated, and past the end
  options.key_frame_width = 200;
  const OverlayResult result = render_overlay(clip, track, {right_contact, left_off}, options, -1);
  EXPECT_EQ(result.video_bytes, 0);
  EXPECT_EQ(result.frames, 10);  // frame 50 never came: decoded to the end
  ASSERT_EQ(result.key_frames.size(), 2u);
  EXPECT_EQ(result.key_frames[0].frame, 1);
  EXPECT_EQ(result.key_frames[0].caption, "frame 1");
  EXPECT_NEAR(result.key_frames[0].time_s, 0.1, 1e-6);
  EXPECT_EQ(result.key_frames[1].frame, 6);
  EXPECT_EQ(result.key_frames[1].caption, "right initial contact; left toe off (low confidence)");
  for (const KeyFrameImage& k : result.key_frames) {
    const auto png = dir / ("key" + std::to_string(k.frame) + ".png");
    {
      Fd fd(png, O_RDWR | O_CREAT | O_TRUNC);
      ASSERT_EQ(::write(fd.get(), k.png.data(), k.png.size()), static_cast<ssize_t>(k.png.size()));
    }
    int width = 0, height = 0;
    const auto frames = decode(png, width, height);
    ASSERT_EQ(frames.size(), 1u);
    EXPECT_EQ(width, 200);
    EXPECT_EQ(height, 113);  // the picture without the timeline: 200 * 180 / 320, rounded
    // The model's left leg, named left: sky blue at x = 160 * 200/640, y = 220 * 113/360.
    EXPECT_TRUE(near_colour(frames[0].data() + (69u * 200 + 50) * 3, kSkyBlue, 30)) << k.frame;
  }

  options.key_frames = {4};
  const OverlayResult early = render_overlay(clip, track, {}, options, -1);
  EXPECT_EQ(early.frames, 5);  // no video wanted: stops after frame 4
  ASSERT_EQ(early.key_frames.size(), 1u);
}

TEST(Overlay, CancelStopsRendering) {
  TempDir dir;
  const auto clip = make_turned_gray_clip(dir);
  std::atomic<bool> cancel{true};
  OverlayOptions options;
  options.cancel = &cancel;
  Fd fd(dir / "cancelled.mp4", O_RDWR | O_CREAT | O_TRUNC);
  try {
    render_overlay(clip, SkeletonTrack{}, {}, options, fd.get());
    ADD_FAILURE() << "not cancelled";
  } catch (const RenderCancelled& e) {
    EXPECT_NE(std::string(e.what()).find("cancelled"), std::string::npos);
  }
}

// ---------------------------------------------------------------------------------------
// A real walk: the outdoor clip (1920x1080 at 59.7 fps, 135 frames, one stride) through the
// pose pass (BlazePose lite) and the event detection, then rendered.

struct TrackedWalk {
  std::filesystem::path video;
  SkeletonTrack skeleton;
  KeypointGait gait;
  media::VideoStreamInfo info;
  double pose_seconds = 0;
};

const TrackedWalk& outdoor_walk() {
  static const std::unique_ptr<TrackedWalk> walk = [] {
    auto w = std::make_unique<TrackedWalk>();
    w->video = shared_test_data("videos/side_sarweshshah_outdoor.mp4");
    PoseVideoOptions options;
    options.variant = PoseModelVariant::kLite;
    KeypointGaitBuilder events;
    const auto started = std::chrono::steady_clock::now();
    const auto summary = track_video_poses(w->video, options, [&](const PoseFrame& f) {
      w->skeleton.add(f);
      events.add(f);
    });
    w->pose_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    w->info = summary.info;
    w->gait = events.finish(summary.info.fps);
    return w;
  }();
  return *walk;
}

TEST(Overlay, RealWalkGivesAFaststartH264OfEveryFrameWithTheLegsOnTheWalker) {
  const TrackedWalk& walk = outdoor_walk();
  ASSERT_EQ(walk.skeleton.frames(), 135);
  ASSERT_EQ(walk.gait.passes.size(), 1u);
  OverlayOptions options;
  options.left_model_side = left_model_sides(walk.gait.passes, walk.skeleton.frames());
  for (const FootEvent& e : walk.gait.events) {
    if (e.type == FootEventType::kInitialContact) options.key_frames.push_back(e.frame);
  }
  ASSERT_GE(options.key_frames.size(), 3u);

  TempDir dir;
  const auto out = dir / "overlay.mp4";
  const auto started = std::chrono::steady_clock::now();
  OverlayResult result;
  {
    Fd fd(out, O_RDWR | O_CREAT | O_TRUNC);
    result = render_overlay(walk.video, walk.skeleton, walk.gait.events, options, fd.get());
  }
  const double render_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cout << "outdoor clip (" << walk.skeleton.frames() << " frames, " << walk.info.duration_s
            << " s): pose pass " << walk.pose_seconds << " s, render " << render_seconds << " s, "
            << result.video_bytes << " bytes at " << result.width << "x" << result.height
            << std::endl;

  // What ffprobe sees: H.264, every source frame, the source's duration, at most 720 lines,
  // the index in front.
  const auto source = ffprobe(walk.video);
  const auto probe = ffprobe(out);
  EXPECT_EQ(probe.at("codec_name"), "h264");
  EXPECT_EQ(probe.at("nb_read_frames"), source.at("nb_read_frames"));
  EXPECT_EQ(probe.at("nb_read_frames"), "135");
  // 1920x1080 scaled to 1224x688, the timeline strip (30 lines) under it.
  EXPECT_EQ(probe.at("width"), 1224);
  EXPECT_EQ(probe.at("height"), 718);
  EXPECT_NEAR(std::stod(probe.at("duration").get<std::string>()),
              std::stod(source.at("duration").get<std::string>()), 1.0 / walk.info.fps);
  EXPECT_TRUE(moov_before_mdat(out));
  EXPECT_EQ(result.frames, 135);
  EXPECT_EQ(static_cast<std::uintmax_t>(result.video_bytes), std::filesystem::file_size(out));

  // On the pass frame where the legs are best seen, the pixels the drawing turned into each
  // leg's colour lie along that leg's scaled landmarks, and hardly anywhere else. (He wears a
  // sky-blue shirt: pixels already near that colour in the source do not count.)
  const auto& sides = options.left_model_side;
  std::int64_t best = -1;
  float best_visibility = 0;
  for (std::int64_t f = 0; f < walk.skeleton.frames(); ++f) {
    const auto* lm = walk.skeleton.at(f);
    if (lm == nullptr || sides[static_cast<std::size_t>(f)] < 0) continue;
    float v = 1;
    for (int k = 23; k <= 32; ++k) v = std::min(v, (*lm)[static_cast<std::size_t>(k)].visibility);
    if (v > best_visibility) {
      best_visibility = v;
      best = f;
    }
  }
  ASSERT_GE(best, 0);
  ASSERT_GE(best_visibility, 0.3f);
  int width = 0, height = 0;
  const auto drawn = decode_frame(out, best, width, height);
  int source_width = 0, source_height = 0;
  const auto plain = decode_frame(walk.video, best, source_width, source_height, 688);
  ASSERT_EQ(source_width, width);
  ASSERT_EQ(source_height, 688);
  const double scale = width / 1920.0;
  const auto& lm = *walk.skeleton.at(best);
  const int left_side = sides[static_cast<std::size_t>(best)];
  for (int named = 0; named < 2; ++named) {  // 0: left (sky blue), 1: right (orange)
    const int model_side = named == 0 ? left_side : 1 - left_side;
    const auto& colour = named == 0 ? kSkyBlue : kOrange;
    // The leg's landmarks: hip, knee, ankle, heel, foot index of that model side.
    double x0 = 1e9, x1 = -1e9, y0 = 1e9, y1 = -1e9;
    for (int k = 23 + model_side; k <= 32; k += 2) {
      x0 = std::min<double>(x0, lm[static_cast<std::size_t>(k)].x * scale);
      x1 = std::max<double>(x1, lm[static_cast<std::size_t>(k)].x * scale);
      y0 = std::min<double>(y0, lm[static_cast<std::size_t>(k)].y * scale);
      y1 = std::max<double>(y1, lm[static_cast<std::size_t>(k)].y * scale);
    }
    const double margin = 30;  // line width, the heel ring of an event
    int inside = 0, outside = 0;
    for (int y = 0; y < source_height; ++y) {  // the picture: the timeline has both colours
      for (int x = 0; x < width; ++x) {
        if (x < 160 && y < 160) continue;  // the event labels' corner
        const std::size_t at = (static_cast<std::size_t>(y) * width + x) * 3;
        const bool became = near_colour(&drawn[at], colour) && !near_colour(&plain[at], colour, 90);
        if (!became) continue;
        const bool near_leg =
            x >= x0 - margin && x <= x1 + margin && y >= y0 - margin && y <= y1 + margin;
        (near_leg ? inside : outside) += 1;
      }
    }
    std::cout << "frame " << best << ", named " << (named == 0 ? "left" : "right")
              << " leg: " << inside << " pixels turned its colour near its landmarks, " << outside
              << " elsewhere" << std::endl;
    EXPECT_GT(inside, 300) << named;
    EXPECT_LT(outside, inside / 20) << named;
  }

  // One key frame per initial contact, decodable, 480 wide with the video's aspect.
  ASSERT_EQ(result.key_frames.size(), options.key_frames.size());
  for (std::size_t i = 0; i < result.key_frames.size(); ++i) {
    const KeyFrameImage& k = result.key_frames[i];
    EXPECT_EQ(k.frame, options.key_frames[i]);
    EXPECT_TRUE(k.caption.rfind("left initial contact", 0) == 0 ||
                k.caption.rfind("right initial contact", 0) == 0)
        << k.caption;
    const auto png = dir / ("key" + std::to_string(i) + ".png");
    {
      Fd fd(png, O_RDWR | O_CREAT | O_TRUNC);
      ASSERT_EQ(::write(fd.get(), k.png.data(), k.png.size()), static_cast<ssize_t>(k.png.size()));
    }
    int w = 0, h = 0;
    ASSERT_EQ(decode(png, w, h).size(), 1u);
    EXPECT_EQ(w, 480);
    EXPECT_EQ(h, 270);  // 480 * 688 / 1224
  }
}

// ---------------------------------------------------------------------------------------
// Inside the sandbox (sandbox_probe.cpp), the way the service runs it: as `nobody` when the
// tests run as root, writing to a root-owned 0600 file the parent opened O_RDWR.

// `video`, when given, is opened here and inherited as fd 4, as the service passes it.
SubprocessResult run_probe(const std::string& mode, const std::string& argument, int fd3,
                           const std::filesystem::path& video = {}) {
  SubprocessOptions options = sandboxed_child_options({DANCER_SANDBOX_PROBE, mode, argument});
  options.timeout = std::chrono::seconds(60);
  options.inherit_fds = {{3, fd3}};
  std::optional<Fd> input;
  if (!video.empty()) {
    input.emplace(video, O_RDONLY);
    options.inherit_fds.push_back({4, input->get()});
  }
  return run_subprocess(options);
}

TEST(OverlaySandbox, EncoderFinishesAFaststartMp4OnTheInheritedDescriptor) {
  TempDir dir;
  const auto out = dir / "overlay.mp4";
  SubprocessResult r;
  {
    Fd fd(out, O_RDWR | O_CREAT | O_TRUNC, 0600);
    r = run_probe("encode", "30", fd.get());
  }
  ASSERT_TRUE(r.succeeded()) << r.describe() << "\n" << r.stderr_text;
  // Re-opening the output by name, as the mov muxer's own faststart pass would, is refused
  // (the filter refuses every open): why the encoder reads through its descriptor.
  EXPECT_NE(r.stdout_text.find("reopen 13\n"), std::string::npos) << r.stdout_text;
  EXPECT_NE(r.stdout_text.find("bytes " + std::to_string(std::filesystem::file_size(out))),
            std::string::npos)
      << r.stdout_text;
  const auto probe = ffprobe(out);
  EXPECT_EQ(probe.at("codec_name"), "h264");
  EXPECT_EQ(probe.at("nb_read_frames"), "30");
  EXPECT_TRUE(moov_before_mdat(out));
}

TEST(OverlaySandbox, RenderOverlayRunsInsideTheSandbox) {
  TempDir dir;
  std::filesystem::permissions(dir.path(), std::filesystem::perms(0711));
  const auto video = dir / "walk.mp4";
  ASSERT_EQ(run_command("ffmpeg -nostdin -v error -y -f lavfi -i testsrc=size=320x240:rate=10 "
                        "-t 1 -pix_fmt yuv420p " +
                        shell_quote(video.string()))
                .exit_code,
            0);
  std::filesystem::permissions(video, std::filesystem::perms(0600));
  const auto out = dir / "overlay.mp4";
  SubprocessResult r;
  {
    Fd fd(out, O_RDWR | O_CREAT | O_TRUNC, 0600);
    r = run_probe("overlay", video.string(), fd.get(), video);
  }
  ASSERT_TRUE(r.succeeded()) << r.describe() << "\n" << r.stderr_text;
  EXPECT_EQ(r.stdout_text, "frames 10 keyframes 1\n");
  const auto probe = ffprobe(out);
  EXPECT_EQ(probe.at("codec_name"), "h264");
  EXPECT_EQ(probe.at("nb_read_frames"), "10");
  EXPECT_TRUE(moov_before_mdat(out));
}

}  // namespace
}  // namespace dancer::analysis

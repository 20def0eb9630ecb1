// BlazePose in process: the detector's decoding, the crop geometry, the converted landmark
// model against TensorFlow.js (the oracle), and detection and tracking on the shared videos.
#include <gtest/gtest.h>

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <numbers>
#include <vector>

#include <nlohmann/json.hpp>

#include "media/video_decoder.h"
#include "pose/pose_detector.h"
#include "pose/pose_model.h"
#include "pose/pose_track.h"
#include "pose/pose_tracker.h"
#include "support/test_support.h"

namespace dancer::analysis {
namespace {

using dancer::testing::run_command;
using dancer::testing::shared_test_data;
using dancer::testing::shell_quote;

// ---------------------------------------------------------------------------------------
// Detector decoding

TEST(PoseDetectorAnchors, MatchMediaPipeSsdLayout) {
  const auto& anchors = pose_detector_anchors();
  ASSERT_EQ(anchors.size(), static_cast<std::size_t>(kDetectorAnchors));
  // 28x28 cells x 2, then 14x14 x 2, then 7x7 x 6 (three stride-32 layers share a grid).
  EXPECT_FLOAT_EQ(anchors[0].x, 0.5f / 28);
  EXPECT_FLOAT_EQ(anchors[1].x, 0.5f / 28);
  EXPECT_FLOAT_EQ(anchors[2].x, 1.5f / 28);
  EXPECT_FLOAT_EQ(anchors[1567].y, 27.5f / 28);
  EXPECT_FLOAT_EQ(anchors[1568].x, 0.5f / 14);
  EXPECT_FLOAT_EQ(anchors[1960].x, 0.5f / 7);
  EXPECT_FLOAT_EQ(anchors[1965].x, 0.5f / 7);
  EXPECT_FLOAT_EQ(anchors[1966].x, 1.5f / 7);
  EXPECT_FLOAT_EQ(anchors[2253].x, 6.5f / 7);
  EXPECT_FLOAT_EQ(anchors[2253].y, 6.5f / 7);
}

TEST(PoseDetectorDecode, MergesOverlapsByScoreAndUndoesTheLetterbox) {
  std::vector<float> raw(static_cast<std::size_t>(kDetectorAnchors) * kDetectorValues, 0.0f);
  for (int i = 0; i < kDetectorAnchors; ++i) raw[static_cast<std::size_t>(i) * 13] = -10;
  const auto set = [&](int anchor, float logit, float dx, float w, float kp0x) {
    float* r = raw.data() + static_cast<std::ptrdiff_t>(anchor) * kDetectorValues;
    r[0] = logit;
    r[1] = dx;  // box centre, relative to the anchor, in input pixels
    r[2] = 0;
    r[3] = w;
    r[4] = w;
    r[5] = kp0x;
  };
  // Two anchors of the same 7x7 cell (centre 112, 112): one box, two overlapping guesses.
  const int cell = 1568 + 392 + (3 * 7 + 3) * 6;
  set(cell, std::log(0.9f / 0.1f), 0, 40, 0);      // score 0.9
  set(cell + 1, std::log(0.6f / 0.4f), 4, 40, 6);  // score 0.6, IoU ~0.8
  // A separate person far to the left, below the threshold.
  set(1568 + 392 + (3 * 7) * 6, std::log(0.4f / 0.6f), 0, 30, 0);

  const Letterbox box = detector_letterbox(1920, 1080);
  EXPECT_EQ(box.width, 224);
  EXPECT_EQ(box.height, 126);
  EXPECT_EQ(box.pad_y, 49);
  const auto found = decode_pose_detections(raw.data(), box);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_NEAR(found[0].score, 0.9f, 1e-5);
  // Weighted: centre x = 112 + (0.9 * 0 + 0.6 * 4) / 1.5 = 113.6 input pixels.
  const float scale = 224.0f / 1920.0f;
  EXPECT_NEAR(found[0].box.x + found[0].box.width / 2, 113.6f / scale, 0.05f);
  EXPECT_NEAR(found[0].keypoints[0].x, (112.0f + 0.6f * 6 / 1.5f) / scale, 0.05f);
  EXPECT_NEAR(found[0].keypoints[0].y, (112.0f - 49.0f) * 1080.0f / 126.0f, 0.05f);
  EXPECT_NEAR(found[0].box.width, 40 / scale, 0.05f);
}

// ---------------------------------------------------------------------------------------
// Crop geometry

TEST(PoseRoiGeometry, DetectionPointsGiveMediaPipeRect) {
  // Upright body: the full-body point straight above the hips, 300 px away.
  Detection d;
  d.keypoints[0] = {500, 600};
  d.keypoints[1] = {500, 300};
  PoseRoi roi = roi_from_detection(d);
  EXPECT_FLOAT_EQ(roi.size, 2 * 300 * 1.25f);
  EXPECT_NEAR(roi.rotation, 0.0f, 1e-6);
  // Leaning right by 45 degrees: the crop turns with it.
  d.keypoints[1] = {700, 400};
  roi = roi_from_detection(d);
  EXPECT_NEAR(roi.rotation, std::numbers::pi_v<float> / 4, 1e-5);
}

TEST(PoseRoiGeometry, CropAndProjectionAgree) {
  // A bright dot in a dark frame, cropped by a rotated ROI that runs off the edge: the dot's
  // position in the crop, projected back, is where it was drawn.
  cv::Mat frame(400, 600, CV_8UC3, cv::Scalar::all(0));
  cv::circle(frame, {80, 120}, 3, cv::Scalar::all(255), cv::FILLED);
  const PoseRoi roi{{60.0f, 150.0f}, 200.0f, 0.4f};
  cv::Mat crop;
  crop_pose_roi(frame, roi, crop);
  ASSERT_EQ(crop.size(), cv::Size(256, 256));
  cv::Mat gray;
  cv::cvtColor(crop, gray, cv::COLOR_RGB2GRAY);
  const cv::Moments m = cv::moments(gray, false);
  ASSERT_GT(m.m00, 0);
  // Moments use pixel centres at integers; the ROI's crop pixels at +0.5.
  const cv::Point2f back = roi_to_frame(roi, static_cast<float>(m.m10 / m.m00) + 0.5f,
                                        static_cast<float>(m.m01 / m.m00) + 0.5f);
  EXPECT_NEAR(back.x, 80.5f, 0.3f);
  EXPECT_NEAR(back.y, 120.5f, 0.3f);
  // Off the frame, edge pixels repeat (the model's training border): the top-left corner
  // of this crop lies off the frame's left edge and shows the dark edge, not zeros only by
  // luck: a frame with a bright left column repeats it.
  frame.col(0).setTo(cv::Scalar(10, 20, 30));
  crop_pose_roi(frame, roi, crop);
  EXPECT_EQ(crop.at<cv::Vec3b>(128, 0), cv::Vec3b(10, 20, 30));
}

// Fakes for the tracker's logic: a detector that reports given people, and a landmark model
// that finds a person centred in every crop (so the crop stays where it is).
class ScriptedDetector final : public PersonDetector {
 public:
  std::function<std::vector<Detection>()> people;
  int calls = 0;
  std::vector<Detection> detect(const cv::Mat&) override {
    ++calls;
    return people();
  }
};

class CentredPerson final : public LandmarkModel {
 public:
  LandmarkOutput run(const cv::Mat& crop) override {
    EXPECT_EQ(crop.size(), cv::Size(256, 256));
    LandmarkOutput out;
    for (auto& l : out.landmarks) l = {128, 128, 0, 5, 5};
    // Auxiliary points that give back the same crop: side = 2 * distance * 1.25.
    out.landmarks[34].y = 128 - 256 / 2.5f;
    out.pose_flag = 0.99f;
    return out;
  }
};

Detection person_at(float hip_x, float hip_y, float half_height) {
  Detection d;
  d.score = 0.9f;
  d.keypoints[0] = {hip_x, hip_y};
  d.keypoints[1] = {hip_x, hip_y - half_height};
  d.box = cv::Rect2f(hip_x - 100, hip_y - half_height, 200, half_height * 2);
  return d;
}

TEST(PoseTrackerLogic, MovesToThePersonWhoCrossesTheScene) {
  // A bystander stands still, nearer the camera (larger), so the first detection picks them;
  // a smaller person walks across the frame. The periodic checks see who travels.
  ScriptedDetector detector;
  CentredPerson model;
  std::int64_t now = 0;
  detector.people = [&] {
    return std::vector<Detection>{person_at(400, 600, 400),
                                  person_at(1700 - 20.0f * static_cast<float>(now), 650, 300)};
  };
  PoseTracker tracker(detector, model);
  const cv::Mat frame(1080, 1920, CV_8UC3, cv::Scalar::all(0));
  std::vector<PoseFrame> track;
  for (now = 0; now < 60; ++now) track.push_back(tracker.process(frame, now, now / 30.0));
  for (const auto& f : track) ASSERT_TRUE(f.person);
  EXPECT_NEAR(track[10].landmarks[0].x, 400, 1);  // the larger person first
  EXPECT_EQ(tracker.walker_switches(), 1);
  // By frame 30 the walker has travelled 600 px (> 15% of 1920) while the bystander stayed.
  EXPECT_NEAR(track[59].landmarks[0].x, 1700 - 20 * 30, 1);
}

TEST(PoseTrackerLogic, StaysWithTheTrackedPersonWhenNobodyElseMoves) {
  ScriptedDetector detector;
  CentredPerson model;
  detector.people = [] {
    return std::vector<Detection>{person_at(400, 600, 400), person_at(1500, 650, 300)};
  };
  PoseTracker tracker(detector, model);
  const cv::Mat frame(1080, 1920, CV_8UC3, cv::Scalar::all(0));
  PoseFrame last;
  for (int i = 0; i < 90; ++i) last = tracker.process(frame, i, i / 30.0);
  EXPECT_EQ(tracker.walker_switches(), 0);
  EXPECT_NEAR(last.landmarks[0].x, 400, 1);
  // One detection to start, then one check every 15 frames.
  EXPECT_EQ(detector.calls, 1 + 89 / 15);
}

// The walker found late: a white box (the "person") is in the picture from frame 10 of a
// 2 s, 25 fps clip, but the detector fires only from frame `detected_from`. The landmark model
// sees the person in any crop holding the box. The frames between are tracked backward from
// the first detection, within the backfill window; every frame still reaches the sink and the
// hook once, in order, with its own image.
class BrightCropPerson final : public LandmarkModel {
 public:
  // cut_by_edge: the nose lies off the picture (a body cut by the image's edge).
  explicit BrightCropPerson(bool cut_by_edge = false) : cut_by_edge_(cut_by_edge) {}
  LandmarkOutput run(const cv::Mat& crop) override {
    LandmarkOutput out = centred_.run(crop);
    if (cut_by_edge_) out.landmarks[0].x = 1000;  // crop pixels: far right of the frame
    double brightest = 0;
    cv::minMaxLoc(crop.reshape(1), nullptr, &brightest);
    out.pose_flag = brightest > 200 ? 0.99f : 0.01f;
    return out;
  }

 private:
  bool cut_by_edge_;
  CentredPerson centred_;
};

struct BackfillRun {
  std::vector<PoseFrame> frames;
  std::int64_t backfilled = 0;
};

BackfillRun track_box_clip(const std::filesystem::path& video, int detected_from,
                           double backfill_seconds, bool cut_by_edge = false) {
  auto detector = std::make_shared<ScriptedDetector>();
  int call = 0;
  detector->people = [&call, detected_from] {
    return call++ >= detected_from ? std::vector<Detection>{person_at(160, 120, 60)}
                                   : std::vector<Detection>{};
  };
  auto models = std::make_shared<PoseModels>();
  models->detector = detector;
  models->landmark = std::make_shared<BrightCropPerson>(cut_by_edge);
  PoseVideoOptions options;
  options.preloaded = models;
  options.tracker.backfill_seconds = backfill_seconds;
  options.tracker.recheck_frames = 0;
  BackfillRun run;
  std::int64_t hooked = 0;
  options.frame_hook = [&](const cv::Mat& rgb, const PoseFrame& pose) {
    EXPECT_EQ(pose.frame_index, hooked++);
    double brightest = 0;
    cv::minMaxLoc(rgb.reshape(1), nullptr, &brightest);
    EXPECT_EQ(brightest > 200, pose.frame_index >= 10) << pose.frame_index;
  };
  const auto summary =
      track_video_poses(video, options, [&](const PoseFrame& f) { run.frames.push_back(f); });
  EXPECT_EQ(hooked, 50);
  EXPECT_EQ(summary.frames, 50);
  run.backfilled = summary.backfilled_frames;
  return run;
}

std::vector<std::int64_t> frames_with_person(const BackfillRun& run) {
  std::vector<std::int64_t> out;
  for (std::size_t i = 0; i < run.frames.size(); ++i) {
    EXPECT_EQ(run.frames[i].frame_index, static_cast<std::int64_t>(i));
    if (run.frames[i].person) out.push_back(run.frames[i].frame_index);
  }
  return out;
}

std::vector<std::int64_t> range(std::int64_t from, std::int64_t to) {
  std::vector<std::int64_t> out;
  for (std::int64_t i = from; i < to; ++i) out.push_back(i);
  return out;
}

TEST(PoseVideoBackfill, FramesBeforeTheFirstDetectionAreTrackedBackward) {
  dancer::testing::TempDir dir;
  const auto video = dir / "box.mp4";
  const auto made = run_command(
      "ffmpeg -nostdin -hide_banner -loglevel error -y -f lavfi -i "
      "color=c=black:s=320x240:r=25:d=2 -vf "
      "\"drawbox=x=100:y=40:w=120:h=160:color=white:t=fill:enable='gte(n,10)'\" "
      "-c:v libx264 -preset ultrafast -pix_fmt yuv420p " +
      shell_quote(video.string()));
  ASSERT_EQ(made.exit_code, 0) << made.output;

  // Found at frame 20: frames 10-19 hold the person and lie within 0.5 s (13 frames).
  const BackfillRun found = track_box_clip(video, 20, 0.5);
  EXPECT_EQ(frames_with_person(found), range(10, 50));
  EXPECT_EQ(found.backfilled, 10);
  // Without the backfill the track starts at the detection.
  const BackfillRun off = track_box_clip(video, 20, 0);
  EXPECT_EQ(frames_with_person(off), range(20, 50));
  EXPECT_EQ(off.backfilled, 0);
  // Found at frame 40: only the window's 13 frames before it are held and tracked back.
  const BackfillRun late = track_box_clip(video, 40, 0.5);
  EXPECT_EQ(frames_with_person(late), range(27, 50));
  EXPECT_EQ(late.backfilled, 13);
  // A walker the model sees cut by the image's edge is not tracked back into.
  const BackfillRun cut = track_box_clip(video, 20, 0.5, true);
  EXPECT_EQ(frames_with_person(cut), range(20, 50));
  EXPECT_EQ(cut.backfilled, 0);
}

TEST(PoseTrackJson, OneLinePerFrameWithRoundedLandmarks) {
  PoseFrame f;
  f.frame_index = 12;
  f.time_s = 0.4;
  f.person = true;
  f.pose_score = 0.99876f;
  f.landmarks[29] = {100.123f, 200.456f, -3.0f, 0.91234f, 0.5f};
  const std::string line = to_json_line(f);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  const auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["frame"], 12);
  EXPECT_DOUBLE_EQ(j["pose_score"].get<double>(), 0.999);
  ASSERT_EQ(j["landmarks"].size(), 33u);
  EXPECT_DOUBLE_EQ(j["landmarks"][29][0].get<double>(), 100.12);
  EXPECT_DOUBLE_EQ(j["landmarks"][29][3].get<double>(), 0.912);
  // Shortest decimal form: rounding must not leave binary noise in the text.
  EXPECT_NE(line.find("[100.12,200.46,-3.0,0.912,0.5]"), std::string::npos) << line;
  f.person = false;
  EXPECT_FALSE(to_json(f).contains("landmarks"));
}

// ---------------------------------------------------------------------------------------
// The converted landmark model against TensorFlow.js

std::vector<float> read_npy_f32(const std::filesystem::path& path) {
  const std::string bytes = dancer::testing::read_file(path);
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0) {
    throw std::runtime_error("not a .npy file: " + path.string());
  }
  const std::size_t header = static_cast<unsigned char>(bytes[8]) |
                             (static_cast<std::size_t>(static_cast<unsigned char>(bytes[9])) << 8);
  const std::size_t start = 10 + header;
  std::vector<float> values((bytes.size() - start) / sizeof(float));
  std::memcpy(values.data(), bytes.data() + start, values.size() * sizeof(float));
  return values;
}

// The C++ crop as the model's input: NHWC float32 in [0, 1] (what oracle.mjs reads).
std::string crop_as_f32(const cv::Mat& rgb_crop) {
  cv::Mat f;
  rgb_crop.convertTo(f, CV_32FC3, 1.0 / 255.0);
  return std::string(reinterpret_cast<const char*>(f.ptr<float>()), f.total() * f.elemSize());
}

std::string crop_name(std::size_t i) { return (i < 10 ? "crop0" : "crop") + std::to_string(i); }

class PoseOracle : public ::testing::TestWithParam<PoseModelVariant> {};

TEST_P(PoseOracle, LandmarksMatchTensorFlowJsOnCropsOfTheSharedVideos) {
  const PoseModelVariant variant = GetParam();
  const auto crops_json = nlohmann::json::parse(
      dancer::testing::read_file(std::filesystem::path(DANCER_POSE_TOOL_DIR) / "crops.json"));
  const auto& crops = crops_json.at("crops");
  ASSERT_GE(crops.size(), 20u);

  // Frames at the listed times: the first frame at or after each time, decoded by the
  // service's own decoder at full resolution, cropped by the tracker's own crop function.
  std::map<std::string, std::vector<std::size_t>> by_video;
  for (std::size_t i = 0; i < crops.size(); ++i) {
    by_video[crops[i].at("video").get<std::string>()].push_back(i);
  }
  std::vector<cv::Mat> inputs(crops.size());
  for (auto& [video, indices] : by_video) {
    std::sort(indices.begin(), indices.end(), [&](std::size_t a, std::size_t b) {
      return crops[a].at("time").get<double>() < crops[b].at("time").get<double>();
    });
    media::DecoderOptions options;
    options.max_width = 0;
    options.max_height = 0;
    options.layout = media::PixelLayout::kBgr24;
    media::VideoDecoder decoder(shared_test_data("videos/" + video), options);
    media::VideoFrame frame;
    std::size_t next = 0;
    cv::Mat rgb;
    while (next < indices.size() && decoder.next(frame)) {
      while (next < indices.size() &&
             frame.pts_s + 1e-6 >= crops[indices[next]].at("time").get<double>()) {
        const auto& c = crops[indices[next]];
        const cv::Mat bgr(frame.height, frame.width, CV_8UC3, const_cast<std::uint8_t*>(frame.data),
                          static_cast<std::size_t>(frame.stride));
        cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
        const PoseRoi roi{{c.at("cx").get<float>(), c.at("cy").get<float>()},
                          c.at("size").get<float>(),
                          c.value("rotation", 0.0f) * std::numbers::pi_v<float> / 180.0f};
        crop_pose_roi(rgb, roi, inputs[indices[next]]);
        ++next;
      }
    }
    ASSERT_EQ(next, indices.size()) << video << ": a crop time lies past the last frame";
  }

  // The oracle's outputs are cached in the build tree, keyed by the exact input bytes.
  const std::string name = "blazepose-" + std::string(to_string(variant));
  const std::filesystem::path work =
      std::filesystem::path(DANCER_BINARY_DIR) / "pose_oracle" / name;
  std::filesystem::create_directories(work);
  bool stale = false;
  std::vector<std::string> files;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const std::string base = crop_name(i);
    const auto f32 = work / (std::string(base) + ".f32");
    const std::string bytes = crop_as_f32(inputs[i]);
    const bool same = std::filesystem::exists(f32) && dancer::testing::read_file(f32) == bytes &&
                      std::filesystem::exists(work / (std::string(base) + ".ld_3d.npy"));
    if (!same) {
      std::ofstream(f32, std::ios::binary | std::ios::trunc) << bytes;
      stale = true;
    }
    files.push_back(f32.string());
  }
  if (stale) {
    std::string cmd =
        "node " +
        shell_quote((std::filesystem::path(DANCER_POSE_TOOL_DIR) / "oracle.mjs").string()) + " " +
        shell_quote((std::filesystem::path(DANCER_POSE_PACKAGE_DIR) / (name + ".json")).string()) +
        " " + shell_quote(work.string());
    for (const auto& f : files) cmd += " " + shell_quote(f);
    const auto result = run_command(cmd + " 1>&2");
    ASSERT_EQ(result.exit_code, 0) << "oracle.mjs failed: " << cmd;
  }

  auto model = make_opencv_landmark_model(landmark_model_path(default_pose_model_dir(), variant));
  const double tolerance = 1e-3 * kLandmarkInputSize;
  double worst = 0, worst_flag = 0;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const std::string base = crop_name(i);
    const auto ref = read_npy_f32(work / (std::string(base) + ".ld_3d.npy"));
    const auto flag = read_npy_f32(work / (std::string(base) + ".output_poseflag.npy"));
    ASSERT_EQ(ref.size(), static_cast<std::size_t>(kLandmarkRows) * 5);
    ASSERT_EQ(flag.size(), 1u);
    const LandmarkOutput got = model->run(inputs[i]);
    for (int k = 0; k < kPoseLandmarks; ++k) {
      const auto& l = got.landmarks[static_cast<std::size_t>(k)];
      const double dx = std::abs(l.x - ref[static_cast<std::size_t>(k) * 5]);
      const double dy = std::abs(l.y - ref[static_cast<std::size_t>(k) * 5 + 1]);
      worst = std::max({worst, dx, dy});
      EXPECT_LE(std::max(dx, dy), tolerance) << "crop " << i << " landmark " << k;
    }
    worst_flag = std::max(worst_flag, static_cast<double>(std::abs(got.pose_flag - flag[0])));
  }
  EXPECT_LE(worst_flag, 1e-3);
  std::cout << name << ": " << inputs.size() << " crops, max |dx|,|dy| " << worst
            << " px of 256, max pose-flag difference " << worst_flag << std::endl;
}

INSTANTIATE_TEST_SUITE_P(PoseVariants, PoseOracle,
                         ::testing::Values(PoseModelVariant::kFull, PoseModelVariant::kLite),
                         [](const ::testing::TestParamInfo<PoseModelVariant>& param) {
                           return std::string(to_string(param.param));
                         });

// ---------------------------------------------------------------------------------------
// Detection and tracking on the shared videos

std::vector<PoseFrame> track(const std::filesystem::path& video, PoseModelVariant variant) {
  PoseVideoOptions options;
  options.variant = variant;
  options.threads = 1;
  std::vector<PoseFrame> frames;
  const auto summary =
      track_video_poses(video, options, [&](const PoseFrame& f) { frames.push_back(f); });
  EXPECT_EQ(summary.frames, static_cast<std::int64_t>(frames.size()));
  EXPECT_EQ(summary.walker_switches, 0);  // one person in each of these clips
  return frames;
}

double found_fraction(const std::vector<PoseFrame>& frames, std::int64_t first, std::int64_t last) {
  int found = 0, total = 0;
  for (const auto& f : frames) {
    if (f.frame_index < first || f.frame_index > last) continue;
    ++total;
    if (f.person) ++found;
  }
  return total > 0 ? static_cast<double>(found) / total : 0.0;
}

TEST(PoseTracking, FindsTheWalkerWhileFullyVisibleAndNobodyBeforeOrAfter) {
  // kevin1 (1920x1080, 208 frames): he walks in from the left and out on the right; his whole
  // body is inside the frame on frames 66-180 (checked by eye on the decoded frames).
  const auto frames =
      track(shared_test_data("videos/side_gaitcdio_4markerskevin1.mp4"), PoseModelVariant::kFull);
  ASSERT_EQ(frames.size(), 208u);
  const double rate = found_fraction(frames, 66, 180);
  std::cout << "kevin1: person on " << rate * 100 << "% of frames 66-180" << std::endl;
  EXPECT_GE(rate, 0.95);
  EXPECT_EQ(found_fraction(frames, 0, 45), 0.0);  // the empty room before he enters
  for (const auto& f : frames) {
    if (!f.person || f.frame_index < 70 || f.frame_index > 175) continue;
    // In original-video pixels: the heels are below the hips, near the floor of the room.
    EXPECT_GT(f.landmarks[29].y, f.landmarks[23].y + 200) << f.frame_index;
    EXPECT_GT(f.landmarks[29].y, 750) << f.frame_index;
    EXPECT_LT(f.landmarks[29].y, 1000) << f.frame_index;
  }
  // Left to right: the mid-hip travels most of the frame's width.
  const auto hip_x = [](const PoseFrame& f) { return (f.landmarks[23].x + f.landmarks[24].x) / 2; };
  EXPECT_LT(hip_x(frames[70]), 400);
  EXPECT_GT(hip_x(frames[175]), 1500);
}

TEST(PoseTracking, FollowsTheWalkerThroughBothPassesOfTheGymClip) {
  // Gym clip (1280x720, 401 frames): she walks in from the right (whole body inside from
  // frame 36), turns at the left edge without leaving (frames ~160-190) and walks back out on
  // the right (gone after ~345; checked by eye on the decoded frames).
  const auto frames =
      track(shared_test_data("videos/side_sports2d_demo4_gym.mp4"), PoseModelVariant::kLite);
  ASSERT_EQ(frames.size(), 401u);
  const double first = found_fraction(frames, 36, 160);
  const double second = found_fraction(frames, 190, 335);
  std::cout << "gym: person on " << first * 100 << "% of frames 36-160 and " << second * 100
            << "% of frames 190-335" << std::endl;
  EXPECT_GE(first, 0.95);
  EXPECT_GE(second, 0.95);
  EXPECT_EQ(found_fraction(frames, 355, 400), 0.0);  // she has left
  const auto hip_x = [](const PoseFrame& f) { return (f.landmarks[23].x + f.landmarks[24].x) / 2; };
  ASSERT_TRUE(frames[40].person && frames[150].person && frames[330].person);
  EXPECT_GT(hip_x(frames[40]), 1000);  // right to left ...
  EXPECT_LT(hip_x(frames[150]), 250);
  EXPECT_GT(hip_x(frames[330]), 1000);  // ... and back
}

TEST(PoseTracking, LandmarksAreInThePixelsOfTheDisplayedFrame) {
  // The same 10 frames of kevin1 (960x540) stored upright, and stored turned 90 degrees
  // clockwise (540x960) with a display matrix that turns them back: the landmarks must come
  // out in the displayed frame's pixels, so the two tracks agree. (FFmpeg 5.1 stores the tag
  // rotate=90 as a matrix that ffprobe reports as rotation=90 and that ffmpeg's own
  // autorotation shows turned 90 degrees counter-clockwise.)
  dancer::testing::TempDir dir;
  const std::string ffmpeg = "ffmpeg -nostdin -v error -y ";
  const std::string encode = " -an -c:v libx264 -preset ultrafast -qp 0 -pix_fmt yuv444p ";
  const auto upright = dir / "upright.mp4";
  const auto turned = dir / "turned.mp4";
  const auto rotated = dir / "rotated.mp4";
  const std::string source =
      shell_quote(shared_test_data("videos/side_gaitcdio_4markerskevin1.mp4").string());
  ASSERT_EQ(run_command(ffmpeg + "-ss 3 -i " + source + " -frames:v 10 -vf scale=960:540" + encode +
                        shell_quote(upright.string()))
                .exit_code,
            0);
  ASSERT_EQ(run_command(ffmpeg + "-i " + shell_quote(upright.string()) + " -vf transpose=1" +
                        encode + shell_quote(turned.string()))
                .exit_code,
            0);
  // FFmpeg 5.1 writes the rotate tag as a display matrix only when copying the stream.
  ASSERT_EQ(run_command(ffmpeg + "-i " + shell_quote(turned.string()) +
                        " -c copy -metadata:s:v:0 rotate=90 " + shell_quote(rotated.string()))
                .exit_code,
            0);
  const auto a = track(upright, PoseModelVariant::kLite);
  const auto b = track(rotated, PoseModelVariant::kLite);
  ASSERT_EQ(a.size(), 10u);
  ASSERT_EQ(b.size(), 10u);
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    ASSERT_TRUE(a[i].person && b[i].person) << i;
    for (std::size_t k = 0; k < a[i].landmarks.size(); ++k) {
      worst = std::max({worst, std::abs(double{a[i].landmarks[k].x} - b[i].landmarks[k].x),
                        std::abs(double{a[i].landmarks[k].y} - b[i].landmarks[k].y)});
    }
    EXPECT_GT(a[i].landmarks[29].y, a[i].landmarks[0].y + 200);  // heel below the nose
  }
  std::cout << "rotated vs upright: max landmark difference " << worst << " px" << std::endl;
  EXPECT_LT(worst, 2.0);
}

TEST(PoseTracking, FindsNobodyInAnEmptyRoom) {
  // The first 1.5 s of kevin1, before he walks in: the room only.
  dancer::testing::TempDir dir;
  const auto empty = dir / "empty_room.mp4";
  const auto result = run_command(
      "ffmpeg -v error -y -i " +
      shell_quote(shared_test_data("videos/side_gaitcdio_4markerskevin1.mp4").string()) +
      " -t 1.5 -an -c:v libx264 -preset ultrafast -pix_fmt yuv420p " + shell_quote(empty.string()));
  ASSERT_EQ(result.exit_code, 0);
  const auto frames = track(empty, PoseModelVariant::kLite);
  ASSERT_GE(frames.size(), 40u);
  for (const auto& f : frames) EXPECT_FALSE(f.person) << "frame " << f.frame_index;
}

}  // namespace
}  // namespace dancer::analysis

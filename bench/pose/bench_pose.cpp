// BlazePose speed on OpenCV DNN, one measurement per process (so peak RSS is its own):
//   bench_pose infer  MODEL_DIR lite|full|heavy THREADS REPEAT CROP.f32 [--no-fusion]
//   bench_pose detect MODEL_DIR THREADS REPEAT CROP.f32   (a 224x224 letterboxed input)
//   bench_pose video  MODEL_DIR lite|full|heavy THREADS VIDEO [--no-overlap]
//   bench_pose decode VIDEO
// Each prints one JSON line. CROP.f32 is a model input as oracle.mjs reads it (NHWC float32;
// [0, 1] for the landmark models, [-1, 1] for the detector), so TensorFlow.js can time the
// very same input.
#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>

#include "media/video_decoder.h"
#include "pose/pose_detector.h"
#include "pose/pose_model.h"
#include "pose/pose_tracker.h"

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

double peak_rss_mb() {
  // VmHWM: this process's peak RSS (getrusage's maxrss survives exec from the parent).
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0;
}

cv::Mat read_input(const std::string& path, int side, float scale, float offset) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() != static_cast<std::size_t>(side) * side * 3 * sizeof(float)) {
    throw std::runtime_error(path + ": not a " + std::to_string(side) + "x" + std::to_string(side) +
                             "x3 float32 input");
  }
  cv::Mat f(side, side, CV_32FC3, bytes.data());
  cv::Mat u8;
  f.convertTo(u8, CV_8UC3, scale, offset);  // back to the 8-bit image it was made from
  return u8;
}

nlohmann::json timing(std::vector<double> times) {
  std::sort(times.begin(), times.end());
  return {{"runs", times.size()},
          {"median_ms", times[times.size() / 2]},
          {"min_ms", times.front()},
          {"peak_rss_mb", peak_rss_mb()}};
}

int usage() {
  std::cerr << "usage: bench_pose infer|detect|video|decode ... (see the source)\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace dancer::analysis;
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) return usage();
  const bool no_fusion = std::find(args.begin(), args.end(), "--no-fusion") != args.end();
  const bool no_overlap = std::find(args.begin(), args.end(), "--no-overlap") != args.end();
  const std::string& mode = args[0];
  if (mode == "infer" && args.size() >= 6) {
    const auto variant = pose_model_variant_from_string(args[2]);
    if (!variant) return usage();
    PoseRuntimeOptions runtime{std::stoi(args[3]), !no_fusion};
    auto model = make_opencv_landmark_model(landmark_model_path(args[1], *variant), runtime);
    const cv::Mat crop = read_input(args[5], kLandmarkInputSize, 255.0f, 0.0f);
    model->run(crop);  // the first run allocates and fuses layers
    std::vector<double> times;
    for (int i = 0; i < std::stoi(args[4]); ++i) {
      const auto t = Clock::now();
      model->run(crop);
      times.push_back(ms_since(t));
    }
    auto j = timing(times);
    j.update({{"model", "blazepose-" + args[2]},
              {"backend", "opencv-dnn"},
              {"threads", runtime.threads},
              {"fusion", runtime.fusion}});
    std::cout << j.dump() << std::endl;
    return 0;
  }
  if (mode == "detect" && args.size() >= 5) {
    PoseRuntimeOptions runtime{std::stoi(args[2]), !no_fusion};
    auto detector = make_opencv_person_detector(detector_model_path(args[1]), runtime);
    // Already letterboxed: detect() on a 224x224 frame is the model plus decoding.
    const cv::Mat input = read_input(args[4], kDetectorInputSize, 127.5f, 127.5f);
    detector->detect(input);
    std::vector<double> times;
    for (int i = 0; i < std::stoi(args[3]); ++i) {
      const auto t = Clock::now();
      detector->detect(input);
      times.push_back(ms_since(t));
    }
    auto j = timing(times);
    j.update({{"model", "blazepose-detector"},
              {"backend", "opencv-dnn"},
              {"threads", runtime.threads},
              {"fusion", runtime.fusion}});
    std::cout << j.dump() << std::endl;
    return 0;
  }
  if (mode == "video" && args.size() >= 5) {
    PoseVideoOptions options;
    options.model_dir = args[1];
    const auto variant = pose_model_variant_from_string(args[2]);
    if (!variant) return usage();
    options.variant = *variant;
    options.threads = std::stoi(args[3]);
    options.overlap_decoding = !no_overlap;
    const auto t = Clock::now();
    const auto summary = track_video_poses(args[4], options, [](const PoseFrame&) {});
    const double s = ms_since(t) / 1000.0;
    const double video_s = static_cast<double>(summary.frames) / summary.info.fps;
    std::cout << nlohmann::json{{"mode", "keypoints"},
                                {"model", "blazepose-" + args[2]},
                                {"threads", options.threads},
                                {"overlap_decoding", options.overlap_decoding},
                                {"frames", summary.frames},
                                {"frames_with_person", summary.frames_with_person},
                                {"detector_runs", summary.detector_runs},
                                {"walker_switches", summary.walker_switches},
                                {"seconds", s},
                                {"fps", summary.frames / s},
                                {"x_real_time", video_s / s},
                                {"peak_rss_mb", peak_rss_mb()}}
                     .dump()
              << std::endl;
    return 0;
  }
  if (mode == "decode" && args.size() >= 2) {
    // What track_video_poses decodes: full resolution, upright, BGR, then RGB.
    dancer::media::DecoderOptions decoding;
    decoding.max_width = 0;
    decoding.max_height = 0;
    decoding.layout = dancer::media::PixelLayout::kBgr24;
    decoding.threads = 1;
    const auto t = Clock::now();
    dancer::media::VideoDecoder decoder(args[1], decoding);
    dancer::media::VideoFrame frame;
    cv::Mat rgb;
    long frames = 0;
    while (decoder.next(frame)) {
      const cv::Mat bgr(frame.height, frame.width, CV_8UC3, const_cast<std::uint8_t*>(frame.data),
                        static_cast<std::size_t>(frame.stride));
      cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
      ++frames;
    }
    const double s = ms_since(t) / 1000.0;
    std::cout << nlohmann::json{{"mode", "decode"},
                                {"frames", frames},
                                {"seconds", s},
                                {"fps", frames / s},
                                {"x_real_time", frames / decoder.info().fps / s},
                                {"peak_rss_mb", peak_rss_mb()}}
                     .dump()
              << std::endl;
    return 0;
  }
  return usage();
}

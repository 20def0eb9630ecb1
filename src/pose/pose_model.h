// BlazePose behind two small interfaces, "image in, landmarks out" and "frame in, people out",
// so another inference runtime can be added later without touching the tracker. The
// implementations here run the build's converted ONNX files (tools/pose_model, cmake/
// PoseModel.cmake) on OpenCV's DNN module.
#pragma once

#include <array>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <opencv2/core.hpp>

#include "common/fd.h"
#include "pose/blazepose.h"

namespace dancer::analysis {

// A model file is missing or OpenCV cannot load or run it.
class PoseModelError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class PoseModelVariant { kLite, kFull, kHeavy };
std::string_view to_string(PoseModelVariant variant);  // "lite", "full", "heavy"
std::optional<PoseModelVariant> pose_model_variant_from_string(std::string_view name);

// The directory the build converts the models into (DANCER_POSE_MODELS_DIR); the service's
// POSE_MODEL_DIR setting overrides it.
std::filesystem::path default_pose_model_dir();
// blazepose-<variant>.onnx and blazepose-detector.onnx in `dir`.
std::filesystem::path landmark_model_path(const std::filesystem::path& dir,
                                          PoseModelVariant variant);
std::filesystem::path detector_model_path(const std::filesystem::path& dir);

inline constexpr int kLandmarkInputSize = 256;  // square RGB crop, values [0, 1]
inline constexpr int kDetectorInputSize = 224;  // letterboxed RGB frame, values [-1, 1]
inline constexpr int kPoseLandmarks = blazepose::kLandmarkCount;
inline constexpr int kLandmarkRows = 39;  // 33 landmarks, 2 auxiliary (ROI), 4 unused

// One row of the model's ld_3d output, as the model gives it.
struct RawLandmark {
  float x = 0;  // pixels of the 256x256 crop
  float y = 0;
  float z = 0;                 // same scale as x, relative to the hips
  float visibility_logit = 0;  // sigmoid gives the probability
  float presence_logit = 0;
};

struct LandmarkOutput {
  std::array<RawLandmark, kLandmarkRows> landmarks{};
  float pose_flag = 0;  // probability that a person is in the crop (sigmoid applied)
};

class LandmarkModel {
 public:
  virtual ~LandmarkModel() = default;
  // rgb_crop_256: CV_8UC3 RGB, kLandmarkInputSize square.
  virtual LandmarkOutput run(const cv::Mat& rgb_crop_256) = 0;
};

// A person found by the detector, in pixels of the frame passed to detect().
struct Detection {
  float score = 0;  // after the sigmoid
  cv::Rect2f box;   // axis-aligned box of the body (upper body for a person seen whole)
  // 0 mid-hip centre, 1 full-body size and rotation, 2 mid-shoulder centre, 3 upper-body
  // size and rotation (MediaPipe's pose detector).
  std::array<cv::Point2f, 4> keypoints{};
};

class PersonDetector {
 public:
  virtual ~PersonDetector() = default;
  // rgb_frame: CV_8UC3 RGB of any size. Detections sorted by score, highest first.
  virtual std::vector<Detection> detect(const cv::Mat& rgb_frame) = 0;
};

struct PoseRuntimeOptions {
  // OpenCV's worker threads (cv::setNumThreads: process-wide, applied when a model is made).
  int threads = 1;
  // cv::dnn::Net::enableFusion: folds batch norms and activations into convolutions.
  bool fusion = true;
};

// Both networks of a pose analysis, loaded once. A fork server loads them before its first
// job, so each job's child starts with them parsed (sandbox/fork_server.h).
struct PoseModels {
  std::shared_ptr<PersonDetector> detector;
  std::shared_ptr<LandmarkModel> landmark;
  PoseModelVariant variant = PoseModelVariant::kFull;
};

// Each loads its ONNX file once (cv::dnn::readNetFromONNX, from memory when the file is
// given as a descriptor); throws PoseModelError.
std::unique_ptr<LandmarkModel> make_opencv_landmark_model(const common::FileSource& onnx,
                                                          PoseRuntimeOptions options = {});
std::unique_ptr<PersonDetector> make_opencv_person_detector(const common::FileSource& onnx,
                                                            PoseRuntimeOptions options = {});

}  // namespace dancer::analysis

#include "pose/pose_model.h"

#include <opencv2/core/utility.hpp>
#include <opencv2/dnn.hpp>

#include <algorithm>
#include <system_error>

#include "pose/pose_detector.h"

#ifndef DANCER_POSE_MODELS_DIR
#error "DANCER_POSE_MODELS_DIR must name the build's models directory (cmake/PoseModel.cmake)"
#endif

namespace dancer::analysis {

std::string_view to_string(PoseModelVariant variant) {
  switch (variant) {
    case PoseModelVariant::kLite:
      return "lite";
    case PoseModelVariant::kFull:
      return "full";
    case PoseModelVariant::kHeavy:
      return "heavy";
  }
  return "full";
}

std::optional<PoseModelVariant> pose_model_variant_from_string(std::string_view name) {
  for (auto v : {PoseModelVariant::kLite, PoseModelVariant::kFull, PoseModelVariant::kHeavy}) {
    if (to_string(v) == name) return v;
  }
  return std::nullopt;
}

std::filesystem::path default_pose_model_dir() { return DANCER_POSE_MODELS_DIR; }

std::filesystem::path landmark_model_path(const std::filesystem::path& dir,
                                          PoseModelVariant variant) {
  return dir / ("blazepose-" + std::string(to_string(variant)) + ".onnx");
}

std::filesystem::path detector_model_path(const std::filesystem::path& dir) {
  return dir / "blazepose-detector.onnx";
}

namespace {

// BlazePose heavy, the largest, is 27 MB as ONNX.
constexpr std::uint64_t kMaxModelBytes = 256u << 20;

// One network read once from its ONNX file; cv::dnn::Net is itself a reference-counted
// owner, released with this object.
class OnnxNet {
 public:
  OnnxNet(const common::FileSource& onnx, const PoseRuntimeOptions& options) {
    std::string bytes;
    if (onnx.by_descriptor()) {
      // The sandboxed child: the model arrives as an inherited descriptor and is parsed from
      // memory, since the child may open no file by name.
      try {
        bytes = onnx.read_all(kMaxModelBytes);
      } catch (const std::system_error& e) {
        throw PoseModelError("cannot read pose model " + onnx.name() + ": " + e.what());
      }
    } else {
      std::error_code ec;
      if (!std::filesystem::is_regular_file(onnx.path(), ec)) {
        throw PoseModelError("pose model not found: " + onnx.path().string() +
                             " (built by the pose_models target; see POSE_MODEL_DIR)");
      }
    }
    // Process-wide: OpenCV's parallel_for_ pool serves every network of the process.
    cv::setNumThreads(std::max(1, options.threads));
    try {
      net_ = onnx.by_descriptor() ? cv::dnn::readNetFromONNX(bytes.data(), bytes.size())
                                  : cv::dnn::readNetFromONNX(onnx.path().string());
      net_.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
      net_.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
      net_.enableFusion(options.fusion);
      names_ = net_.getUnconnectedOutLayersNames();
    } catch (const cv::Exception& e) {
      throw PoseModelError("cannot load pose model " + onnx.name() + ": " + e.what());
    }
  }

  // Runs the blob through the network; outputs in names() order.
  const std::vector<cv::Mat>& forward(const cv::Mat& blob) {
    try {
      net_.setInput(blob);
      net_.forward(outputs_, names_);
    } catch (const cv::Exception& e) {
      throw PoseModelError(std::string("pose model failed: ") + e.what());
    }
    return outputs_;
  }

  // Index of the output named `name`.
  std::size_t output(const std::string& name) const {
    auto it = std::find(names_.begin(), names_.end(), name);
    if (it == names_.end()) throw PoseModelError("pose model has no output " + name);
    return static_cast<std::size_t>(it - names_.begin());
  }

 private:
  cv::dnn::Net net_;
  std::vector<std::string> names_;
  std::vector<cv::Mat> outputs_;
};

void require_rgb(const cv::Mat& image, int side, const char* what) {
  if (image.type() != CV_8UC3 || (side > 0 && (image.cols != side || image.rows != side))) {
    throw PoseModelError(
        std::string(what) + ": expected an 8-bit 3-channel image" +
        (side > 0 ? " of " + std::to_string(side) + "x" + std::to_string(side) : std::string()));
  }
}

class OpenCvLandmarkModel final : public LandmarkModel {
 public:
  OpenCvLandmarkModel(const common::FileSource& onnx, const PoseRuntimeOptions& options)
      : net_(onnx, options), ld_(net_.output("ld_3d")), flag_(net_.output("output_poseflag")) {}

  LandmarkOutput run(const cv::Mat& rgb_crop_256) override {
    require_rgb(rgb_crop_256, kLandmarkInputSize, "landmark model input");
    // NCHW float in [0, 1]: the range pose_landmark_by_roi gives the model.
    cv::dnn::blobFromImage(rgb_crop_256, blob_, 1.0 / 255.0, cv::Size(), cv::Scalar(),
                           /*swapRB=*/false, /*crop=*/false, CV_32F);
    const auto& out = net_.forward(blob_);
    const cv::Mat& ld = out[ld_];
    if (ld.total() != kLandmarkRows * 5 || ld.type() != CV_32F) {
      throw PoseModelError("landmark model: unexpected ld_3d shape");
    }
    LandmarkOutput result;
    const float* v = ld.ptr<float>();
    for (auto& l : result.landmarks) {
      l = {v[0], v[1], v[2], v[3], v[4]};
      v += 5;
    }
    result.pose_flag = out[flag_].ptr<float>()[0];
    return result;
  }

 private:
  OnnxNet net_;
  std::size_t ld_;
  std::size_t flag_;
  cv::Mat blob_;
};

class OpenCvPersonDetector final : public PersonDetector {
 public:
  OpenCvPersonDetector(const common::FileSource& onnx, const PoseRuntimeOptions& options)
      : net_(onnx, options), person_(net_.output("person")) {}

  std::vector<Detection> detect(const cv::Mat& rgb_frame) override {
    require_rgb(rgb_frame, 0, "detector input");
    const Letterbox box = detector_letterbox(rgb_frame.cols, rgb_frame.rows);
    cv::Mat input = letterbox_frame(rgb_frame, box);
    // [-1, 1], as pose_detection's ImageToTensorCalculator (output_tensor_float_range).
    cv::dnn::blobFromImage(input, blob_, 1.0 / 127.5, cv::Size(), cv::Scalar(127.5, 127.5, 127.5),
                           /*swapRB=*/false, /*crop=*/false, CV_32F);
    const cv::Mat& raw = net_.forward(blob_)[person_];
    if (raw.total() != static_cast<std::size_t>(kDetectorAnchors) * kDetectorValues ||
        raw.type() != CV_32F) {
      throw PoseModelError("detector: unexpected output shape");
    }
    return decode_pose_detections(raw.ptr<float>(), box);
  }

 private:
  OnnxNet net_;
  std::size_t person_;
  cv::Mat blob_;
};

}  // namespace

std::unique_ptr<LandmarkModel> make_opencv_landmark_model(const common::FileSource& onnx,
                                                          PoseRuntimeOptions options) {
  return std::make_unique<OpenCvLandmarkModel>(onnx, options);
}

std::unique_ptr<PersonDetector> make_opencv_person_detector(const common::FileSource& onnx,
                                                            PoseRuntimeOptions options) {
  return std::make_unique<OpenCvPersonDetector>(onnx, options);
}

}  // namespace dancer::analysis

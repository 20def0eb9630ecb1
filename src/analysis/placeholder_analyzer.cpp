#include "analysis/placeholder_analyzer.h"

#include <cmath>
#include <cstdlib>
#include <string>

#include "media/metadata.h"

namespace dancer::analysis {
namespace {

// "30000/1001" -> 29.97; "0/0" (ffprobe's unknown) -> 0.
double rational_field(const nlohmann::json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end() || !it->is_string()) return 0;
  const std::string& text = it->get_ref<const std::string&>();
  char* end = nullptr;
  const double numerator = std::strtod(text.c_str(), &end);
  if (end == nullptr || *end != '/') return numerator;
  const double denominator = std::strtod(end + 1, nullptr);
  return denominator > 0 ? numerator / denominator : 0;
}

class PlaceholderAnalyzer final : public Analyzer {
 public:
  std::string name() const override { return kPlaceholderAnalyzerName; }
  std::string version() const override { return kPlaceholderAnalyzerVersion; }
  AnalysisResult analyze(const AnalysisRequest& request) override {
    AnalysisResult result;
    result.analysis = placeholder_analysis(request.metadata);
    return result;
  }
};

}  // namespace

nlohmann::json placeholder_analysis(const nlohmann::json& metadata) {
  if (!metadata.is_object() || !metadata.contains("streams") || !metadata["streams"].is_array()) {
    throw AnalysisError(AnalysisErrorCode::kInvalidInput, "placeholder analysis needs metadata");
  }
  const nlohmann::json* video = nullptr;
  for (const auto& stream : metadata["streams"]) {
    if (stream.value("codec_type", "") == "video") {
      video = &stream;
      break;
    }
  }
  if (video == nullptr) {
    throw AnalysisError(AnalysisErrorCode::kInvalidInput, "no video stream in the metadata");
  }
  double duration = media::ffprobe_number(*video, "duration");
  if (duration <= 0 && metadata.contains("format")) {
    duration = media::ffprobe_number(metadata["format"], "duration");
  }
  double fps = rational_field(*video, "avg_frame_rate");
  if (fps <= 0) fps = rational_field(*video, "r_frame_rate");
  auto frame_count = static_cast<long long>(media::ffprobe_number(*video, "nb_frames"));
  if (frame_count <= 0) frame_count = std::llround(duration * fps);

  return {
      {"analyzer", {{"name", kPlaceholderAnalyzerName}, {"version", kPlaceholderAnalyzerVersion}}},
      {"placeholder", true},
      {"duration_seconds", duration},
      {"frame_count", frame_count},
      {"fps", fps},
      {"width", video->value("width", 0)},
      {"height", video->value("height", 0)}};
}

std::unique_ptr<Analyzer> make_placeholder_analyzer() {
  return std::make_unique<PlaceholderAnalyzer>();
}

}  // namespace dancer::analysis

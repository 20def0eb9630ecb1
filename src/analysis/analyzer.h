// The analysis stage: several analyzers (gait from silhouettes, an external command,
// later a pose model) behind one interface.
#pragma once

#include <atomic>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

namespace dancer::analysis {

struct AnalysisRequest {
  std::filesystem::path video;
  nlohmann::json metadata;                 // ffprobe-compatible, may be null
  std::optional<double> subject_height_m;  // SUBJECT_HEIGHT_M or x-amz-meta-subject-height-m
  std::filesystem::path report_dir;        // where to write report.html; empty: no report
  // When it turns true the analysis should stop promptly (service shutdown); may be null.
  const std::atomic<bool>* cancel = nullptr;
};

struct AnalysisResult {
  nlohmann::json analysis;  // stored under results_json["analysis"]
  std::optional<std::filesystem::path> report_path;
};

enum class AnalysisErrorCode {
  kInvalidInput,  // not a video we can analyse: permanent
  kTimeout,       // exceeded its time limit: permanent for this video
  kCrashed,       // the analysis process died (signal, memory limit): permanent
  kFailed,        // external command exited non-zero or printed invalid JSON
  kInternal,
};

class AnalysisError : public std::runtime_error {
 public:
  AnalysisError(AnalysisErrorCode code, const std::string& message)
      : std::runtime_error(message), code_(code) {}
  AnalysisErrorCode code() const noexcept { return code_; }

 private:
  AnalysisErrorCode code_;
};

class Analyzer {
 public:
  virtual ~Analyzer() = default;
  virtual std::string name() const = 0;
  virtual std::string version() const = 0;
  virtual AnalysisResult analyze(const AnalysisRequest& request) = 0;
};

}  // namespace dancer::analysis

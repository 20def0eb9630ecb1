// The analysis stage: several analyzers (gait from silhouettes, an external command,
// later a pose model) behind one interface.
#pragma once

#include <atomic>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analysis/outputs.h"
#include "common/fd.h"
#include "media/video_decoder.h"

namespace dancer::analysis {

// Who the analysis is for, as the reports and exports name it. All optional.
struct JobContext {
  std::string job_id;
  std::string object_name;         // the upload's key, or the local file's name
  std::string video_url;           // s3://bucket/key, or file:///path
  std::string video_content_type;  // the upload's Content-Type, when known
};

struct AnalysisRequest {
  // The video, by name, or (in the sandboxed child) as an inherited descriptor.
  common::FileSource video;
  // What decoding it may cost (ANALYSIS_MAX_DURATION, ANALYSIS_MAX_FRAMES, the frame-rate
  // ceiling, PROBE_MAX_FRAME_PIXELS); enforced by the decoder of every pass.
  media::DecodeLimits limits;
  nlohmann::json metadata;                 // ffprobe-compatible, may be null
  std::optional<double> subject_height_m;  // SUBJECT_HEIGHT_M or x-amz-meta-subject-height-m
  // Warnings the caller found before the analysis (the service's subject_height_refused): the
  // built-in analyzers list them in quality.warnings, so their reports explain them too.
  std::vector<std::string> warnings;
  JobContext job;
  // Which artifacts to write besides report.html (outputs.h names), when the analyzer makes them.
  std::vector<std::string> artifacts;
  // Where to write report.html (and later artifacts): `outputs` when set (the sandboxed
  // child's descriptors), else the directory report_dir; neither: no report.
  std::filesystem::path report_dir;
  OutputFiles* outputs = nullptr;
  // When it turns true the analysis should stop promptly (service shutdown); may be null.
  const std::atomic<bool>* cancel = nullptr;
};

struct AnalysisResult {
  nlohmann::json analysis;                           // stored under results_json["analysis"]
  std::optional<std::filesystem::path> report_path;  // report_dir/report.html when written there
  std::vector<std::string> outputs_written;          // names written ("report.html", ...)
  // Every file written into report_dir (report.html and the artifacts), when written there.
  std::vector<std::filesystem::path> artifacts;
};

// How an analysis failed. The processor maps each code to retry or fail in one place
// (classify_current_exception), the same whether the analysis ran in process or in the
// sandboxed child (child_protocol.h carries the code across).
enum class AnalysisErrorCode {
  kInvalidInput,   // not a video we can analyse: permanent
  kTimeout,        // exceeded its time or CPU limit: permanent for this video
  kCrashed,        // the analysis process died (signal): permanent
  kResourceLimit,  // needed more memory than ANALYSIS_MEMORY_LIMIT_MB allows: permanent
  kFailed,         // external command exited non-zero or printed invalid JSON: permanent
  kInternal,       // a fault of ours or of this machine (cannot write, ...): transient
  kCancelled,      // stopped by shutdown: the message goes back to the queue
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

#include "service/analysis_runner.h"

#include <unistd.h>

#include <fstream>

#include "analysis/external_analyzer.h"
#include "analysis/gait_analyzer.h"
#include "analysis/placeholder_analyzer.h"
#include "analysis/subprocess.h"

namespace dancer::service {
namespace {

using analysis::AnalysisError;
using analysis::AnalysisErrorCode;

class SandboxedRunner final : public AnalysisRunner {
 public:
  SandboxedRunner(AnalysisSettings settings, std::filesystem::path executable)
      : settings_(std::move(settings)), executable_(std::move(executable)) {}

  analysis::AnalysisResult run(const analysis::AnalysisRequest& request,
                               const std::atomic<bool>* cancel) override {
    analysis::SubprocessOptions options;
    options.argv = {executable_.string(), "analyze", "--analysis-only"};
    if (!request.report_dir.empty()) {
      options.argv.insert(options.argv.end(), {"--report-dir", request.report_dir.string()});
    }
    if (request.subject_height_m) {
      options.argv.insert(options.argv.end(),
                          {"--subject-height-m", std::to_string(*request.subject_height_m)});
    }
    std::filesystem::path metadata_file;
    if (!request.metadata.is_null()) {
      metadata_file = request.video;
      metadata_file += ".metadata.json";
      std::ofstream(metadata_file) << request.metadata.dump();
      options.argv.insert(options.argv.end(), {"--metadata-file", metadata_file.string()});
    }
    options.argv.push_back("--");
    options.argv.push_back(request.video.string());
    options.timeout = std::chrono::seconds(settings_.timeout_seconds);
    options.memory_limit_bytes = settings_.memory_limit_mb << 20;
    options.cpu_limit_seconds = static_cast<std::uint64_t>(settings_.timeout_seconds) * 4;
    options.cancel = cancel;
    analysis::SubprocessResult child = analysis::run_subprocess(options);
    if (!metadata_file.empty()) {
      std::error_code ec;
      std::filesystem::remove(metadata_file, ec);
    }
    if (child.cancelled) throw AnalysisError(AnalysisErrorCode::kInternal, "analysis cancelled");
    if (child.timed_out) {
      throw AnalysisError(AnalysisErrorCode::kTimeout,
                          "analysis exceeded ANALYSIS_TIMEOUT (" +
                              std::to_string(settings_.timeout_seconds) + " s)");
    }
    nlohmann::json out = nlohmann::json::parse(child.stdout_text, nullptr, false);
    if (child.term_signal != 0) {
      throw AnalysisError(AnalysisErrorCode::kCrashed, "analysis process " + child.describe());
    }
    // The child reports typed failures as {"error": {"code": ..., "message": ...}}.
    if (!out.is_discarded() && out.is_object() && out.contains("error")) {
      const auto& error = out["error"];
      const std::string code = error.value("code", "internal");
      const std::string message = error.value("message", "analysis failed");
      throw AnalysisError(
          code == "invalid_input" ? AnalysisErrorCode::kInvalidInput : AnalysisErrorCode::kFailed,
          message);
    }
    if (child.exit_code != 0 || out.is_discarded() || !out.contains("analysis")) {
      std::string tail = child.stderr_text.substr(
          child.stderr_text.size() > 400 ? child.stderr_text.size() - 400 : 0);
      throw AnalysisError(AnalysisErrorCode::kCrashed,
                          "analysis process " + child.describe() + ": " + tail);
    }
    analysis::AnalysisResult result;
    result.analysis = std::move(out["analysis"]);
    if (out.contains("report_path") && out["report_path"].is_string()) {
      result.report_path = out["report_path"].get<std::string>();
    }
    return result;
  }

 private:
  AnalysisSettings settings_;
  std::filesystem::path executable_;
};

// Runs an analyzer in this process. For analyzers that decode nothing themselves: the
// placeholder (which keeps a job's cost to the pipeline, what ANALYZER=placeholder exists
// to measure) and ANALYSIS_COMMAND (which isolates its own work in a child process).
class InProcessRunner final : public AnalysisRunner {
 public:
  explicit InProcessRunner(std::unique_ptr<analysis::Analyzer> analyzer)
      : analyzer_(std::move(analyzer)) {}

  analysis::AnalysisResult run(const analysis::AnalysisRequest& request,
                               const std::atomic<bool>* cancel) override {
    analysis::AnalysisRequest with_cancel = request;
    with_cancel.cancel = cancel;
    return analyzer_->analyze(with_cancel);
  }

 private:
  std::unique_ptr<analysis::Analyzer> analyzer_;
};

}  // namespace

std::filesystem::path current_executable() {
  std::error_code ec;
  auto path = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::path("dancer-analysis") : path;
}

std::unique_ptr<AnalysisRunner> make_analysis_runner(const AnalysisSettings& settings,
                                                     std::filesystem::path executable) {
  if (!settings.command.empty()) {
    return std::make_unique<InProcessRunner>(analysis::make_external_analyzer(
        {settings.command, std::chrono::seconds(settings.timeout_seconds),
         settings.memory_limit_mb << 20}));
  }
  if (settings.analyzer == "placeholder") {
    return std::make_unique<InProcessRunner>(analysis::make_placeholder_analyzer());
  }
  return std::make_unique<SandboxedRunner>(settings, std::move(executable));
}

std::unique_ptr<analysis::Analyzer> make_builtin_analyzer() {
  return analysis::make_gait_analyzer();
}

}  // namespace dancer::service

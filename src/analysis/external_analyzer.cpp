#include "analysis/external_analyzer.h"

#include "sandbox/sandbox.h"
#include "sandbox/subprocess.h"

namespace dancer::analysis {
namespace {

class ExternalAnalyzer final : public Analyzer {
 public:
  explicit ExternalAnalyzer(ExternalAnalyzerConfig config) : config_(std::move(config)) {}

  std::string name() const override { return "external-command"; }
  std::string version() const override { return "1"; }

  AnalysisResult analyze(const AnalysisRequest& request) override {
    SubprocessOptions options;
    // The path travels as a positional parameter, never spliced into the command text,
    // so a hostile object key cannot inject shell syntax.
    options.argv = {"/bin/sh", "-c", config_.command + " \"$1\"", "dancer-analysis",
                    request.video.path().string()};
    options.timeout = config_.timeout;
    options.memory_limit_bytes = config_.memory_limit_bytes;
    options.cancel = request.cancel;
    // The service's secrets (AWS_*, DATABASE_URL) stay out of the command's reach.
    options.environment = external_command_environment();
    SubprocessResult run = run_subprocess(options);
    if (run.cancelled) throw AnalysisError(AnalysisErrorCode::kInternal, "analysis cancelled");
    if (run.timed_out) {
      throw AnalysisError(
          AnalysisErrorCode::kTimeout,
          "ANALYSIS_COMMAND timed out after " + std::to_string(config_.timeout.count()) + " s");
    }
    if (!run.succeeded()) {
      throw AnalysisError(
          run.term_signal != 0 ? AnalysisErrorCode::kCrashed : AnalysisErrorCode::kFailed,
          "ANALYSIS_COMMAND " + run.describe() + tail(run.stderr_text));
    }
    nlohmann::json parsed = nlohmann::json::parse(run.stdout_text, nullptr, false);
    if (parsed.is_discarded() || !parsed.is_object()) {
      throw AnalysisError(AnalysisErrorCode::kFailed,
                          "ANALYSIS_COMMAND did not print a JSON object on stdout");
    }
    if (!parsed.contains("analyzer")) {
      parsed["analyzer"] = {{"name", name()}, {"command", config_.command}};
    }
    return AnalysisResult{std::move(parsed), std::nullopt, {}, {}};
  }

 private:
  static std::string tail(const std::string& stderr_text) {
    if (stderr_text.empty()) return {};
    constexpr std::size_t kMax = 500;
    std::string t =
        stderr_text.size() > kMax ? stderr_text.substr(stderr_text.size() - kMax) : stderr_text;
    while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
    return ": " + t;
  }

  ExternalAnalyzerConfig config_;
};

}  // namespace

std::unique_ptr<Analyzer> make_external_analyzer(ExternalAnalyzerConfig config) {
  return std::make_unique<ExternalAnalyzer>(std::move(config));
}

}  // namespace dancer::analysis

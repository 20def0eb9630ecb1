// Runs the analysis of one downloaded video. The built-in gait analysis runs in a child
// process of our own executable (`dancer-analysis analyze --analysis-only`) with a time
// limit and memory/CPU limits, so a video that crashes or hangs the decoder fails that
// job and not the service. ANALYSIS_COMMAND runs the user's program instead.
#pragma once

#include <atomic>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "analysis/analyzer.h"
#include "service/config.h"

namespace dancer::service {

class AnalysisRunner {
 public:
  virtual ~AnalysisRunner() = default;
  // Throws analysis::AnalysisError.
  virtual analysis::AnalysisResult run(const analysis::AnalysisRequest& request,
                                       const std::atomic<bool>* cancel) = 0;
};

// Path of the running executable (/proc/self/exe), for re-executing ourselves.
std::filesystem::path current_executable();

std::unique_ptr<AnalysisRunner> make_analysis_runner(const AnalysisSettings& settings,
                                                     std::filesystem::path executable);

// The in-process analyzer the child runs (and `analyze FILE` uses).
std::unique_ptr<analysis::Analyzer> make_builtin_analyzer();

}  // namespace dancer::service

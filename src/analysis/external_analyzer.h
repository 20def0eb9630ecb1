// ANALYSIS_COMMAND: an external program is given the video path as its last argument
// and prints the analysis as JSON on stdout (the seed's extension point).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "analysis/analyzer.h"

namespace dancer::analysis {

struct ExternalAnalyzerConfig {
  std::string command;  // shell command line; the video path is appended as "$1"
  std::chrono::seconds timeout{1800};
  std::uint64_t memory_limit_bytes = 4ull << 30;
};

std::unique_ptr<Analyzer> make_external_analyzer(ExternalAnalyzerConfig config);

}  // namespace dancer::analysis

// "placeholder": the seed service's stand-in for gait analysis, kept so the throughput of
// the pipeline (queue, download, metadata, store) can be measured apart from the cost of
// the real analysis (ANALYZER=placeholder). It decodes nothing: it derives a few trivial
// figures from the ffprobe-compatible metadata, and labels its output as a placeholder so
// nobody mistakes it for a gait result. bench/peers/seed_worker.py does the same work.
#pragma once

#include <memory>

#include <nlohmann/json.hpp>

#include "analysis/analyzer.h"

namespace dancer::analysis {

inline constexpr const char* kPlaceholderAnalyzerName = "placeholder";
inline constexpr const char* kPlaceholderAnalyzerVersion = "1.0.0";

// {"analyzer": {"name": "placeholder", "version": ...}, "placeholder": true,
//  "duration_seconds": D, "frame_count": N, "fps": F, "width": W, "height": H}
// from the first video stream of `metadata` (frame_count from nb_frames, else
// round(duration * fps)). Throws AnalysisError kInvalidInput when the metadata is null or
// has no video stream. Pure and deterministic.
nlohmann::json placeholder_analysis(const nlohmann::json& metadata);

std::unique_ptr<Analyzer> make_placeholder_analyzer();

}  // namespace dancer::analysis

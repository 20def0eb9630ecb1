// Throughput of the silhouette-gait analyzer against decoding alone, side by side in one run.
// Usage: gait_speed [VIDEO]   (default: a 1080p30 H.264 synthetic walk rendered here)
// Also: gait_speed --analyze VIDEO  prints the analysis JSON of one file.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>

#include "analysis/gait_analyzer.h"
#include "media/video_decoder.h"
#include "synthetic_walker/synthetic_walker.h"

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  using dancer::analysis::GaitConfig;
  if (argc == 3 && std::string(argv[1]) == "--analyze") {
    dancer::analysis::AnalysisRequest request;
    request.video = argv[2];
    std::cout << dancer::analysis::make_gait_analyzer()->analyze(request).analysis.dump(2) << "\n";
    return 0;
  }
  std::filesystem::path video;
  if (argc > 1) {
    video = argv[1];
  } else {
    video = std::filesystem::temp_directory_path() / "gait_speed_1080p30.mp4";
    dancer::analysis::SyntheticWalkSpec spec;
    spec.width = 1920;
    spec.height = 1080;
    spec.fps = 30;
    spec.duration_s = 10;
    spec.step_length_body_heights = 0.2;  // slow enough to stay in view for 10 s
    spec.textured_background = true;
    spec.noise_sigma = 3;
    std::cerr << "rendering " << video << " ...\n";
    dancer::analysis::render_synthetic_walk(spec, video);
  }
  const GaitConfig config;
  // Decode only: the same decoder settings the analyzer uses, frames discarded.
  dancer::media::DecoderOptions options;
  options.max_width = config.analysis_width;
  options.max_height = config.analysis_width;
  options.skip_loop_filter = config.skip_loop_filter;
  double video_s = 0;
  long frames = 0;
  const auto decode_start = std::chrono::steady_clock::now();
  {
    dancer::media::VideoDecoder decoder(video, options);
    dancer::media::VideoFrame frame;
    while (decoder.next(frame)) ++frames;
    video_s = decoder.info().duration_s;
  }
  const double decode_s = seconds_since(decode_start);

  const auto analyze_start = std::chrono::steady_clock::now();
  dancer::analysis::AnalysisRequest request;
  request.video = video;
  const auto result = dancer::analysis::make_gait_analyzer(config)->analyze(request);
  const double analyze_s = seconds_since(analyze_start);

  std::printf("video: %s (%.2f s, %ld frames)\n", video.string().c_str(), video_s, frames);
  std::printf("decode only : %.3f s  = %.1f fps = %.1fx real time\n", decode_s, frames / decode_s,
              video_s / decode_s);
  std::printf("full analysis: %.3f s = %.1f fps = %.1fx real time\n", analyze_s, frames / analyze_s,
              video_s / analyze_s);
  std::printf("analysis / decode-only throughput: %.2f (target >= 0.7)\n", decode_s / analyze_s);
  std::printf("cadence_steps_per_min: %s\n",
              result.analysis["cadence_steps_per_min"].dump().c_str());
  return 0;
}

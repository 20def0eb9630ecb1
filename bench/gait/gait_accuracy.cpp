// Accuracy of the silhouette-gait analyzer against synthetic walkers with a known gait.
// Usage: gait_accuracy [--quick] [--markdown FILE] [--workdir DIR]
// Prints one row per case and a summary against the targets of issue 4.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "analysis/gait_analyzer.h"
#include "synthetic_walker/synthetic_walker.h"

namespace {

using dancer::analysis::SyntheticWalkSpec;

struct Case {
  std::string condition;
  SyntheticWalkSpec spec;
};

struct Size {
  int width;
  int height;
};

std::vector<Case> grid(bool quick) {
  const std::vector<double> cadences =
      quick ? std::vector<double>{80, 125} : std::vector<double>{70, 90, 110, 125, 140};
  const std::vector<double> rates =
      quick ? std::vector<double>{30} : std::vector<double>{24, 30, 60};
  const std::vector<Size> sizes = {{854, 480}, {1280, 720}, {1920, 1080}};
  const std::vector<std::string> conditions = {"plain", "noise", "textured", "low_contrast"};
  std::vector<Case> cases;
  int i = 0;
  for (double cadence : cadences) {
    for (double fps : rates) {
      for (const std::string& condition : conditions) {
        Case c;
        c.condition = condition;
        c.spec.cadence_steps_per_min = cadence;
        c.spec.fps = fps;
        const Size size = sizes[static_cast<std::size_t>(i % 3)];
        c.spec.width = quick ? 854 : size.width;
        c.spec.height = quick ? 480 : size.height;
        c.spec.left_to_right = (i / 3) % 2 == 0;
        c.spec.step_length_body_heights = 0.33 + 0.0012 * (cadence - 70);
        c.spec.seed = static_cast<unsigned>(i + 1);
        if (condition == "noise") c.spec.noise_sigma = 6;
        if (condition == "textured") c.spec.textured_background = true;
        if (condition == "low_contrast") {
          c.spec.figure_gray = 150;
          c.spec.background_gray = 185;
          c.spec.noise_sigma = 2;
        }
        cases.push_back(c);
        ++i;
      }
    }
  }
  for (const std::string condition : {"plain", "noise", "textured"}) {
    Case c;
    c.condition = "no_walker_" + condition;
    c.spec.with_walker = false;
    c.spec.duration_s = 4;
    c.spec.noise_sigma = condition == std::string("noise") ? 6 : 0;
    c.spec.textured_background = condition == std::string("textured");
    cases.push_back(c);
  }
  return cases;
}

double median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  std::string markdown;
  std::filesystem::path workdir = std::filesystem::temp_directory_path() / "gait_accuracy";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--quick")
      quick = true;
    else if (arg == "--markdown" && i + 1 < argc)
      markdown = argv[++i];
    else if (arg == "--workdir" && i + 1 < argc)
      workdir = argv[++i];
    else {
      std::cerr << "usage: gait_accuracy [--quick] [--markdown FILE] [--workdir DIR]\n";
      return 2;
    }
  }
  std::filesystem::create_directories(workdir);
  auto analyzer = dancer::analysis::make_gait_analyzer();

  std::ostringstream table;
  table << "| case | condition | size | fps | dir | cadence true | cadence est | abs err | "
           "HS MAE (s) | steps det/true | speed err % | direction ok | warnings |\n"
        << "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  std::vector<double> cadence_errors;
  std::vector<double> hs_errors;
  int false_step_videos = 0;
  int direction_wrong = 0;
  int index = 0;
  for (const Case& c : grid(quick)) {
    const auto video = workdir / ("case" + std::to_string(index) + ".mp4");
    const auto truth = dancer::analysis::render_synthetic_walk(c.spec, video);
    dancer::analysis::AnalysisRequest request;
    request.video = video;
    const auto result = analyzer->analyze(request).analysis;
    std::filesystem::remove(video);
    std::ostringstream row;
    row << "| " << index << " | " << c.condition << " | " << c.spec.width << 'x' << c.spec.height
        << " | " << c.spec.fps << " | " << (c.spec.left_to_right ? "L→R" : "R→L") << " | ";
    const auto& cadence = result["cadence_steps_per_min"];
    const std::size_t detected = result["step_events"].size();
    if (!c.spec.with_walker) {
      if (detected > 0 || !cadence.is_null()) ++false_step_videos;
      row << "– | " << (cadence.is_null() ? "null" : cadence.dump()) << " | – | – | " << detected
          << "/0 | – | – | ";
    } else {
      char buf[256];
      const double est = cadence.is_null() ? NAN : cadence.get<double>();
      const double err = std::abs(est - truth.cadence_steps_per_min);
      cadence_errors.push_back(std::isnan(err) ? 999.0 : err);
      // Heel-strike timing: each detected step against the nearest true one.
      std::vector<double> errs;
      double signed_sum = 0;
      for (const auto& e : result["step_events"]) {
        const double t = e["time_s"].get<double>();
        double best = 1e9;
        for (double h : truth.heel_strike_times_s) {
          if (std::abs(t - h) < std::abs(best)) best = t - h;
        }
        errs.push_back(std::abs(best));
        hs_errors.push_back(std::abs(best));
        signed_sum += best;
      }
      double mae = 0;
      for (double e : errs) mae += e;
      const double bias = errs.empty() ? NAN : signed_sum / static_cast<double>(errs.size());
      mae = errs.empty() ? NAN : mae / static_cast<double>(errs.size());
      const auto& speed = result["speed_body_heights_per_s"];
      const double speed_err =
          speed.is_null() ? NAN
                          : 100.0 * (speed.get<double>() - truth.speed_body_heights_per_s) /
                                truth.speed_body_heights_per_s;
      const bool direction_ok = result["walking_direction"] == truth.walking_direction;
      if (!direction_ok) ++direction_wrong;
      std::snprintf(buf, sizeof buf,
                    "%.1f | %.2f | %.2f | %.3f (bias %+.3f) | %zu/%zu | %+.1f | %s | ",
                    truth.cadence_steps_per_min, est, err, mae, bias, detected,
                    truth.heel_strike_times_s.size(), speed_err, direction_ok ? "yes" : "NO");
      row << buf;
    }
    row << result["quality"]["warnings"].dump() << " |\n";
    std::cout << row.str() << std::flush;
    table << row.str();
    ++index;
  }
  double hs_mae = 0;
  for (double e : hs_errors) hs_mae += e;
  hs_mae = hs_errors.empty() ? NAN : hs_mae / static_cast<double>(hs_errors.size());
  const double worst = cadence_errors.empty()
                           ? NAN
                           : *std::max_element(cadence_errors.begin(), cadence_errors.end());
  std::ostringstream summary;
  summary << "\nSummary over " << cadence_errors.size() << " walking cases:\n"
          << "- median absolute cadence error: " << median(cadence_errors)
          << " steps/min (target <= 1)\n"
          << "- worst absolute cadence error: " << worst << " steps/min (target <= 3)\n"
          << "- heel-strike timing mean absolute error: " << hs_mae << " s (target <= 0.03)\n"
          << "- videos without a walker that reported steps: " << false_step_videos
          << " (target 0)\n"
          << "- walking direction wrong: " << direction_wrong << "\n";
  std::cout << summary.str();
  if (!markdown.empty()) {
    std::ofstream out(markdown);
    out << "# Gait accuracy on synthetic walkers\n\nGenerated by `bench/gait/run.sh`"
        << (quick ? " --quick" : "") << ".\n\n"
        << table.str() << summary.str();
  }
  const bool pass =
      median(cadence_errors) <= 1.0 && worst <= 3.0 && hs_mae <= 0.03 && false_step_videos == 0;
  return pass ? 0 : 1;
}

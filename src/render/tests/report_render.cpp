// report_render: writes the clinical HTML report of a stored result, for the browser test
// (clinical_report_browser_test.py) and for looking at a report by hand.
//
//   report_render RESULTS.json OUT.html [--metadata META.json] [--signals SIGNALS.json]
//                 [--key-frame PNG,FRAME,TIME_S,CAPTION]... [--object NAME] [--job ID]
//                 [--processed-at UNIX_SECONDS]
//
// RESULTS.json is a results_json (its "analysis" is rendered) or a bare analysis object; it is
// read back with from_json (gait/gait_result.h), so it must be a pose-gait analysis.
// SIGNALS.json: {"time_s": [...], "left": [...], "right": [...]}, null where not tracked.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iostream>
#include <limits>
#include <sstream>
#include <stdexcept>

#include "gait/gait_result.h"
#include "render/clinical_report.h"

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<double> series(const nlohmann::json& v) {
  std::vector<double> out;
  if (!v.is_array()) return out;
  for (const auto& x : v) {
    out.push_back(x.is_number() ? x.get<double>() : std::numeric_limits<double>::quiet_NaN());
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Render the clinical gait report of a results_json"};
  std::string results_path;
  std::string out_path;
  std::string metadata_path;
  std::string signals_path;
  std::vector<std::string> key_frames;
  std::string object;
  std::string job;
  long long processed_at = -1;
  app.add_option("results", results_path, "results_json or analysis JSON")->required();
  app.add_option("output", out_path, "HTML file to write")->required();
  app.add_option("--metadata", metadata_path, "metadata_json (ffprobe-style)");
  app.add_option("--signals", signals_path, "keypoint signals JSON");
  app.add_option("--key-frame", key_frames, "PNG,FRAME,TIME_S,CAPTION (repeatable)");
  app.add_option("--object", object, "object name shown (default: the result's object.key)");
  app.add_option("--job", job, "job id shown");
  app.add_option("--processed-at", processed_at, "processing time, Unix seconds (default: now)");
  CLI11_PARSE(app, argc, argv);
  try {
    const auto results = nlohmann::json::parse(slurp(results_path));
    const nlohmann::json& analysis = results.contains("analysis") ? results["analysis"] : results;
    nlohmann::json metadata;
    if (!metadata_path.empty()) metadata = nlohmann::json::parse(slurp(metadata_path));

    dancer::analysis::ReportContext context;
    context.object_name = object;
    if (context.object_name.empty() && results.contains("object")) {
      context.object_name = results["object"].value("key", "");
    }
    if (context.object_name.empty()) context.object_name = results_path;
    context.processed_at =
        processed_at >= 0
            ? std::chrono::system_clock::time_point(std::chrono::seconds(processed_at))
            : std::chrono::system_clock::now();
    if (!job.empty()) context.job_id = job;

    dancer::analysis::ReportSignals signals;
    if (!signals_path.empty()) {
      const auto s = nlohmann::json::parse(slurp(signals_path));
      signals.time_s = series(s.value("time_s", nlohmann::json::array()));
      signals.heel_ahead[0] = series(s.value("left", nlohmann::json::array()));
      signals.heel_ahead[1] = series(s.value("right", nlohmann::json::array()));
    }

    std::vector<dancer::analysis::KeyFrameImage> frames;
    for (const auto& spec : key_frames) {
      // PNG,FRAME,TIME_S,CAPTION (the caption may itself contain commas)
      std::vector<std::string> parts;
      std::size_t start = 0;
      for (int i = 0; i < 3; ++i) {
        const auto comma = spec.find(',', start);
        if (comma == std::string::npos) throw std::runtime_error("bad --key-frame " + spec);
        parts.push_back(spec.substr(start, comma - start));
        start = comma + 1;
      }
      dancer::analysis::KeyFrameImage k;
      k.png = slurp(parts[0]);
      k.frame = std::stoll(parts[1]);
      k.time_s = std::stod(parts[2]);
      k.caption = spec.substr(start);
      frames.push_back(std::move(k));
    }

    // The stored analysis read back into the typed result the report is written from.
    const dancer::analysis::GaitResult result = dancer::analysis::from_json(analysis);
    const std::string html =
        dancer::analysis::render_clinical_report(result, metadata, context, frames, signals);
    std::ofstream out(out_path, std::ios::binary);
    out << html;
    if (!out.flush()) throw std::runtime_error("cannot write " + out_path);
  } catch (const std::exception& e) {
    std::cerr << "report_render: " << e.what() << '\n';
    return 1;
  }
  return 0;
}

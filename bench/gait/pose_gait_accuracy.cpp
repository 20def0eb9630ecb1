// The pose-gait analyzer (BlazePose full) on every shared walking clip, as a markdown report:
// per clip its passes, cadence, strides, stance and double support, warnings; and for each clip
// with hand labels (gaitcdio_ground_truth_events.csv: kevin1) every labelled initial contact
// and toe-off against the nearest reported event of the same type. It reports; it does not
// judge (no thresholds).
//
// Usage: pose_gait_accuracy [--videos DIR] [--threads N] [--markdown FILE]
//        pose_gait_accuracy --dev-set [--labels CSV] [--pose-cache DIR] [--videos DIR] ...
//   DIR defaults to the shared test videos (../shared/testdata/videos beside the checkout).
//   --dev-set: the side-view clips of the hand-labelled development set
//   (tests/data/gait_labels/events.csv) scored per clip and pooled: initial contacts within 2
//   frames, toe-offs within 3, mean absolute and signed error, misses, extra detections, foot
//   mismatches, cadence against the labels' whole strides (tests/support/gait_label_scoring.h).
//   The events come from the analyzer's own stages (pose tracking, detect_keypoint_gait,
//   build_gait_table) with its default configuration; --pose-cache DIR keeps each clip's poses
//   (keyed by the clip's name, size and modification time) so that the event stages can be
//   measured again without re-running the pose model. --timing foot_at_rest places each event
//   where the foot stops or starts instead of at Zeni's extremum (KeypointGaitConfig::timing).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "analysis/pose_gait_analyzer.h"
#include "support/gait_label_scoring.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct Label {
  std::int64_t frame = 0;
  std::string foot;  // the annotators' "left" / "right"
  std::string type;  // "initial_contact" / "toe_off"
};

// video file name -> its labelled events, from the CSV's columns video,frame,time_s,foot,event.
std::map<std::string, std::vector<Label>> read_labels(const fs::path& csv) {
  std::map<std::string, std::vector<Label>> labels;
  std::ifstream in(csv);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();  // Python's csv writes CRLF
    std::vector<std::string> cells;
    std::stringstream row(line);
    for (std::string cell; std::getline(row, cell, ',');) cells.push_back(cell);
    if (cells.size() != 5) continue;
    labels[cells[0]].push_back({std::stoll(cells[1]), cells[3], cells[4]});
  }
  return labels;
}

std::string num(const json& value, int decimals = 1) {
  if (!value.is_number()) return "–";
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value.get<double>());
  return buffer;
}

std::string num(double value, int decimals = 1) { return num(json(value), decimals); }

std::string join(const std::vector<std::string>& parts, const std::string& separator) {
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : separator) + p;
  return out.empty() ? "–" : out;
}

// Mean of a per-stride field over one foot's strides that have it, with their count.
std::string stride_mean(const json& strides, const std::string& foot, const std::string& field) {
  double sum = 0;
  int n = 0;
  for (const json& s : strides) {
    if (s.at("foot") == foot && s.at(field).is_number()) {
      sum += s.at(field).get<double>();
      ++n;
    }
  }
  return n == 0 ? "–" : num(sum / n) + " (n=" + std::to_string(n) + ")";
}

std::string passes_text(const json& passes) {
  std::vector<std::string> parts;
  for (const json& p : passes) {
    std::string text = p.at("direction").get<std::string>() + " " +
                       std::to_string(p.at("first_frame").get<long>()) + "–" +
                       std::to_string(p.at("last_frame").get<long>());
    if (p.at("facing") != "forward") text += " (" + p.at("facing").get<std::string>() + ")";
    parts.push_back(text);
  }
  return std::to_string(passes.size()) + ": " + join(parts, ", ");
}

// One clip's labelled events against the analysis's reported events.
void compare_with_labels(const std::string& clip, const json& analysis,
                         const std::vector<Label>& labels, std::ostream& md) {
  const double fps = analysis.at("quality").at("fps").get<double>();
  const json& events = analysis.at("events");
  md << "\n## " << clip << " against its hand labels\n\n"
     << "Each labelled event is matched to the nearest reported event of the same type (either "
        "foot). Error = reported frame − labelled frame. The labels allow ±2–3 frames (see the "
        "videos' README).\n\n"
     << "| labelled frame | foot (label) | type | reported frame | foot (reported) | error "
        "(frames) | error (ms) |\n|---|---|---|---|---|---|---|\n";
  std::set<std::size_t> matched;
  std::map<std::string, std::vector<double>> abs_errors;  // by type, and "all"
  std::map<std::string, double> signed_sum;
  std::map<std::string, std::map<std::string, int>> foot_map;  // label foot -> reported -> n
  int within3 = 0, within4 = 0, reused = 0;
  for (const Label& label : labels) {
    std::optional<std::size_t> best;
    for (std::size_t i = 0; i < events.size(); ++i) {
      if (events[i].at("type") != label.type) continue;
      const auto d = std::llabs(events[i].at("frame").get<std::int64_t>() - label.frame);
      if (!best || d < std::llabs(events[*best].at("frame").get<std::int64_t>() - label.frame)) {
        best = i;
      }
    }
    if (!best) {
      md << "| " << label.frame << " | " << label.foot << " | " << label.type
         << " | none | – | – | – |\n";
      continue;
    }
    if (!matched.insert(*best).second) ++reused;
    const json& e = events[*best];
    const auto error = e.at("frame").get<std::int64_t>() - label.frame;
    const double error_ms = static_cast<double>(error) * 1000.0 / fps;
    for (const std::string& key : {label.type, std::string("all")}) {
      abs_errors[key].push_back(std::abs(static_cast<double>(error)));
      signed_sum[key] += static_cast<double>(error);
    }
    if (std::llabs(error) <= 3) ++within3;
    if (std::llabs(error) <= 4) ++within4;
    ++foot_map[label.foot][e.at("foot").get<std::string>()];
    md << "| " << label.frame << " | " << label.foot << " | " << label.type << " | "
       << e.at("frame").get<std::int64_t>() << " | " << e.at("foot").get<std::string>() << " | "
       << (error > 0 ? "+" : "") << error << " | " << (error > 0 ? "+" : "") << num(error_ms, 0)
       << " |\n";
  }

  md << "\n| measure | value |\n|---|---|\n";
  for (const std::string key : {"initial_contact", "toe_off", "all"}) {
    const auto& errors = abs_errors[key];
    if (errors.empty()) continue;
    double sum = 0;
    for (double e : errors) sum += e;
    const double mae = sum / static_cast<double>(errors.size());
    const double bias = signed_sum[key] / static_cast<double>(errors.size());
    md << "| " << key << ": mean absolute error (n=" << errors.size() << ") | " << num(mae, 2)
       << " frames = " << num(mae * 1000.0 / fps, 0) << " ms (mean signed error " << num(bias, 2)
       << " frames) |\n";
  }
  const std::size_t n = abs_errors["all"].size();
  md << "| within 3 frames | " << within3 << " / " << labels.size() << " |\n"
     << "| within 4 frames | " << within4 << " / " << labels.size() << " |\n"
     << "| labels sharing one reported event | " << reused << " |\n"
     << "| reported events matched to no label | " << events.size() - matched.size() << " of "
     << events.size() << " |\n";
  if (n < labels.size())
    md << "| labels without a reported event of their type | " << labels.size() - n << " |\n";

  // Cadence from the labels: the steps between the first and the last labelled contact.
  std::vector<std::int64_t> contacts;
  for (const Label& l : labels) {
    if (l.type == "initial_contact") contacts.push_back(l.frame);
  }
  std::sort(contacts.begin(), contacts.end());
  if (contacts.size() >= 2) {
    const double span_s = static_cast<double>(contacts.back() - contacts.front()) / fps;
    const double cadence = 60.0 * static_cast<double>(contacts.size() - 1) / span_s;
    md << "| cadence, labelled (" << contacts.size() - 1 << " steps, frames " << contacts.front()
       << "–" << contacts.back() << ") | " << num(cadence) << " steps/min |\n"
       << "| cadence, reported (" << analysis.at("cadence_steps").dump() << " steps) | "
       << num(analysis.at("cadence_steps_per_min")) << " steps/min |\n";
  }

  // Foot mapping: each labelled foot's events should carry one reported foot, and the two
  // labelled feet different ones. Which foot is anatomically left is the annotators' call
  // (their "left" is the shoe with the yellow marker), so the names may legitimately swap.
  std::vector<std::string> lines;
  std::set<std::string> majority;
  bool consistent = true;
  for (const auto& [label_foot, reported] : foot_map) {
    std::vector<std::string> parts;
    int total = 0, top = 0;
    std::string top_foot;
    for (const auto& [foot, count] : reported) {
      parts.push_back(foot + " " + std::to_string(count));
      total += count;
      if (count > top) {
        top = count;
        top_foot = foot;
      }
    }
    if (reported.size() != 1) consistent = false;
    majority.insert(top_foot);
    lines.push_back("label " + label_foot + " → reported " + join(parts, ", ") + " (of " +
                    std::to_string(total) + ")");
  }
  if (foot_map.empty() || majority.size() != foot_map.size()) consistent = false;
  md << "| foot mapping | " << join(lines, "; ") << ": "
     << (consistent ? "consistent" : "NOT consistent") << " |\n";
}

// --- development set -------------------------------------------------------------------------

// One clip's poses, from the cache when it holds them, else from the pose model (then cached).
std::vector<dancer::analysis::PoseFrame> clip_poses(const fs::path& clip,
                                                    const dancer::analysis::PoseVideoOptions& pose,
                                                    const fs::path& cache_dir, double& fps) {
  using dancer::analysis::PoseFrame;
  std::vector<PoseFrame> frames;
  fs::path cache;
  if (!cache_dir.empty()) {
    const auto stamp = fs::last_write_time(clip).time_since_epoch().count();
    // The tracking's version and window are part of the key: poses cached by an older tracker
    // (2: with the backward backfill) are not reused.
    constexpr int kTrackingVersion = 2;
    cache =
        cache_dir / (clip.filename().string() + "." + std::to_string(fs::file_size(clip)) + "." +
                     std::to_string(stamp) + ".t" + std::to_string(kTrackingVersion) + "-" +
                     std::to_string(std::lround(pose.tracker.backfill_seconds * 1000)) + ".poses");
    std::ifstream in(cache, std::ios::binary);
    std::uint64_t n = 0;
    if (in && in.read(reinterpret_cast<char*>(&fps), sizeof fps) &&
        in.read(reinterpret_cast<char*>(&n), sizeof n)) {
      frames.resize(n);
      for (PoseFrame& f : frames) {
        in.read(reinterpret_cast<char*>(&f.frame_index), sizeof f.frame_index);
        in.read(reinterpret_cast<char*>(&f.time_s), sizeof f.time_s);
        in.read(reinterpret_cast<char*>(&f.person), sizeof f.person);
        in.read(reinterpret_cast<char*>(&f.pose_score), sizeof f.pose_score);
        in.read(reinterpret_cast<char*>(f.landmarks.data()), sizeof f.landmarks);
      }
      if (in) return frames;
      frames.clear();
    }
  }
  std::cerr << "pose tracking " << clip.filename() << " ...\n";
  const auto summary = dancer::analysis::track_video_poses(
      clip, pose, [&](const PoseFrame& f) { frames.push_back(f); });
  fps = summary.info.fps;
  if (!cache.empty()) {
    fs::create_directories(cache_dir);
    std::ofstream out(cache, std::ios::binary);
    const std::uint64_t n = frames.size();
    out.write(reinterpret_cast<const char*>(&fps), sizeof fps);
    out.write(reinterpret_cast<const char*>(&n), sizeof n);
    for (const PoseFrame& f : frames) {
      out.write(reinterpret_cast<const char*>(&f.frame_index), sizeof f.frame_index);
      out.write(reinterpret_cast<const char*>(&f.time_s), sizeof f.time_s);
      out.write(reinterpret_cast<const char*>(&f.person), sizeof f.person);
      out.write(reinterpret_cast<const char*>(&f.pose_score), sizeof f.pose_score);
      out.write(reinterpret_cast<const char*>(f.landmarks.data()), sizeof f.landmarks);
    }
  }
  return frames;
}

std::string pct(int part, int whole) {
  if (whole == 0) return "–";
  return std::to_string(part) + "/" + std::to_string(whole) + " (" + num(100.0 * part / whole, 0) +
         " %)";
}

std::string signed_num(double v, int decimals = 2) {
  if (!std::isfinite(v)) return "–";
  return (v > 0 ? "+" : "") + num(v, decimals);
}

void score_row(const std::string& name, const dancer::testing::ClipScore& s, std::ostream& md) {
  std::string cadence = "–";
  if (s.label_cadence) {
    cadence = num(*s.label_cadence) + " (" + std::to_string(s.label_strides) + " strides) / " +
              (s.detected_cadence ? num(*s.detected_cadence) : "–");
    if (s.detected_cadence)
      cadence += " (" + signed_num(*s.detected_cadence - *s.label_cadence, 1) + ")";
  }
  md << "| " << name << " | " << pct(s.ic.within, s.ic.labels) << " | "
     << pct(s.to.within, s.to.labels) << " | " << num(s.ic.mae(), 2) << " / " << num(s.to.mae(), 2)
     << " | " << signed_num(s.ic.bias()) << " / " << signed_num(s.to.bias()) << " | " << s.ic.misses
     << " / " << s.to.misses << " | " << s.extras << " of " << s.detected << " | "
     << s.foot_mismatches << " of " << s.foot_compared << " | " << cadence << " | "
     << s.low_confidence_wrong << " of " << s.low_confidence << " / " << s.confident_wrong << " of "
     << s.detected - s.low_confidence << " |\n";
}

// The report on stdout, and into `markdown` when one is named.
void emit(const std::string& report, const fs::path& markdown) {
  std::cout << report;
  if (markdown.empty()) return;
  std::ofstream out(markdown);
  out << report;
  if (!out) throw std::runtime_error("cannot write " + markdown.string());
}

int run_dev_set(const fs::path& videos, const fs::path& labels_csv, const fs::path& cache_dir,
                int threads, const fs::path& markdown, const std::string& timing) {
  using namespace dancer::testing;
  const std::vector<GaitLabel> all = read_gait_labels(labels_csv);
  std::map<std::string, std::vector<GaitLabel>> by_clip;
  for (const GaitLabel& l : all) {
    if (l.side != "na") by_clip[l.video].push_back(l);  // side views only
  }
  dancer::analysis::PoseGaitConfig config;
  config.pose.variant = dancer::analysis::PoseModelVariant::kFull;
  config.pose.threads = threads;
  if (timing == "foot_at_rest") config.events.timing = dancer::analysis::EventTiming::kFootAtRest;
  std::ostringstream md;
  std::ostringstream details;
  md << "| clip | IC within 2 fr | TO within 3 fr | MAE IC / TO (fr) | signed IC / TO (fr) | "
        "missed IC / TO | extra detections | foot mismatches | cadence labels / detected "
        "(steps/min) | wrong of low-confidence / of the others |\n"
        "|---|---|---|---|---|---|---|---|---|---|\n";
  ClipScore pooled;
  int cadence_over_2 = 0, clips_missing_2 = 0;
  for (const auto& [clip, labels] : by_clip) {
    double fps = 0;
    const auto frames = clip_poses(videos / clip, config.pose, cache_dir, fps);
    const auto gait = dancer::analysis::detect_keypoint_gait(frames, fps, config.events);
    const auto table = dancer::analysis::build_gait_table(gait, std::nullopt, config.table);
    json events = json::array();
    for (const auto& e : gait.events) events.push_back(json::parse(to_json(e).dump()));
    const ClipScore s = score_clip(labels, events, fps, table.cadence_steps_per_min);
    score_row(clip, s, md);
    pooled.ic.add(s.ic);
    pooled.to.add(s.to);
    pooled.detected += s.detected;
    pooled.extras += s.extras;
    pooled.foot_mismatches += s.foot_mismatches;
    pooled.foot_compared += s.foot_compared;
    pooled.low_confidence += s.low_confidence;
    pooled.low_confidence_wrong += s.low_confidence_wrong;
    pooled.confident_wrong += s.confident_wrong;
    pooled.phase_compared += s.phase_compared;
    pooled.phase_agree += s.phase_agree;
    if (s.ic.misses + s.to.misses >= 2) ++clips_missing_2;
    if (s.label_cadence &&
        (!s.detected_cadence || std::abs(*s.detected_cadence - *s.label_cadence) > 2)) {
      ++cadence_over_2;
    }
    details << "\n### " << clip << "\n\npasses: ";
    for (const auto& p : gait.passes) {
      details << p.direction << (p.backward ? " (backward)" : "") << " " << p.first_frame << "–"
              << p.last_frame;
      for (const auto& segment : p.segments) {
        details << " " << to_string(segment.phase) << " " << num(segment.start_s, 2) << "–"
                << num(segment.end_s, 2) << " s";
      }
      details << "; ";
    }
    details << "\n\n| label | foot | type | context | detected | foot | error | phase |\n"
            << "|---|---|---|---|---|---|---|---|\n";
    for (const MatchRow& r : s.rows) {
      const bool miss = !r.detected_frame || std::llabs(r.error) > kMissFrames;
      details << "| " << r.label.frame << " | " << r.label.foot << " | " << r.label.event << " | "
              << r.label.context << " | "
              << (r.detected_frame ? std::to_string(*r.detected_frame) : "none") << " | "
              << r.detected_foot << " | "
              << (miss ? "MISS" : (r.error > 0 ? "+" : "") + std::to_string(r.error))
              << (!miss && r.detected_foot != r.label.foot ? " (foot)" : "") << " | "
              << r.detected_phase << " |\n";
    }
    details << "\ndetected: ";
    for (const auto& e : gait.events) {
      details << e.frame
              << (e.type == dancer::analysis::FootEventType::kInitialContact ? "IC" : "TO")
              << (e.foot == dancer::analysis::Foot::kLeft ? "L" : "R") << " ";
    }
    details << "\n";
  }
  score_row("**pooled**", pooled, md);
  md << "\nClips with 2 or more labelled events missed: " << clips_missing_2 << " of "
     << by_clip.size()
     << "; clips whose cadence is off by more than 2 steps/min: " << cadence_over_2 << " of "
     << by_clip.size()
     << ".\n\nWalk phases (initiation, steady, termination) of the matched events "
     << "against the labels' context: " << pct(pooled.phase_agree, pooled.phase_compared) << ".\n"
     << details.str();
  emit(md.str(), markdown);
  return 0;
}

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%d %H:%M UTC", &tm);
  return buffer;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown CPU";
}

int usage() {
  std::cerr << "usage: pose_gait_accuracy [--videos DIR] [--threads N] [--markdown FILE]\n"
               "       pose_gait_accuracy --dev-set [--labels CSV] [--pose-cache DIR] [--timing "
               "extremum|foot_at_rest] [--videos DIR] [--threads N] [--markdown FILE]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) try {
  fs::path videos = fs::path(DANCER_SHARED_TESTDATA) / "videos";
  fs::path markdown;
  int threads = 2;
  bool dev_set = false;
  fs::path labels_csv = fs::path(DANCER_SOURCE_DIR) / "tests/data/gait_labels/events.csv";
  fs::path pose_cache;
  std::string timing = "extremum";
  const std::vector<std::string> args(argv + 1, argv + argc);
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--videos" && i + 1 < args.size()) {
      videos = args[++i];
    } else if (args[i] == "--markdown" && i + 1 < args.size()) {
      markdown = args[++i];
    } else if (args[i] == "--threads" && i + 1 < args.size()) {
      threads = std::stoi(args[++i]);
    } else if (args[i] == "--dev-set") {
      dev_set = true;
    } else if (args[i] == "--labels" && i + 1 < args.size()) {
      labels_csv = args[++i];
    } else if (args[i] == "--timing" && i + 1 < args.size()) {
      timing = args[++i];  // "foot_at_rest", or the default "extremum" (Zeni's instant)
    } else if (args[i] == "--pose-cache" && i + 1 < args.size()) {
      pose_cache = args[++i];
    } else {
      return usage();
    }
  }
  if (dev_set) return run_dev_set(videos, labels_csv, pose_cache, threads, markdown, timing);
  std::vector<fs::path> clips;
  for (const auto& entry : fs::directory_iterator(videos)) {
    if (entry.path().extension() == ".mp4") clips.push_back(entry.path());
  }
  std::sort(clips.begin(), clips.end());
  if (clips.empty()) {
    std::cerr << "no .mp4 in " << videos << " (the shared test videos)\n";
    return 2;
  }
  const auto labels = read_labels(videos / "gaitcdio_ground_truth_events.csv");

  dancer::analysis::PoseGaitConfig config;
  config.pose.variant = dancer::analysis::PoseModelVariant::kFull;
  config.pose.threads = threads;
  const auto analyzer = dancer::analysis::make_pose_gait_analyzer(config);

  std::ostringstream md;
  md << "# pose-gait on the shared walking clips\n\n"
     << "Generated by `bench/gait/pose_gait_accuracy` (`bench/gait/run.sh`) on " << utc_now()
     << ": " << dancer::analysis::kPoseGaitAnalyzerName << " "
     << dancer::analysis::kPoseGaitAnalyzerVersion << ", BlazePose full, " << threads
     << " inference threads, every frame; " << std::thread::hardware_concurrency() << " × "
     << cpu_model()
     << " (a shared machine). No subject height is given, so lengths stay in "
        "body heights. Stance and double support are per-stride means in % of the stride.\n\n"
     << "| clip | video | person frames | passes (direction, frames) | cadence (steps/min) | "
        "steps | strides | stance % L / R | double support % L / R | warnings |\n"
     << "|---|---|---|---|---|---|---|---|---|---|\n";
  std::map<std::string, json> analyses;
  for (const fs::path& clip : clips) {
    std::cerr << "analysing " << clip.filename() << " ...\n";
    dancer::analysis::AnalysisRequest request;
    request.video = clip;
    const json a = analyzer->analyze(request).analysis;
    analyses[clip.filename().string()] = a;
    const json& q = a.at("quality");
    const json& strides = a.at("strides");
    md << "| " << clip.filename().string() << " | " << q.at("resolution").at("width") << "×"
       << q.at("resolution").at("height") << " " << num(q.at("fps"), 2) << " fps, "
       << q.at("frames") << " fr | " << q.at("frames_with_person") << " | "
       << passes_text(a.at("passes")) << " | " << num(a.at("cadence_steps_per_min")) << " | "
       << a.at("cadence_steps") << " | " << q.at("strides") << " | "
       << stride_mean(strides, "left", "stance_pct") << " / "
       << stride_mean(strides, "right", "stance_pct") << " | "
       << stride_mean(strides, "left", "double_support_pct") << " / "
       << stride_mean(strides, "right", "double_support_pct") << " | "
       << join(q.at("warnings").get<std::vector<std::string>>(), ", ") << " |\n";
  }
  for (const auto& [clip, clip_labels] : labels) {
    const auto found = analyses.find(clip);
    if (found != analyses.end()) compare_with_labels(clip, found->second, clip_labels, md);
  }
  emit(md.str(), markdown);
  return 0;
} catch (const std::exception& e) {
  std::cerr << "pose_gait_accuracy: " << e.what() << "\n";
  return 1;
}

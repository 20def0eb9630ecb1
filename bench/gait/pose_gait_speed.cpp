// Whole-video speed of the pose-gait analyzer on a real walk, side by side in one run with
// decoding alone (as the pose path decodes) and with the silhouette-gait analyzer.
//
// Usage: pose_gait_speed [--source CLIP] [--video VIDEO]
//   Without --video, makes a 10 s 1080p30 H.264 walk in a temporary directory with ffmpeg:
//   CLIP (default: side_gaitcdio_4markerskevin1.mp4 of the shared test videos, a real walk,
//   1920x1080 at 30 fps but 6.9 s long) looped with -stream_loop and cut at 10 s.
// Each measurement runs in its own process, `pose_gait_speed --mode MODE VIDEO`, which prints
// one JSON line: its peak RSS is its own and nothing is warm from the one before.
//   MODE: decode | silhouette | pose-<lite|full|heavy>-t<inference threads>
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>

#include "analysis/gait_analyzer.h"
#include "analysis/outputs.h"
#include "analysis/pose_gait_analyzer.h"
#include "media/video_decoder.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// VmHWM: the peak RSS of this process image. (wait4's ru_maxrss is not used: glibc's
// posix_spawn shares the parent's memory until exec, and the kernel carries that image's
// high-water mark into the child's maxrss.)
double peak_rss_mb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0;
}

// ---- one measurement (child process) ----

json measure_decode(const fs::path& video) {
  // track_video_poses's decoding: full resolution, upright, BGR from FFmpeg, then RGB, on
  // PoseVideoOptions' decoder threads. Frames are discarded.
  const dancer::analysis::PoseVideoOptions pose;
  dancer::media::DecoderOptions decoding;
  decoding.max_width = 0;
  decoding.max_height = 0;
  decoding.layout = dancer::media::PixelLayout::kBgr24;
  decoding.threads = pose.decoder_threads;
  decoding.apply_rotation = true;
  const auto start = Clock::now();
  dancer::media::VideoDecoder decoder(video, decoding);
  dancer::media::VideoFrame frame;
  cv::Mat rgb;
  long frames = 0;
  while (decoder.next(frame)) {
    const cv::Mat bgr(frame.height, frame.width, CV_8UC3, const_cast<std::uint8_t*>(frame.data),
                      static_cast<std::size_t>(frame.stride));
    cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    ++frames;
  }
  const double s = seconds_since(start);
  const auto& info = decoder.info();
  return {{"seconds", s},
          {"frames", frames},
          {"fps", info.fps},
          {"width", info.width},
          {"height", info.height},
          {"codec", info.codec_name},
          {"decoder_threads", decoding.threads}};
}

json measure_silhouette(const fs::path& video) {
  dancer::analysis::AnalysisRequest request;
  request.video = video;
  const auto start = Clock::now();
  const auto result = dancer::analysis::make_gait_analyzer()->analyze(request);
  const double s = seconds_since(start);
  const json& a = result.analysis;
  return {{"seconds", s},
          {"cadence_steps_per_min", a.value("cadence_steps_per_min", json())},
          {"steps", a.value("step_count", json())}};
}

// With `artifacts`, the job's files too, as the service makes them: the report, the verification
// video (a second decoding pass and an H.264 encode), the CSV and the FHIR bundle.
json measure_pose(const fs::path& video, dancer::analysis::PoseModelVariant variant, int threads,
                  bool artifacts) {
  dancer::analysis::PoseGaitConfig config;
  config.pose.variant = variant;
  config.pose.threads = threads;
  dancer::analysis::AnalysisRequest request;
  request.video = video;
  const fs::path out =
      fs::temp_directory_path() / ("pose_gait_speed_" + std::to_string(::getpid()));
  if (artifacts) {
    request.report_dir = out;
    request.artifacts = {dancer::analysis::kOverlayArtifact.name,
                         dancer::analysis::kStridesArtifact.name,
                         dancer::analysis::kFhirArtifact.name};
  }
  const auto start = Clock::now();
  const auto result = dancer::analysis::make_pose_gait_analyzer(config)->analyze(request);
  const double s = seconds_since(start);
  std::uintmax_t overlay_bytes = 0;
  if (artifacts) {
    overlay_bytes = fs::file_size(out / dancer::analysis::kOverlayArtifact.name);
    fs::remove_all(out);
  }
  const json& a = result.analysis;
  const json& q = a.at("quality");
  return {{"seconds", s},
          {"frames", a.value("frames_analyzed", json())},
          {"frames_with_person", q.value("frames_with_person", json())},
          {"detector_runs", q.value("detector_runs", json())},
          {"passes", a.value("passes", json::array()).size()},
          {"strides", q.value("strides", json())},
          {"cadence_steps_per_min", a.value("cadence_steps_per_min", json())},
          {"overlay_bytes", overlay_bytes}};
}

int run_mode(const std::string& mode, const fs::path& video) {
  json out;
  if (mode == "decode") {
    out = measure_decode(video);
  } else if (mode == "silhouette") {
    out = measure_silhouette(video);
  } else if (mode.rfind("pose-", 0) == 0 && mode.find("-t") != std::string::npos) {
    const std::size_t t = mode.rfind("-t");
    const auto variant = dancer::analysis::pose_model_variant_from_string(mode.substr(5, t - 5));
    if (!variant) throw std::invalid_argument("unknown pose model in " + mode);
    const std::string artifacts_suffix = "-artifacts";
    const bool artifacts = mode.size() > artifacts_suffix.size() &&
                           mode.compare(mode.size() - artifacts_suffix.size(),
                                        artifacts_suffix.size(), artifacts_suffix) == 0;
    out = measure_pose(video, *variant, std::stoi(mode.substr(t + 2)), artifacts);
  } else {
    throw std::invalid_argument("unknown mode " + mode);
  }
  out["mode"] = mode;
  out["peak_rss_mb"] = peak_rss_mb();
  std::cout << out.dump() << std::endl;
  return 0;
}

// ---- the driver (parent process) ----

// Owns one file descriptor.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

// Owns a posix_spawn_file_actions_t.
class SpawnActions {
 public:
  SpawnActions() { posix_spawn_file_actions_init(&actions_); }
  ~SpawnActions() { posix_spawn_file_actions_destroy(&actions_); }
  SpawnActions(const SpawnActions&) = delete;
  SpawnActions& operator=(const SpawnActions&) = delete;
  posix_spawn_file_actions_t* get() { return &actions_; }

 private:
  posix_spawn_file_actions_t actions_;
};

// A temporary directory, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "pose_gait_speed.XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw std::system_error(errno, std::generic_category(), "mkdtemp");
    }
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

struct ChildRun {
  std::string output;  // its stdout
  double wall_s = 0;   // spawn to exit
  double cpu_s = 0;    // user + system, all its threads
};

// Runs argv[0] (searched on PATH) to completion; its stdout is captured, stderr passes through.
ChildRun run(const std::vector<std::string>& args) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    throw std::system_error(errno, std::generic_category(), "pipe2");
  }
  Fd read_end(pipe_fds[0]);
  Fd write_end(pipe_fds[1]);
  SpawnActions actions;
  // dup2 clears FD_CLOEXEC on the copy: the child keeps stdout, not the pipe's originals.
  posix_spawn_file_actions_adddup2(actions.get(), write_end.get(), STDOUT_FILENO);
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const auto start = Clock::now();
  pid_t pid = 0;
  if (const int err = ::posix_spawnp(&pid, argv[0], actions.get(), nullptr, argv.data(), environ);
      err != 0) {
    throw std::system_error(err, std::generic_category(), "posix_spawnp " + args[0]);
  }
  write_end.reset();
  ChildRun result;
  std::array<char, 4096> buffer{};
  for (;;) {
    const ssize_t n = ::read(read_end.get(), buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    result.output.append(buffer.data(), static_cast<std::size_t>(n));
  }
  int status = 0;
  rusage usage{};
  while (::wait4(pid, &status, 0, &usage) < 0) {
    if (errno != EINTR) throw std::system_error(errno, std::generic_category(), "wait4");
  }
  result.wall_s = seconds_since(start);
  const auto tv = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  result.cpu_s = tv(usage.ru_utime) + tv(usage.ru_stime);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw std::runtime_error(args[0] + " " + (args.size() > 1 ? args[1] : "") + " failed");
  }
  return result;
}

// The machine's busy CPU time so far (all cores), from /proc/stat's "cpu" line: user, nice,
// system, irq, softirq and steal (guest time is already inside user).
double machine_busy_s() {
  std::ifstream stat("/proc/stat");
  std::string cpu;
  std::array<double, 8> v{};  // user nice system idle iowait irq softirq steal
  stat >> cpu;
  for (double& x : v) stat >> x;
  return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

fs::path self_path() { return fs::read_symlink("/proc/self/exe"); }

struct Measured {
  json out;
  double wall_s = 0;
  double cpu_s = 0;
  double others_cores = 0;  // other processes' CPU during the run, in cores on average
};

Measured measure(const std::string& mode, const fs::path& video) {
  const double busy_before = machine_busy_s();
  const ChildRun child = run({self_path().string(), "--mode", mode, video.string()});
  const double busy = machine_busy_s() - busy_before;
  Measured m;
  const std::size_t last_line = child.output.find_last_of('{');
  if (last_line == std::string::npos) throw std::runtime_error(mode + ": no result");
  m.out = json::parse(child.output.substr(last_line));
  m.wall_s = child.wall_s;
  m.cpu_s = child.cpu_s;
  m.others_cores = std::max(0.0, (busy - child.cpu_s) / child.wall_s);
  return m;
}

fs::path default_source() {
  return fs::path(DANCER_SHARED_TESTDATA) / "videos" / "side_gaitcdio_4markerskevin1.mp4";
}

void make_walk(const fs::path& source, const fs::path& out) {
  // -stream_loop -1 repeats the input without end; -t 10 cuts the output at 10 s. libx264
  // re-encodes (a stream copy could only cut at key frames); -an drops any audio.
  run({"ffmpeg",  "-nostdin",      "-v",   "error", "-y",       "-stream_loop", "-1",
       "-i",      source.string(), "-t",   "10",    "-an",      "-c:v",         "libx264",
       "-preset", "medium",        "-crf", "20",    "-pix_fmt", "yuv420p",      out.string()});
}

int drive(const fs::path& given_video, const fs::path& source) {
  std::optional<TempDir> temp;
  fs::path video = given_video;
  const std::string load_before = load_average();
  std::string walk;
  if (video.empty()) {
    temp.emplace();
    video = temp->path() / "walk_10s_1080p30.mp4";
    make_walk(source, video);
    walk = source.filename().string() + " looped (ffmpeg -stream_loop -1 -t 10, libx264 crf 20)";
  } else {
    walk = video.string();
  }
  const std::vector<std::string> modes = {"decode",       "silhouette",   "pose-lite-t2",
                                          "pose-full-t2", "pose-full-t1", "pose-full-t2-artifacts"};
  std::map<std::string, Measured> results;
  for (const std::string& mode : modes) {
    std::cerr << "measuring " << mode << " ..." << std::endl;
    results[mode] = measure(mode, video);
  }
  const json& d = results.at("decode").out;
  const long frames = d.at("frames").get<long>();
  const double fps = d.at("fps").get<double>();
  const double video_s = static_cast<double>(frames) / fps;
  std::printf("- walk: %s: %dx%d %s, %.2f fps, %ld frames = %.2f s\n", walk.c_str(),
              d.at("width").get<int>(), d.at("height").get<int>(),
              d.at("codec").get<std::string>().c_str(), fps, frames, video_s);
  std::printf("- machine: %u cores; load average (1, 5, 15 min) before: %s, after: %s\n",
              std::thread::hardware_concurrency(), load_before.c_str(), load_average().c_str());
  std::printf(
      "- each run in its own process, one after the other; seconds: from the analyzer call "
      "(models loaded inside it) to its result; cores busy: the run's CPU time / its wall "
      "time; others' CPU: the rest of the machine's busy time meanwhile (/proc/stat), in "
      "cores\n\n");
  std::printf(
      "| run | seconds | fps | x real time | CPU s | cores busy | peak RSS MB | "
      "others' CPU (cores) | result |\n|---|---|---|---|---|---|---|---|---|\n");
  const std::map<std::string, std::string> names = {
      {"decode", "decode only (full res, RGB, 1 decoder thread, as pose-gait)"},
      {"silhouette", "silhouette-gait (default: 320 px, decoder on all cores)"},
      {"pose-lite-t2", "pose-gait lite, 2 threads"},
      {"pose-full-t2", "pose-gait full, 2 threads"},
      {"pose-full-t1", "pose-gait full, 1 thread"},
      {"pose-full-t2-artifacts",
       "pose-gait full, 2 threads, with report, verification video, CSV and FHIR"}};
  for (const std::string& mode : modes) {
    const Measured& m = results.at(mode);
    const double s = m.out.at("seconds").get<double>();
    std::string result;
    if (mode == "silhouette") {
      const json& cadence = m.out.at("cadence_steps_per_min");
      char text[32] = "null";
      if (cadence.is_number()) std::snprintf(text, sizeof text, "%.1f", cadence.get<double>());
      result = std::string("cadence ") + text;
    } else if (mode != "decode") {
      result = "person in " + m.out.at("frames_with_person").dump() + " frames, detector " +
               m.out.at("detector_runs").dump() + "x, cadence " +
               m.out.at("cadence_steps_per_min").dump();
      if (m.out.at("overlay_bytes").get<double>() > 0) {
        result += ", overlay.mp4 " + m.out.at("overlay_bytes").dump() + " bytes";
      }
    }
    std::printf("| %s | %.2f | %.1f | %.2f | %.1f | %.2f | %.0f | %.2f | %s |\n",
                names.at(mode).c_str(), s, static_cast<double>(frames) / s, video_s / s, m.cpu_s,
                m.cpu_s / m.wall_s, m.out.at("peak_rss_mb").get<double>(), m.others_cores,
                result.c_str());
  }
  const auto seconds = [&](const std::string& mode) {
    return results.at(mode).out.at("seconds").get<double>();
  };
  std::printf("\nThroughput ratios (above 1: the first is faster):\n\n");
  std::printf("- pose-gait full (2 threads) / decode-only: %.3f\n",
              seconds("decode") / seconds("pose-full-t2"));
  for (const char* mode : {"pose-lite-t2", "pose-full-t2", "pose-full-t1"}) {
    std::printf("- %s / silhouette-gait: %.3f\n", names.at(mode).c_str(),
                seconds("silhouette") / seconds(mode));
  }
  std::printf(
      "- the job's files (report, verification video, CSV, FHIR) add %.0f %% to the "
      "analysis's time, %.0f %% to its CPU time\n",
      100 * (seconds("pose-full-t2-artifacts") / seconds("pose-full-t2") - 1),
      100 * (results.at("pose-full-t2-artifacts").cpu_s / results.at("pose-full-t2").cpu_s - 1));
  const double x = video_s / seconds("pose-full-t2");
  std::printf(
      "\nTarget, whole pose-gait analysis (full model, 2 threads) of a 10 s 1080p30 walk at "
      ">= 1x real time: **%s** (%.2fx, while other processes used %.2f cores on average)\n",
      x >= 1 ? "met" : "not met", x, results.at("pose-full-t2").others_cores);
  return 0;
}

int usage() {
  std::cerr << "usage: pose_gait_speed [--source CLIP] [--video VIDEO]\n"
               "       pose_gait_speed --mode decode|silhouette|pose-<model>-t<N> VIDEO\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) try {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 3 && args[0] == "--mode") return run_mode(args[1], args[2]);
  fs::path video;
  fs::path source = default_source();
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--video" && i + 1 < args.size()) {
      video = args[++i];
    } else if (args[i] == "--source" && i + 1 < args.size()) {
      source = args[++i];
    } else {
      return usage();
    }
  }
  if (video.empty() && !fs::exists(source)) {
    std::cerr << source << " not found (the shared test videos; or pass --source / --video)\n";
    return 2;
  }
  return drive(video, source);
} catch (const std::exception& e) {
  std::cerr << "pose_gait_speed: " << e.what() << "\n";
  return 1;
}

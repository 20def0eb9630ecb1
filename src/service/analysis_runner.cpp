#include "service/analysis_runner.h"

#include <fcntl.h>
extern "C" {
#include <libavutil/log.h>
}
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <thread>
#include <utility>
#include <vector>

#include "analysis/child_protocol.h"
#include "analysis/external_analyzer.h"
#include "analysis/gait_analyzer.h"
#include "analysis/placeholder_analyzer.h"
#include "analysis/pose_gait_analyzer.h"
#include "analysis/pose_track.h"
#include "analysis/pose_tracker.h"
#include "analysis/sandbox.h"
#include "analysis/subprocess.h"
#include "media/av_log.h"
#include "media/metadata.h"
#include "media/metadata_bounds.h"

namespace dancer::service {
namespace {

using analysis::AnalysisError;
using analysis::AnalysisErrorCode;
namespace protocol = analysis::child_protocol;

// The descriptors the parent passes to the analysis child: its outputs from 3 on, then the
// metadata to read.
constexpr int kFirstOutputFd = 3;
constexpr const char* kPoseTrackName = "pose.jsonl";

// An open descriptor, closed when it goes.
class OwnedFd {
 public:
  explicit OwnedFd(int fd = -1) : fd_(fd) {}
  ~OwnedFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  OwnedFd(const OwnedFd&) = delete;
  OwnedFd& operator=(const OwnedFd&) = delete;
  OwnedFd(OwnedFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  OwnedFd& operator=(OwnedFd&& other) noexcept {
    if (this != &other) {
      if (fd_ >= 0) ::close(fd_);
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// A file the child writes through its descriptor; seekable ones (the MP4 muxer reads back
// what it wrote) are opened for reading too.
OwnedFd open_for_child_output(const std::filesystem::path& path, bool seekable) {
  OwnedFd fd(
      ::open(path.c_str(), (seekable ? O_RDWR : O_WRONLY) | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (fd.get() < 0) {
    throw AnalysisError(AnalysisErrorCode::kInternal,
                        "cannot create " + path.filename().string() + ": " + strerror(errno));
  }
  return fd;
}

// The metadata for the analysis child, in an unlinked temporary file it reads through an
// inherited descriptor: nothing for the (unprivileged) child to open by name.
OwnedFd metadata_descriptor(const nlohmann::json& metadata, const std::filesystem::path& dir) {
  const std::string text = metadata.is_null() ? std::string("null") : metadata.dump();
  OwnedFd fd(::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
  if (fd.get() < 0) {
    // File systems without O_TMPFILE: a named file, unlinked at once.
    std::string name = (dir / "metadata-XXXXXX").string();
    fd = OwnedFd(::mkostemp(name.data(), O_CLOEXEC));
    if (fd.get() >= 0) ::unlink(name.c_str());
  }
  if (fd.get() < 0) {
    throw AnalysisError(AnalysisErrorCode::kInternal, "cannot pass the metadata to the child");
  }
  std::size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd.get(), text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      throw AnalysisError(AnalysisErrorCode::kInternal, "cannot pass the metadata to the child");
    }
    done += static_cast<std::size_t>(n);
  }
  ::lseek(fd.get(), 0, SEEK_SET);
  return fd;
}

// The untrusted video, opened here and read by the child through /proc/self/fd/N: the
// kernel checks only the file's own permission there (granted to the sandbox user), not
// search permission on DOWNLOAD_DIR's parents, which may be private (0700).
OwnedFd open_input(const std::filesystem::path& video) {
  analysis::grant_read_to_sandbox_user(video);
  OwnedFd fd(::open(video.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (fd.get() < 0) {
    throw media::MediaError(
        errno == ENOENT ? media::MediaErrorCode::kNotFound : media::MediaErrorCode::kIo,
        "cannot open the downloaded file: " + std::string(strerror(errno)));
  }
  return fd;
}

// Our own executable, for execveat: the child needs no search permission on the build or
// install directory either.
OwnedFd open_program(const std::filesystem::path& executable) {
  // Our own executable through /proc/self/exe: the running binary even after a package
  // upgrade replaced the file on disk, so parent and child always speak the same protocol.
  const bool ourselves = executable == current_executable();
  OwnedFd fd(::open(ourselves ? "/proc/self/exe" : executable.c_str(), O_PATH | O_CLOEXEC));
  if (fd.get() < 0) {
    throw AnalysisError(AnalysisErrorCode::kInternal,
                        "cannot open " + executable.string() + ": " + strerror(errno));
  }
  return fd;
}

std::string child_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

// The pose models of `variant`, opened here for the child (which reads them through
// /proc/self/fd/N, so the sandbox user needs no permission on the model directory).
struct PoseModelFiles {
  OwnedFd landmark;
  OwnedFd detector;
};

PoseModelFiles open_pose_models(const std::filesystem::path& model_dir,
                                analysis::PoseModelVariant variant) {
  const std::filesystem::path dir =
      model_dir.empty() ? analysis::default_pose_model_dir() : model_dir;
  auto open_model = [](const std::filesystem::path& path) {
    OwnedFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) {
      throw AnalysisError(AnalysisErrorCode::kInternal,
                          "cannot open the pose model " + path.string() + ": " + strerror(errno));
    }
    return fd;
  };
  return {open_model(analysis::landmark_model_path(dir, variant)),
          open_model(analysis::detector_model_path(dir))};
}

// Threads of one analysis: ANALYSIS_THREADS, or the cores shared among the workers.
int analysis_threads(const ServiceConfig& config) {
  if (config.analysis.threads > 0) return config.analysis.threads;
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return std::max(1, cores / std::max(1, config.max_workers));
}

// Runs `executable child <mode> ...` (options.argv) in the sandbox, with the memory limit of
// `description`, and returns its decoded result (child_protocol::decode).
nlohmann::json run_in_sandbox(const std::filesystem::path& executable,
                              analysis::SubprocessOptions options,
                              const protocol::ChildDescription& description,
                              std::chrono::seconds timeout, std::uint64_t cpu_limit_seconds) {
  const OwnedFd program = open_program(executable);
  options.program_fd = program.get();
  options.timeout = timeout;
  options.memory_limit_bytes = description.memory_limit_mb << 20;
  options.cpu_limit_seconds = cpu_limit_seconds;
  analysis::apply_sandbox_defaults(options);
  return protocol::decode(analysis::run_subprocess(options), description);
}

class ChildRunner : public AnalysisRunner {
 public:
  ChildRunner(const ServiceConfig& config, std::filesystem::path executable)
      : analysis_(config.analysis),
        threads_(analysis_threads(config)),
        probe_(config.probe),
        metadata_max_bytes_(config.metadata_max_bytes),
        executable_(std::move(executable)) {}

  nlohmann::json probe(const std::filesystem::path& video,
                       const std::atomic<bool>* cancel) override {
    analysis::SubprocessOptions options;
    const OwnedFd input = open_input(video);
    options.inherit_fds.push_back({kFirstOutputFd, input.get()});
    options.argv = {executable_.string(),
                    "child",
                    "probe",
                    "--max-streams",
                    std::to_string(probe_.max_streams),
                    "--max-frame-pixels",
                    std::to_string(probe_.max_frame_pixels),
                    "--max-index-entries",
                    std::to_string(probe_.max_index_entries),
                    "--timeout",
                    std::to_string(probe_.timeout_seconds),
                    "--metadata-max-bytes",
                    std::to_string(metadata_max_bytes_),
                    "--",
                    child_path(kFirstOutputFd)};
    options.max_output_bytes = metadata_max_bytes_ * 2 + (64u << 10);
    options.cancel = cancel;
    nlohmann::json result;
    try {
      // The probe enforces PROBE_TIMEOUT itself (FFmpeg's interrupt callback) and says so;
      // the outer limit is the backstop for a child that stops responding.
      result = run_in_sandbox(executable_, std::move(options),
                              {"probe", "PROBE_TIMEOUT", probe_.timeout_seconds,
                               "PROBE_MEMORY_LIMIT_MB", probe_.memory_limit_mb},
                              std::chrono::seconds(probe_.timeout_seconds + 10),
                              static_cast<std::uint64_t>(probe_.timeout_seconds) * 2 + 10);
    } catch (const media::MediaError& e) {
      // This process opened the file and passed it: a child that cannot read it is a
      // fault of the set-up (permissions, /proc), not of the file.
      if (e.code() == media::MediaErrorCode::kNotFound) {
        throw AnalysisError(AnalysisErrorCode::kInternal,
                            std::string("the probe could not read the file: ") + e.what());
      }
      throw;
    }
    if (!result.is_object() || !result.contains("metadata") || !result["metadata"].is_object()) {
      throw AnalysisError(AnalysisErrorCode::kCrashed, "probe process: malformed result");
    }
    // ffprobe names the file it was given; that is the local copy, not the child's view.
    if (result["metadata"].contains("format") && result["metadata"]["format"].is_object()) {
      result["metadata"]["format"]["filename"] = video.string();
    }
    return result["metadata"];
  }

  analysis::AnalysisResult run(const analysis::AnalysisRequest& request,
                               const std::atomic<bool>* cancel) override {
    analysis::SubprocessOptions options;
    options.argv = {
        executable_.string(),    "child", "analyze", "--analyzer", analysis_.analyzer, "--threads",
        std::to_string(threads_)};
    // The outputs: report.html and the artifacts asked for, each a file this process opens
    // (the sandbox cannot) and the child writes through its descriptor.
    std::vector<std::pair<std::filesystem::path, OwnedFd>> outputs;
    if (!request.report_dir.empty()) {
      std::filesystem::create_directories(request.report_dir);
      std::vector<std::string> names = {analysis::kReportArtifact.name};
      for (const std::string& name : request.artifacts) {
        if (analysis::find_artifact(name) != nullptr &&
            std::find(names.begin(), names.end(), name) == names.end()) {
          names.push_back(name);
        }
      }
      for (const std::string& name : names) {
        const int number = kFirstOutputFd + static_cast<int>(options.inherit_fds.size());
        auto path = request.report_dir / name;
        OwnedFd fd = open_for_child_output(path, analysis::find_artifact(name)->seekable);
        options.inherit_fds.push_back({number, fd.get()});
        options.argv.insert(options.argv.end(), {"--output", name + "=" + std::to_string(number)});
        outputs.emplace_back(std::move(path), std::move(fd));
      }
    }
    const int metadata_fd_number = kFirstOutputFd + static_cast<int>(options.inherit_fds.size());
    OwnedFd metadata = metadata_descriptor(request.metadata, request.video.parent_path());
    options.inherit_fds.push_back({metadata_fd_number, metadata.get()});
    options.argv.insert(options.argv.end(), {"--metadata-fd", std::to_string(metadata_fd_number)});
    const int video_fd_number = metadata_fd_number + 1;
    const OwnedFd input = open_input(request.video);
    options.inherit_fds.push_back({video_fd_number, input.get()});
    if (request.subject_height_m) {
      options.argv.insert(options.argv.end(),
                          {"--subject-height-m", std::to_string(*request.subject_height_m)});
    }
    for (const auto& [flag, value] :
         {std::pair{"--job-id", &request.job.job_id},
          std::pair{"--object-name", &request.job.object_name},
          std::pair{"--video-url", &request.job.video_url},
          std::pair{"--video-content-type", &request.job.video_content_type}}) {
      if (!value->empty()) options.argv.insert(options.argv.end(), {flag, *value});
    }
    std::optional<PoseModelFiles> models;
    if (analysis_.analyzer == "pose") {
      const auto variant = analysis::pose_model_variant_from_string(analysis_.pose_model);
      if (!variant) {
        throw AnalysisError(AnalysisErrorCode::kInternal,
                            "unknown POSE_MODEL " + analysis_.pose_model);
      }
      models.emplace(open_pose_models(analysis_.pose_model_dir, *variant));
      const int landmark_fd = video_fd_number + 1;
      options.inherit_fds.push_back({landmark_fd, models->landmark.get()});
      options.inherit_fds.push_back({landmark_fd + 1, models->detector.get()});
      options.argv.insert(options.argv.end(), {"--model", analysis_.pose_model, "--landmark-model",
                                               child_path(landmark_fd), "--detector-model",
                                               child_path(landmark_fd + 1)});
    }
    options.argv.push_back("--");
    options.argv.push_back(child_path(video_fd_number));
    options.cancel = cancel;
    nlohmann::json result =
        run_in_sandbox(executable_, std::move(options),
                       {"analysis", "ANALYSIS_TIMEOUT", analysis_.timeout_seconds,
                        "ANALYSIS_MEMORY_LIMIT_MB", analysis_.memory_limit_mb},
                       std::chrono::seconds(analysis_.timeout_seconds),
                       static_cast<std::uint64_t>(analysis_.timeout_seconds) * 4);
    if (!result.is_object() || !result.contains("analysis")) {
      throw AnalysisError(AnalysisErrorCode::kCrashed, "analysis process: malformed result");
    }
    analysis::AnalysisResult out;
    out.analysis = std::move(result["analysis"]);
    if (result.contains("outputs") && result["outputs"].is_array()) {
      for (const auto& name : result["outputs"]) {
        if (name.is_string()) out.outputs_written.push_back(name.get<std::string>());
      }
    }
    // What the child wrote is kept; a file it did not write is removed.
    for (const auto& [path, fd] : outputs) {
      const std::string name = path.filename().string();
      if (std::find(out.outputs_written.begin(), out.outputs_written.end(), name) !=
          out.outputs_written.end()) {
        out.artifacts.push_back(path);
        if (name == analysis::kReportArtifact.name) out.report_path = path;
      } else {
        std::error_code ec;
        std::filesystem::remove(path, ec);
      }
    }
    return out;
  }

 private:
  AnalysisSettings analysis_;
  int threads_;
  ProbeSettings probe_;
  std::uint64_t metadata_max_bytes_;
  std::filesystem::path executable_;
};

// Runs an analyzer in this process after the sandboxed probe. For analyzers that decode
// nothing themselves: the placeholder (which keeps a job's cost to the pipeline, what
// ANALYZER=placeholder exists to measure) and ANALYSIS_COMMAND (which isolates its own work
// in a child process).
class InProcessRunner final : public ChildRunner {
 public:
  InProcessRunner(const ServiceConfig& config, std::filesystem::path executable,
                  std::unique_ptr<analysis::Analyzer> analyzer)
      : ChildRunner(config, std::move(executable)), analyzer_(std::move(analyzer)) {}

  analysis::AnalysisResult run(const analysis::AnalysisRequest& request,
                               const std::atomic<bool>* cancel) override {
    analysis::AnalysisRequest with_cancel = request;
    with_cancel.cancel = cancel;
    return analyzer_->analyze(with_cancel);
  }

 private:
  std::unique_ptr<analysis::Analyzer> analyzer_;
};

// --- the child's side -------------------------------------------------------------------

template <typename T>
T parse_number(const std::string& text, const char* what) {
  T value{};
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) {
    throw std::invalid_argument(std::string("bad ") + what + ": " + text);
  }
  return value;
}

struct ChildArgs {
  std::string mode;
  std::string file;
  std::map<std::string, std::string> options;
  std::map<std::string, int> outputs;
};

ChildArgs parse_child_args(const std::vector<std::string>& args) {
  ChildArgs parsed;
  if (args.empty()) throw std::invalid_argument("child: missing mode");
  parsed.mode = args[0];
  std::size_t i = 1;
  for (; i < args.size(); ++i) {
    if (args[i] == "--") {
      ++i;
      break;
    }
    if (args[i].rfind("--", 0) != 0 || i + 1 >= args.size()) {
      throw std::invalid_argument("child: bad argument " + args[i]);
    }
    if (args[i] == "--output") {
      const std::string& value = args[++i];
      auto eq = value.find('=');
      if (eq == std::string::npos) throw std::invalid_argument("child: bad --output");
      parsed.outputs[value.substr(0, eq)] = parse_number<int>(value.substr(eq + 1), "--output");
    } else {
      parsed.options[args[i].substr(2)] = args[i + 1];
      ++i;
    }
  }
  if (i + 1 != args.size()) throw std::invalid_argument("child: expected one file after --");
  parsed.file = args[i];
  return parsed;
}

std::string option(const ChildArgs& args, const std::string& name) {
  auto it = args.options.find(name);
  return it == args.options.end() ? std::string() : it->second;
}

nlohmann::json read_metadata_fd(int fd) {
  std::string text;
  char buffer[65536];
  while (true) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
  }
  nlohmann::json metadata = nlohmann::json::parse(text, nullptr, false);
  return metadata.is_discarded() ? nlohmann::json() : metadata;
}

// The child sees its inputs as /proc/self/fd/N; a reason or a result naming them means
// nothing to a reader, so they become "the file".
std::string without_descriptor_paths(std::string text) {
  static const std::string kPrefix = "/proc/self/fd/";
  for (auto at = text.find(kPrefix); at != std::string::npos; at = text.find(kPrefix, at)) {
    auto end = at + kPrefix.size();
    while (end < text.size() && std::isdigit(static_cast<unsigned char>(text[end]))) ++end;
    text.replace(at, end - at, "the file");
  }
  return text;
}

std::string child_probe(const ChildArgs& args) {
  media::ProbeOptions options;
  options.max_streams = parse_number<unsigned>(option(args, "max-streams"), "--max-streams");
  options.max_frame_pixels =
      parse_number<std::uint64_t>(option(args, "max-frame-pixels"), "--max-frame-pixels");
  options.max_index_entries =
      parse_number<std::uint64_t>(option(args, "max-index-entries"), "--max-index-entries");
  options.deadline = std::chrono::seconds(parse_number<int>(option(args, "timeout"), "--timeout"));
  media::MetadataBounds bounds;
  bounds.max_bytes =
      parse_number<std::size_t>(option(args, "metadata-max-bytes"), "--metadata-max-bytes");
  try {
    // Bounded here, so a file carrying megabytes of tags costs the parent nothing.
    nlohmann::json metadata = media::bound_metadata(media::probe_file(args.file, options), bounds);
    return protocol::encode_result({{"metadata", std::move(metadata)}});
  } catch (const media::MediaError& e) {
    // The facts any file has (size, SHA-256, libmagic's type), also parsed here, in the
    // sandbox: libmagic reads the untrusted bytes too.
    nlohmann::json fallback;
    try {
      fallback = media::basic_file_facts(args.file);
    } catch (const std::exception&) {
    }
    return protocol::encode_current_exception(fallback);
  }
}

std::string child_pose(const ChildArgs& args) {
  analysis::PoseVideoOptions options;
  const auto variant = analysis::pose_model_variant_from_string(option(args, "model"));
  if (!variant) throw AnalysisError(AnalysisErrorCode::kInvalidInput, "unknown pose model");
  options.variant = *variant;
  options.threads = parse_number<int>(option(args, "threads"), "--threads");
  options.landmark_model = option(args, "landmark-model");
  options.detector_model = option(args, "detector-model");
  analysis::DescriptorOutputs outputs(args.outputs);
  if (!outputs.accepts(kPoseTrackName)) {
    throw AnalysisError(AnalysisErrorCode::kInternal, "no output for the pose track");
  }
  const analysis::PoseVideoSummary summary =
      analysis::track_video_poses(args.file, options, [&outputs](const analysis::PoseFrame& frame) {
        outputs.write(kPoseTrackName, analysis::to_json_line(frame) + "\n");
      });
  return protocol::encode_result({{"frames", summary.frames},
                                  {"frames_with_person", summary.frames_with_person},
                                  {"detector_runs", summary.detector_runs},
                                  {"walker_switches", summary.walker_switches}});
}

std::string child_analyze(const ChildArgs& args) {
  analysis::AnalysisRequest request;
  request.video = args.file;
  if (const std::string fd = option(args, "metadata-fd"); !fd.empty()) {
    request.metadata = read_metadata_fd(parse_number<int>(fd, "--metadata-fd"));
  }
  if (const std::string height = option(args, "subject-height-m"); !height.empty()) {
    request.subject_height_m = std::stod(height);
  }
  request.job = {option(args, "job-id"), option(args, "object-name"), option(args, "video-url"),
                 option(args, "video-content-type")};
  for (const auto& [name, fd] : args.outputs) {
    if (name != analysis::kReportArtifact.name) request.artifacts.push_back(name);
  }
  analysis::DescriptorOutputs outputs(args.outputs);
  request.outputs = &outputs;
  analysis::PoseVideoOptions pose;
  if (const std::string threads = option(args, "threads"); !threads.empty()) {
    pose.threads = parse_number<int>(threads, "--threads");
  }
  if (const std::string model = option(args, "model"); !model.empty()) {
    const auto variant = analysis::pose_model_variant_from_string(model);
    if (!variant) throw AnalysisError(AnalysisErrorCode::kInternal, "unknown pose model");
    pose.variant = *variant;
    pose.landmark_model = option(args, "landmark-model");
    pose.detector_model = option(args, "detector-model");
  }
  analysis::AnalysisResult result =
      make_builtin_analyzer(option(args, "analyzer"), pose)->analyze(request);
  return protocol::encode_result(
      {{"analysis", std::move(result.analysis)}, {"outputs", result.outputs_written}});
}

}  // namespace

std::filesystem::path current_executable() {
  std::error_code ec;
  auto path = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::path("dancer-analysis") : path;
}

std::unique_ptr<AnalysisRunner> make_analysis_runner(const ServiceConfig& config,
                                                     std::filesystem::path executable) {
  const AnalysisSettings& settings = config.analysis;
  if (!settings.command.empty()) {
    return std::make_unique<InProcessRunner>(
        config, std::move(executable),
        analysis::make_external_analyzer({settings.command,
                                          std::chrono::seconds(settings.timeout_seconds),
                                          settings.memory_limit_mb << 20}));
  }
  if (settings.analyzer == "placeholder") {
    return std::make_unique<InProcessRunner>(config, std::move(executable),
                                             analysis::make_placeholder_analyzer());
  }
  return std::make_unique<ChildRunner>(config, std::move(executable));
}

nlohmann::json run_pose_in_child(const std::filesystem::path& video,
                                 const PoseCommandOptions& options, const AnalysisSettings& limits,
                                 std::ostream& out) {
  const auto variant = analysis::pose_model_variant_from_string(options.model);
  if (!variant) {
    throw AnalysisError(AnalysisErrorCode::kInvalidInput,
                        "unknown pose model " + options.model + " (lite, full, heavy)");
  }
  const PoseModelFiles models = open_pose_models(options.model_dir, *variant);
  const OwnedFd input = open_input(video);
  OwnedFd track(
      ::open(std::filesystem::temp_directory_path().c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
  if (track.get() < 0) {
    throw AnalysisError(AnalysisErrorCode::kInternal, "cannot create the pose track file");
  }
  analysis::SubprocessOptions child;
  child.inherit_fds = {
      {3, track.get()}, {4, models.landmark.get()}, {5, models.detector.get()}, {6, input.get()}};
  child.argv = {current_executable().string(),
                "child",
                "pose",
                "--model",
                options.model,
                "--threads",
                std::to_string(options.threads),
                "--landmark-model",
                child_path(4),
                "--detector-model",
                child_path(5),
                "--output",
                std::string(kPoseTrackName) + "=3",
                "--",
                child_path(6)};
  nlohmann::json summary = run_in_sandbox(current_executable(), std::move(child),
                                          {"pose", "ANALYSIS_TIMEOUT", limits.timeout_seconds,
                                           "ANALYSIS_MEMORY_LIMIT_MB", limits.memory_limit_mb},
                                          std::chrono::seconds(limits.timeout_seconds),
                                          static_cast<std::uint64_t>(limits.timeout_seconds) * 4);
  // The track, copied in constant memory.
  ::lseek(track.get(), 0, SEEK_SET);
  char buffer[65536];
  while (true) {
    const ssize_t n = ::read(track.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.write(buffer, n);
  }
  out.flush();
  return summary;
}

std::unique_ptr<analysis::Analyzer> make_builtin_analyzer(const std::string& analyzer,
                                                          const analysis::PoseVideoOptions& pose) {
  if (analyzer == "gait") {
    return analysis::make_gait_analyzer();
  }
  if (analyzer == "pose") {
    analysis::PoseGaitConfig config;
    config.pose = pose;
    return analysis::make_pose_gait_analyzer(config);
  }
  throw AnalysisError(AnalysisErrorCode::kInternal, "unknown analyzer " + analyzer);
}

int run_child(const std::vector<std::string>& args) {
  // The protocol line goes to a private copy of stdout; whatever a library prints on
  // stdout lands on stderr instead and cannot corrupt the answer.
  const int protocol_fd = ::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
  if (protocol_fd < 0 || ::dup2(STDERR_FILENO, STDOUT_FILENO) < 0) return 1;
  std::string line;
  try {
    // First, before any untrusted byte is read or any thread exists.
    analysis::enter_sandbox();
    // FFmpeg's errors go to stderr, which the parent keeps (bounded) for the reason of a
    // crash; its warnings about a hostile file are noise.
    media::install_av_log_sink([](int level, std::string_view text) {
      if (level <= AV_LOG_ERROR) {
        std::fwrite(text.data(), 1, text.size(), stderr);
        if (text.empty() || text.back() != '\n') std::fputc('\n', stderr);
      }
    });
    const ChildArgs parsed = parse_child_args(args);
    if (parsed.mode == "probe") {
      line = child_probe(parsed);
    } else if (parsed.mode == "analyze") {
      line = child_analyze(parsed);
    } else if (parsed.mode == "pose") {
      line = child_pose(parsed);
    } else {
      throw std::invalid_argument("child: unknown mode " + parsed.mode);
    }
  } catch (...) {
    line = protocol::encode_current_exception();
  }
  line = without_descriptor_paths(std::move(line)) + "\n";
  for (std::size_t done = 0; done < line.size();) {
    const ssize_t n = ::write(protocol_fd, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return 1;
    done += static_cast<std::size_t>(n);
  }
  return 0;
}

}  // namespace dancer::service

#include "service/analysis_runner.h"

#include <fcntl.h>
extern "C" {
#include <libavutil/log.h>
}
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>
#include "analysis/child_protocol.h"
#include "analysis/external_analyzer.h"
#include "analysis/gait_analyzer.h"
#include "analysis/placeholder_analyzer.h"
#include "analysis/pose_gait_analyzer.h"
#include "common/fd.h"
#include "media/av_log.h"
#include "media/metadata.h"
#include "media/metadata_bounds.h"
#include "media/proxy.h"
#include "pose/pose_track.h"
#include "pose/pose_tracker.h"
#include "sandbox/fork_server.h"
#include "sandbox/sandbox.h"
#include "sandbox/subprocess.h"
#include "service/fork_server_slot.h"

namespace dancer::service {
namespace {

using analysis::AnalysisError;
using analysis::AnalysisErrorCode;
namespace protocol = analysis::child_protocol;

// The descriptors the parent passes to the analysis child: its outputs from 3 on, then the
// metadata to read.
constexpr int kFirstOutputFd = 3;
constexpr const char* kPoseTrackName = "pose.jsonl";
// RLIMIT_FSIZE of a child that writes no file (the probe): one byte beyond is refused.
constexpr std::uint64_t kNoFileWrites = 1;

using OwnedFd = common::UniqueFd;

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
  if (common::write_all(fd.get(), text) != 0) {
    throw AnalysisError(AnalysisErrorCode::kInternal, "cannot pass the metadata to the child");
  }
  ::lseek(fd.get(), 0, SEEK_SET);
  return fd;
}

// The untrusted video, opened here and read by the child through the inherited descriptor
// alone: the child opens nothing by name, so neither the file nor DOWNLOAD_DIR need any
// permission for the sandbox user, and the caller's file is left as it is.
OwnedFd open_input(const std::filesystem::path& video) {
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

// The pose models of `variant`, opened here for the child (which reads them through the
// inherited descriptors, so the sandbox user needs no permission on the model directory).
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

// The probed duration and frame count against ANALYSIS_MAX_DURATION and ANALYSIS_MAX_FRAMES,
// before any frame is decoded (the child's decoder enforces them again).
void check_content_limits(const nlohmann::json& metadata, const AnalysisSettings& settings) {
  if (!metadata.is_object()) return;
  double duration = media::ffprobe_number(metadata.value("format", nlohmann::json()), "duration");
  double frames = 0;
  if (metadata.contains("streams") && metadata["streams"].is_array()) {
    for (const auto& stream : metadata["streams"]) {
      if (!stream.is_object() || stream.value("codec_type", "") != "video") continue;
      duration = std::max(duration, media::ffprobe_number(stream, "duration"));
      frames = std::max(frames, media::ffprobe_number(stream, "nb_frames"));
    }
  }
  if (duration > settings.max_duration_seconds) {
    throw media::MediaError(media::MediaErrorCode::kLimitExceeded,
                            "the video lasts " + std::to_string(std::lround(duration)) +
                                " s, longer than ANALYSIS_MAX_DURATION (" +
                                std::to_string(settings.max_duration_seconds) + " s)");
  }
  if (frames > static_cast<double>(settings.max_frames)) {
    throw media::MediaError(media::MediaErrorCode::kLimitExceeded,
                            "the video has " + std::to_string(std::llround(frames)) +
                                " frames, more than ANALYSIS_MAX_FRAMES (" +
                                std::to_string(settings.max_frames) + ")");
  }
}

// Every file the child wrote, against ARTIFACT_MAX_BYTES (the child's RLIMIT_FSIZE already
// stops it; this holds whatever the child did).
void check_output_size(const std::filesystem::path& path, int fd, std::uint64_t max_bytes) {
  struct stat st {};
  if (::fstat(fd, &st) == 0 && static_cast<std::uint64_t>(st.st_size) > max_bytes) {
    throw AnalysisError(AnalysisErrorCode::kResourceLimit,
                        path.filename().string() + " is " + std::to_string(st.st_size) +
                            " bytes, over ARTIFACT_MAX_BYTES (" + std::to_string(max_bytes) + ")");
  }
}

}  // namespace

std::unique_ptr<analysis::ForkServer> start_fork_server(const std::filesystem::path& executable,
                                                        protocol::ChildRequest preload,
                                                        const std::filesystem::path& model_dir) {
  constexpr int kControlFd = 3;
  analysis::SubprocessOptions options;
  preload.mode = "fork-server";
  preload.control_fd = kControlFd;
  std::optional<PoseModelFiles> models;
  if (!preload.model.empty()) {
    const auto variant = analysis::pose_model_variant_from_string(preload.model);
    if (!variant) throw AnalysisError(AnalysisErrorCode::kInternal, "unknown POSE_MODEL");
    models.emplace(open_pose_models(model_dir, *variant));
    preload.landmark_model_fd = kControlFd + 1;
    preload.detector_model_fd = kControlFd + 2;
    options.inherit_fds = {{preload.landmark_model_fd, models->landmark.get()},
                           {preload.detector_model_fd, models->detector.get()}};
  }
  const OwnedFd program = open_program(executable);
  options.argv = {executable.string(), "child"};
  for (std::string& word : preload.to_argv()) options.argv.push_back(std::move(word));
  options.program_fd = program.get();
  analysis::apply_sandbox_defaults(options);
  // No limits of its own: a child cannot raise a hard limit its parent has, and each job's
  // child sets the job's. The models and the program are read before it says "ready".
  return analysis::ForkServer::start(std::move(options), kControlFd, kForkServerReadyTimeout);
}

namespace {

class ChildRunner : public AnalysisRunner {
 public:
  ChildRunner(const ServiceConfig& config, std::filesystem::path executable)
      : analysis_(config.analysis),
        threads_(analysis_threads(config)),
        probe_(config.probe),
        metadata_max_bytes_(config.metadata_max_bytes),
        executable_(std::move(executable)) {
    if (config.analysis.fork_server) {
      protocol::ChildRequest preload;
      preload.analyzer = analysis_.analyzer;
      preload.threads = threads_;
      if (analysis_.analyzer == "pose" && analysis_.command.empty()) {
        preload.model = analysis_.pose_model;
      }
      fork_server_ =
          std::make_unique<ForkServerSlot>([executable = executable_, preload = std::move(preload),
                                            model_dir = analysis_.pose_model_dir] {
            return start_fork_server(executable, preload, model_dir);
          });
      fork_server_->get();  // at start-up, before any upload
    }
  }

  nlohmann::json probe(const std::filesystem::path& video,
                       const std::atomic<bool>* cancel) override {
    analysis::SubprocessOptions options;
    const OwnedFd input = open_input(video);
    options.inherit_fds.push_back({kFirstOutputFd, input.get()});
    protocol::ChildRequest request;
    request.mode = "probe";
    request.input_fd = kFirstOutputFd;
    request.max_streams = static_cast<unsigned>(probe_.max_streams);
    request.max_frame_pixels = probe_.max_frame_pixels;
    request.max_index_entries = probe_.max_index_entries;
    request.timeout_seconds = probe_.timeout_seconds;
    request.metadata_max_bytes = metadata_max_bytes_;
    options.max_output_bytes = metadata_max_bytes_ * 2 + (64u << 10);
    options.cancel = cancel;
    nlohmann::json result;
    try {
      // The probe enforces PROBE_TIMEOUT itself (FFmpeg's interrupt callback) and says so;
      // the outer limit is the backstop for a child that stops responding. It writes no file.
      const auto server = fork_server();
      result = run_sandboxed_child(executable_, request, std::move(options),
                                   {"probe", "PROBE_TIMEOUT", probe_.timeout_seconds,
                                    "PROBE_MEMORY_LIMIT_MB", probe_.memory_limit_mb},
                                   std::chrono::seconds(probe_.timeout_seconds + 10),
                                   static_cast<std::uint64_t>(probe_.timeout_seconds) * 2 + 10,
                                   kNoFileWrites, server.get());
    } catch (const media::MediaError& e) {
      // This process opened the file and passed it: a child that cannot read it is a
      // fault of the set-up, not of the file.
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

  // One child of its own for every analyzer (ANALYSIS_COMMAND and the placeholder included,
  // which run in process and may parse no media), under the analysis' limits: it decodes
  // the whole video again, which the analysis child of pose-gait could have shared, but a
  // single path for every upload is simpler to reason about, and a proxy that fails (or is
  // killed by a limit) leaves the analysis untouched.
  ProxyFiles make_proxy(const std::filesystem::path& video, const std::filesystem::path& dir,
                        int max_height, const std::atomic<bool>* cancel) override {
    analysis::SubprocessOptions options;
    protocol::ChildRequest child;
    child.mode = "proxy";
    child.threads = threads_;
    child.max_height = max_height;
    child.max_frame_pixels = probe_.max_frame_pixels;
    child.limits = content_limits();
    std::filesystem::create_directories(dir);
    std::vector<std::pair<std::filesystem::path, OwnedFd>> outputs;
    for (const analysis::ArtifactSpec& spec :
         {analysis::kProxyArtifact, analysis::kPosterArtifact}) {
      const int number = kFirstOutputFd + static_cast<int>(options.inherit_fds.size());
      auto path = dir / spec.name;
      OwnedFd fd = open_for_child_output(path, spec.seekable);
      options.inherit_fds.push_back({number, fd.get()});
      child.outputs[spec.name] = number;
      outputs.emplace_back(std::move(path), std::move(fd));
    }
    child.input_fd = kFirstOutputFd + static_cast<int>(options.inherit_fds.size());
    const OwnedFd input = open_input(video);
    options.inherit_fds.push_back({child.input_fd, input.get()});
    options.cancel = cancel;
    const auto server = fork_server();
    const auto remove_all = [&outputs] {
      for (const auto& [path, fd] : outputs) {
        std::error_code ec;
        std::filesystem::remove(path, ec);
      }
    };
    nlohmann::json result;
    try {
      result = run_sandboxed_child(executable_, child, std::move(options),
                                   {"proxy", "ANALYSIS_TIMEOUT", analysis_.timeout_seconds,
                                    "ANALYSIS_MEMORY_LIMIT_MB", analysis_.memory_limit_mb},
                                   std::chrono::seconds(analysis_.timeout_seconds),
                                   static_cast<std::uint64_t>(analysis_.timeout_seconds) * 4,
                                   analysis_.artifact_max_bytes, server.get());
      for (const auto& [path, fd] : outputs) {
        check_output_size(path, fd.get(), analysis_.artifact_max_bytes);
      }
    } catch (...) {
      remove_all();  // half a proxy is no proxy
      throw;
    }
    ProxyFiles out;
    out.summary = result.is_object() ? result.value("proxy", nlohmann::json()) : nullptr;
    const nlohmann::json written =
        result.is_object() ? result.value("outputs", nlohmann::json::array()) : nullptr;
    for (const auto& [path, fd] : outputs) {
      const std::string name = path.filename().string();
      if (written.is_array() && std::find(written.begin(), written.end(), name) != written.end()) {
        out.files.push_back(path);
      }
    }
    if (out.files.size() != outputs.size()) {
      remove_all();
      throw AnalysisError(AnalysisErrorCode::kCrashed, "proxy process: malformed result");
    }
    return out;
  }

  analysis::AnalysisResult run(const analysis::AnalysisRequest& request,
                               const std::atomic<bool>* cancel) override {
    check_content_limits(request.metadata, analysis_);
    analysis::SubprocessOptions options;
    protocol::ChildRequest child;
    child.mode = "analyze";
    child.analyzer = analysis_.analyzer;
    child.threads = threads_;
    const auto next_fd = [&options] {
      return kFirstOutputFd + static_cast<int>(options.inherit_fds.size());
    };
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
        const int number = next_fd();
        auto path = request.report_dir / name;
        OwnedFd fd = open_for_child_output(path, analysis::find_artifact(name)->seekable);
        options.inherit_fds.push_back({number, fd.get()});
        child.outputs[name] = number;
        outputs.emplace_back(std::move(path), std::move(fd));
      }
    }
    child.metadata_fd = next_fd();
    OwnedFd metadata = metadata_descriptor(request.metadata, request.video.path().parent_path());
    options.inherit_fds.push_back({child.metadata_fd, metadata.get()});
    child.input_fd = next_fd();
    const OwnedFd input = open_input(request.video.path());
    options.inherit_fds.push_back({child.input_fd, input.get()});
    child.subject_height_m = request.subject_height_m;
    child.warnings = request.warnings;
    child.job = request.job;
    child.max_frame_pixels = probe_.max_frame_pixels;
    child.limits = content_limits();
    std::optional<PoseModelFiles> models;
    if (analysis_.analyzer == "pose") {
      const auto variant = analysis::pose_model_variant_from_string(analysis_.pose_model);
      if (!variant) {
        throw AnalysisError(AnalysisErrorCode::kInternal,
                            "unknown POSE_MODEL " + analysis_.pose_model);
      }
      models.emplace(open_pose_models(analysis_.pose_model_dir, *variant));
      child.model = analysis_.pose_model;
      child.landmark_model_fd = next_fd();
      options.inherit_fds.push_back({child.landmark_model_fd, models->landmark.get()});
      child.detector_model_fd = next_fd();
      options.inherit_fds.push_back({child.detector_model_fd, models->detector.get()});
    }
    options.cancel = cancel;
    const auto server = fork_server();
    nlohmann::json result =
        run_sandboxed_child(executable_, child, std::move(options),
                            {"analysis", "ANALYSIS_TIMEOUT", analysis_.timeout_seconds,
                             "ANALYSIS_MEMORY_LIMIT_MB", analysis_.memory_limit_mb},
                            std::chrono::seconds(analysis_.timeout_seconds),
                            static_cast<std::uint64_t>(analysis_.timeout_seconds) * 4,
                            analysis_.artifact_max_bytes, server.get());
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
    for (const auto& [path, fd] : outputs) {
      check_output_size(path, fd.get(), analysis_.artifact_max_bytes);
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
  std::shared_ptr<analysis::ForkServer> fork_server() {
    return fork_server_ ? fork_server_->get() : nullptr;
  }

  media::DecodeLimits content_limits() const {
    media::DecodeLimits limits;
    limits.max_frame_pixels = probe_.max_frame_pixels;
    limits.max_duration_s = analysis_.max_duration_seconds;
    limits.max_frames = analysis_.max_frames;
    limits.max_fps = defaults::kAnalysisMaxFps;
    return limits;
  }

  AnalysisSettings analysis_;
  int threads_;
  ProbeSettings probe_;
  std::uint64_t metadata_max_bytes_;
  std::filesystem::path executable_;
  std::unique_ptr<ForkServerSlot> fork_server_;
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

// What the child calls the files it reads through descriptors, in messages and results.
constexpr const char* kVideoName = "the video";

nlohmann::json read_metadata_fd(int fd) {
  std::string text;
  if (fd < 0 || common::read_all(fd, text, 64u << 20) != 0) return nullptr;
  nlohmann::json metadata = nlohmann::json::parse(text, nullptr, false);
  return metadata.is_discarded() ? nlohmann::json() : metadata;
}

common::FileSource model_source(int fd, const char* name) {
  if (fd < 0) throw AnalysisError(AnalysisErrorCode::kInternal, std::string("no ") + name);
  return common::FileSource::descriptor(fd, name);
}

common::FileSource video_source(const protocol::ChildRequest& request) {
  if (request.input_fd < 0) throw std::invalid_argument("child: no --input-fd");
  return common::FileSource::descriptor(request.input_fd, kVideoName);
}

std::string child_probe(const protocol::ChildRequest& request) {
  media::ProbeOptions options;
  options.max_streams = request.max_streams;
  options.max_frame_pixels = request.max_frame_pixels;
  options.max_index_entries = request.max_index_entries;
  options.deadline = std::chrono::seconds(request.timeout_seconds);
  media::MetadataBounds bounds;
  bounds.max_bytes = request.metadata_max_bytes;
  const common::FileSource video = video_source(request);
  try {
    // Bounded here, so a file carrying megabytes of tags costs the parent nothing.
    nlohmann::json metadata = media::bound_metadata(media::probe_file(video, options), bounds);
    return protocol::encode_result({{"metadata", std::move(metadata)}});
  } catch (const media::MediaError& e) {
    // The facts any file has (size, SHA-256, libmagic's type), also parsed here, in the
    // sandbox: libmagic reads the untrusted bytes too.
    nlohmann::json fallback;
    try {
      fallback = media::basic_file_facts(video);
    } catch (const std::exception&) {
    }
    return protocol::encode_current_exception(fallback);
  }
}

// The networks a fork server loaded before its first job, which each of its children uses.
std::shared_ptr<const analysis::PoseModels>& preloaded_models() {
  static std::shared_ptr<const analysis::PoseModels> models;
  return models;
}

analysis::PoseVideoOptions child_pose_options(const protocol::ChildRequest& request) {
  analysis::PoseVideoOptions pose;
  if (request.threads > 0) pose.threads = request.threads;
  if (!request.model.empty()) {
    const auto variant = analysis::pose_model_variant_from_string(request.model);
    if (!variant) throw AnalysisError(AnalysisErrorCode::kInternal, "unknown pose model");
    pose.variant = *variant;
    if (const auto& preloaded = preloaded_models(); preloaded && preloaded->variant == *variant) {
      pose.preloaded = preloaded;
    } else {
      pose.landmark_model = model_source(request.landmark_model_fd, "the landmark model");
      pose.detector_model = model_source(request.detector_model_fd, "the detector model");
    }
  }
  pose.limits = request.limits;
  return pose;
}

std::string child_pose(const protocol::ChildRequest& request) {
  const analysis::PoseVideoOptions options = child_pose_options(request);
  analysis::DescriptorOutputs outputs(request.outputs);
  if (!outputs.accepts(kPoseTrackName)) {
    throw AnalysisError(AnalysisErrorCode::kInternal, "no output for the pose track");
  }
  const analysis::PoseVideoSummary summary = analysis::track_video_poses(
      video_source(request), options, [&outputs](const analysis::PoseFrame& frame) {
        outputs.write(kPoseTrackName, analysis::to_json_line(frame) + "\n");
      });
  return protocol::encode_result({{"frames", summary.frames},
                                  {"frames_with_person", summary.frames_with_person},
                                  {"detector_runs", summary.detector_runs},
                                  {"walker_switches", summary.walker_switches}});
}

std::string child_proxy(const protocol::ChildRequest& request) {
  analysis::DescriptorOutputs outputs(request.outputs);
  const std::optional<int> mp4 = outputs.descriptor(analysis::kProxyArtifact.name);
  if (!mp4 || !outputs.accepts(analysis::kPosterArtifact.name)) {
    throw AnalysisError(AnalysisErrorCode::kInternal, "no outputs for the proxy");
  }
  media::ProxyOptions options;
  if (request.max_height > 0) options.max_height = request.max_height;
  options.threads = request.threads;
  options.limits = request.limits;
  const media::ProxyResult proxy = media::make_proxy(video_source(request), *mp4, options);
  outputs.write(analysis::kPosterArtifact.name, proxy.poster_jpeg);
  nlohmann::json audio = nullptr;
  if (proxy.audio) {
    audio = {{"codec", "aac"},
             {"sample_rate", proxy.audio_sample_rate},
             {"channels", proxy.audio_channels},
             {"samples", proxy.audio_samples}};
  }
  nlohmann::json summary = {{"width", proxy.width},
                            {"height", proxy.height},
                            {"fps", proxy.fps},
                            {"frames", proxy.frames},
                            {"duration_s", proxy.duration_s},
                            {"rotation_degrees", proxy.rotation_degrees},
                            {"bytes", proxy.bytes},
                            {"audio", std::move(audio)},
                            {"poster_time_s", proxy.poster_time_s},
                            {"poster_bytes", proxy.poster_jpeg.size()}};
  if (!proxy.audio_note.empty()) summary["audio_note"] = proxy.audio_note;
  return protocol::encode_result(
      {{"proxy", std::move(summary)},
       {"outputs", {analysis::kProxyArtifact.name, analysis::kPosterArtifact.name}}});
}

std::string child_analyze(const protocol::ChildRequest& child) {
  analysis::AnalysisRequest request;
  request.video = video_source(child);
  request.limits = child.limits;
  request.metadata = read_metadata_fd(child.metadata_fd);
  request.subject_height_m = child.subject_height_m;
  request.warnings = child.warnings;
  request.job = child.job;
  for (const auto& [name, fd] : child.outputs) {
    if (name != analysis::kReportArtifact.name) request.artifacts.push_back(name);
  }
  analysis::DescriptorOutputs outputs(child.outputs);
  request.outputs = &outputs;
  analysis::AnalysisResult result =
      make_builtin_analyzer(child.analyzer, child_pose_options(child))->analyze(request);
  return protocol::encode_result(
      {{"analysis", std::move(result.analysis)}, {"outputs", result.outputs_written}});
}

}  // namespace

nlohmann::json run_sandboxed_child(const std::filesystem::path& executable,
                                   const protocol::ChildRequest& request,
                                   analysis::SubprocessOptions options,
                                   const protocol::ChildDescription& description,
                                   std::chrono::seconds timeout, std::uint64_t cpu_limit_seconds,
                                   std::uint64_t file_size_limit, analysis::ForkServer* server) {
  options.timeout = timeout;
  if (description.memory_limit_mb > 0)
    options.memory_limit_bytes = description.memory_limit_mb << 20;
  options.cpu_limit_seconds = cpu_limit_seconds;
  options.file_size_limit_bytes = file_size_limit;
  if (server != nullptr) {
    analysis::SubprocessOptions job = options;
    job.argv = request.to_argv();
    try {
      return protocol::decode(server->run(job), description);
    } catch (const analysis::ForkServerGone&) {
      // Gone before the job started: executed below instead; the next job restarts it.
    }
  }
  const OwnedFd program = open_program(executable);
  options.argv = {executable.string(), "child"};
  for (std::string& word : request.to_argv()) options.argv.push_back(std::move(word));
  options.program_fd = program.get();
  analysis::apply_sandbox_defaults(options);
  return protocol::decode(analysis::run_subprocess(options), description);
}

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
  protocol::ChildRequest request;
  request.mode = "pose";
  request.model = options.model;
  request.threads = options.threads;
  request.outputs[kPoseTrackName] = 3;
  request.landmark_model_fd = 4;
  request.detector_model_fd = 5;
  request.input_fd = 6;
  request.max_frame_pixels = defaults::kProbeMaxFramePixels;
  request.limits = {defaults::kProbeMaxFramePixels,
                    static_cast<double>(limits.max_duration_seconds), limits.max_frames,
                    defaults::kAnalysisMaxFps};
  nlohmann::json summary = run_sandboxed_child(
      current_executable(), request, std::move(child),
      {"pose", "ANALYSIS_TIMEOUT", limits.timeout_seconds, "ANALYSIS_MEMORY_LIMIT_MB",
       limits.memory_limit_mb},
      std::chrono::seconds(limits.timeout_seconds),
      static_cast<std::uint64_t>(limits.timeout_seconds) * 4, limits.artifact_max_bytes);
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

namespace {

// The protocol line goes to a private copy of stdout; whatever a library prints on stdout
// lands on stderr instead and cannot corrupt the answer. Returns the copy, or -1.
int take_protocol_fd() {
  const int protocol_fd = ::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
  if (protocol_fd < 0 || ::dup2(STDERR_FILENO, STDOUT_FILENO) < 0) return -1;
  return protocol_fd;
}

// FFmpeg's errors go to stderr, which the parent keeps (bounded) for the reason of a crash;
// its warnings about a hostile file are noise.
void log_av_errors_to_stderr() {
  media::install_av_log_sink([](int level, std::string_view text) {
    if (level <= AV_LOG_ERROR) {
      std::fwrite(text.data(), 1, text.size(), stderr);
      if (text.empty() || text.back() != '\n') std::fputc('\n', stderr);
    }
  });
}

// One child's work, inside its sandbox: the protocol line.
std::string child_line(const std::vector<std::string>& args, const ChildModes& extra_modes) {
  const protocol::ChildRequest request = protocol::ChildRequest::from_argv(args);
  if (request.mode == "probe") return child_probe(request);
  if (request.mode == "analyze") return child_analyze(request);
  if (request.mode == "pose") return child_pose(request);
  if (request.mode == "proxy") return child_proxy(request);
  if (auto extra = extra_modes.find(request.mode); extra != extra_modes.end()) {
    return extra->second(request);
  }
  throw std::invalid_argument("child: unknown mode " + request.mode);
}

int finish_child(int protocol_fd, std::string line) {
  line += "\n";
  return common::write_all(protocol_fd, line) == 0 ? 0 : 1;
}

// A job's child, forked from the fork server (already sandboxed as kForkServer): the whole
// filter stacked on the server's before any untrusted byte, then the one job.
int run_forked_child(const std::vector<std::string>& args, const ChildModes& extra_modes) {
  const int protocol_fd = take_protocol_fd();
  if (protocol_fd < 0) return 1;
  std::string line;
  try {
    analysis::enter_sandbox();
    line = child_line(args, extra_modes);
  } catch (...) {
    line = protocol::encode_current_exception();
  }
  return finish_child(protocol_fd, std::move(line));
}

// `child fork-server`: loads what every child needs (libmagic's database, the pose models of
// the request) while it may still open files, confines itself, then forks one child per
// request (sandbox/fork_server.h). Its own failures go to stderr, which the service logs.
int run_fork_server(const std::vector<std::string>& args, const ChildModes& extra_modes) {
  try {
    const protocol::ChildRequest request = protocol::ChildRequest::from_argv(args);
    if (request.control_fd < 0) throw std::invalid_argument("fork-server: no --control-fd");
    media::preload_file_type_database();
    log_av_errors_to_stderr();
    if (!request.model.empty()) {
      const analysis::PoseVideoOptions pose = child_pose_options(request);
      analysis::PoseRuntimeOptions runtime;
      runtime.threads = pose.threads;
      runtime.fusion = pose.fusion;
      auto models = std::make_shared<analysis::PoseModels>();
      models->variant = pose.variant;
      models->detector = analysis::make_opencv_person_detector(pose.detector_model, runtime);
      models->landmark = analysis::make_opencv_landmark_model(pose.landmark_model, runtime);
      preloaded_models() = std::move(models);
      // Read; the children need the networks, not the files.
      ::close(request.landmark_model_fd);
      ::close(request.detector_model_fd);
    }
    analysis::enter_sandbox(analysis::SandboxRole::kForkServer);
    analysis::serve_fork_requests(request.control_fd,
                                  [&extra_modes](const std::vector<std::string>& job) {
                                    return run_forked_child(job, extra_modes);
                                  });
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fork server: %s\n", e.what());
    return 1;
  }
}

}  // namespace

int run_child(const std::vector<std::string>& args, const ChildModes& extra_modes) {
  if (!args.empty() && args[0] == "fork-server") return run_fork_server(args, extra_modes);
  const int protocol_fd = take_protocol_fd();
  if (protocol_fd < 0) return 1;
  std::string line;
  try {
    // Trusted system files the child needs later, read while it still may open files.
    media::preload_file_type_database();
    // Then, before any untrusted byte is read or any thread exists, the sandbox: from here
    // on the child opens no file by name.
    analysis::enter_sandbox();
    log_av_errors_to_stderr();
    line = child_line(args, extra_modes);
  } catch (...) {
    line = protocol::encode_current_exception();
  }
  return finish_child(protocol_fd, std::move(line));
}

}  // namespace dancer::service

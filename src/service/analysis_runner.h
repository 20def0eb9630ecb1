// Runs the work on one downloaded, untrusted video: probing its metadata, analysing it and
// making its web-playable copy and poster. Every parse of untrusted bytes happens in a child
// process of our own executable (`dancer-analysis child probe|analyze|proxy`) that is sandboxed
// (sandbox/sandbox.h) and resource-limited, so a hostile file can exhaust or crash only that child,
// never the service. The child's typed result comes back through analysis/child_protocol.h.
// ANALYSIS_COMMAND and the placeholder analyzer run the analysis step in process (they parse
// no media themselves), after the same sandboxed probe and before the same sandboxed proxy.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analysis/analyzer.h"
#include "analysis/child_protocol.h"
#include "pose/pose_tracker.h"
#include "sandbox/fork_server.h"
#include "sandbox/subprocess.h"
#include "service/config.h"

namespace dancer::service {

class AnalysisRunner {
 public:
  virtual ~AnalysisRunner() = default;
  // ffprobe-compatible metadata, bounded for storage. Throws media::MediaError for a file
  // that is not a readable video (child_protocol::ChildReportedMediaError when the child
  // could also report the fallback file facts) and analysis::AnalysisError for the child's
  // own failures (limits, crash, cancellation).
  virtual nlohmann::json probe(const std::filesystem::path& video,
                               const std::atomic<bool>* cancel) = 0;
  // Throws analysis::AnalysisError (and media::MediaError).
  virtual analysis::AnalysisResult run(const analysis::AnalysisRequest& request,
                                       const std::atomic<bool>* cancel) = 0;

  // The web-playable copy and poster of `video` (media/proxy.h), written into `dir` as
  // proxy.mp4 and poster.jpg, whatever the analyzer: parsed in a sandboxed child like the
  // analysis. Throws like run().
  struct ProxyFiles {
    std::vector<std::filesystem::path> files;  // those written, in kArtifacts order
    nlohmann::json summary;                    // the child's account (size, audio, poster time)
  };
  virtual ProxyFiles make_proxy(const std::filesystem::path& video,
                                const std::filesystem::path& dir, int max_height,
                                const std::atomic<bool>* cancel) = 0;
};

// Runs `executable child <request>` as every child of the service runs: the sandbox defaults
// (sandbox/sandbox.h), the descriptors of `options`, the memory limit of `description` (0:
// none), the time and CPU limits and RLIMIT_FSIZE given; returns the child's decoded result
// (child_protocol::decode: its typed errors are rethrown here). With `server`, the child is
// forked from that fork server (which runs `executable child fork-server`) instead of
// executed, under the same limits and sandbox; executed when the server is gone.
nlohmann::json run_sandboxed_child(const std::filesystem::path& executable,
                                   const analysis::child_protocol::ChildRequest& request,
                                   analysis::SubprocessOptions options,
                                   const analysis::child_protocol::ChildDescription& description,
                                   std::chrono::seconds timeout, std::uint64_t cpu_limit_seconds,
                                   std::uint64_t file_size_limit,
                                   analysis::ForkServer* server = nullptr);

// Starts `executable child fork-server` (sandbox/fork_server.h) with the sandbox defaults:
// it loads the pose model of `preload.model` (from `model_dir`; empty: the build's) and
// libmagic's database, confines itself, and forks the child of each job that is run through
// it. Throws analysis::ForkServerGone when it does not become ready within
// kForkServerReadyTimeout, AnalysisError when a model cannot be opened.
inline constexpr std::chrono::seconds kForkServerReadyTimeout{120};
std::unique_ptr<analysis::ForkServer> start_fork_server(
    const std::filesystem::path& executable, analysis::child_protocol::ChildRequest preload,
    const std::filesystem::path& model_dir = {});

// Path of the running executable (/proc/self/exe), for re-executing ourselves.
std::filesystem::path current_executable();

std::unique_ptr<AnalysisRunner> make_analysis_runner(const ServiceConfig& config,
                                                     std::filesystem::path executable);

// The analyzer the child runs: "pose" (pose-gait) or "gait" (silhouette-gait), with the
// pose models and threads of `pose`.
std::unique_ptr<analysis::Analyzer> make_builtin_analyzer(const std::string& analyzer,
                                                          const analysis::PoseVideoOptions& pose);

// `dancer-analysis pose FILE`: the body-keypoint track as JSON Lines on `out`, computed in
// the sandboxed child (which writes them to a file this process opened and then copies).
// Returns the child's summary ({"frames", "frames_with_person", ...}); throws like run().
struct PoseCommandOptions {
  std::string model = "full";  // lite | full | heavy
  int threads = 1;
  std::filesystem::path model_dir;  // empty: POSE_MODEL_DIR's default
};
nlohmann::json run_pose_in_child(const std::filesystem::path& video,
                                 const PoseCommandOptions& options, const AnalysisSettings& limits,
                                 std::ostream& out);

// The child's side: `dancer-analysis child probe|analyze|pose|proxy ...` (argv after "child",
// child_protocol::ChildRequest). Enters the sandbox, does the work, prints one
// child_protocol line; returns the exit code. `extra_modes` adds modes (test builds only:
// a probe of what the sandboxed child can reach), run after the same sandbox set-up.
using ChildModes =
    std::map<std::string,
             std::function<std::string(const analysis::child_protocol::ChildRequest&)>>;
int run_child(const std::vector<std::string>& args, const ChildModes& extra_modes = {});

}  // namespace dancer::service

// The protocol between the service and the sandboxed child that parses untrusted media
// (`dancer-analysis child probe|analyze ...`). The child prints exactly one JSON line on
// stdout:
//   {"protocol": 1, "ok": true,  "result": {...}}
//   {"protocol": 1, "ok": false, "error": {"domain": "media"|"analysis", "code": "...",
//                                          "message": "...", "details": {...}}}
// The parent decodes that line together with how the child ended (exit code, signal, time
// limit, cancellation) and rethrows the child's typed error, so the processor classifies a
// failure the same way whether it happened in process or in the child: no failure class is
// lost at the process boundary.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analysis/analyzer.h"
#include "media/metadata.h"
#include "sandbox/subprocess.h"

namespace dancer::analysis::child_protocol {

inline constexpr int kVersion = 1;

// What the parent asks of one child, carried in its argv (`dancer-analysis child <argv>`):
// written once here, by to_argv() on the parent's side and from_argv() on the child's. Every
// file the child reads or writes is a descriptor number it inherits: it opens nothing by name.
struct ChildRequest {
  // "probe", "analyze", "pose" or "proxy" (the web-playable copy and poster); or "fork-server", the
  // pre-initialised parent that forks one child per probe or analysis (sandbox/fork_server.h), with
  // the analyzer, model and threads it preloads and its control socket.
  std::string mode;
  int input_fd = -1;    // the video
  int control_fd = -1;  // fork-server: the control socket

  // probe
  unsigned max_streams = 0;
  std::uint64_t max_frame_pixels = 0;  // also enforced per decoded frame by "analyze"/"pose"
  std::uint64_t max_index_entries = 0;
  int timeout_seconds = 0;
  std::uint64_t metadata_max_bytes = 0;

  // analyze and pose
  std::string analyzer;  // "pose" or "gait" (analyze)
  int threads = 0;
  std::string model;  // BlazePose variant; with the two model descriptors
  int landmark_model_fd = -1;
  int detector_model_fd = -1;
  int metadata_fd = -1;  // the probe's metadata as JSON
  std::optional<double> subject_height_m;
  // AnalysisRequest::warnings: snake_case names, one --warning each.
  std::vector<std::string> warnings;
  JobContext job;
  media::DecodeLimits limits;
  std::map<std::string, int> outputs;  // artifact name -> descriptor to write it to

  // proxy: the largest height of its picture (PROXY_MAX_HEIGHT)
  int max_height = 0;

  std::vector<std::string> to_argv() const;
  // Throws std::invalid_argument for anything malformed.
  static ChildRequest from_argv(const std::vector<std::string>& argv);
};

std::string_view to_string(AnalysisErrorCode code);  // "invalid_input", "timeout", ...
AnalysisErrorCode analysis_error_code_from_string(std::string_view name);  // kFailed if unknown

// Child side: the success line.
std::string encode_result(const nlohmann::json& result);
// Child side, inside a catch block: the failure line for std::current_exception().
// MediaError and AnalysisError keep their codes; std::bad_alloc becomes
// kResourceLimit (the child's RLIMIT_AS was reached); anything else kInternal.
std::string encode_current_exception(const nlohmann::json& details = nullptr);

// What the parent knows of the child's limits, for the reasons it writes.
struct ChildDescription {
  std::string what;             // "probe" or "analysis"
  std::string timeout_setting;  // "PROBE_TIMEOUT", "ANALYSIS_TIMEOUT"
  int timeout_seconds = 0;
  std::string memory_setting;  // "PROBE_MEMORY_LIMIT_MB", ...
  std::uint64_t memory_limit_mb = 0;
};

// A failure the child reported with details (the probe's fallback file facts).
class ChildReportedMediaError : public media::MediaError {
 public:
  ChildReportedMediaError(media::MediaErrorCode code, const std::string& message,
                          nlohmann::json details)
      : media::MediaError(code, message), details_(std::move(details)) {}
  const nlohmann::json& details() const { return details_; }

 private:
  nlohmann::json details_;
};

// Parent side. Returns the child's "result", or throws:
//  - the child's own typed error (media::MediaError / ChildReportedMediaError /
//    AnalysisError with its code);
//  - AnalysisError kCancelled when the parent cancelled it;
//  - AnalysisError kTimeout for the wall-clock limit or the CPU limit (SIGXCPU);
//  - AnalysisError kInternal (transient) when something else killed it with SIGKILL: the
//    kernel's OOM killer, a condition of the machine rather than of the file;
//  - AnalysisError kCrashed for any other signal, a non-zero exit, or output that is not
//    the protocol (with a short excerpt of its stderr). A child that ran out of its own
//    memory limit reports kResourceLimit itself (std::bad_alloc, encode_current_exception).
nlohmann::json decode(const SubprocessResult& child, const ChildDescription& description);

}  // namespace dancer::analysis::child_protocol

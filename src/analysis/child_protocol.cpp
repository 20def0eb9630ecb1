#include "analysis/child_protocol.h"

#include <signal.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <new>
#include <stdexcept>
#include <utility>

#include "common/subject_height.h"

namespace dancer::analysis::child_protocol {
namespace {

using nlohmann::json;

constexpr std::array<std::pair<AnalysisErrorCode, std::string_view>, 7> kAnalysisCodes{{
    {AnalysisErrorCode::kInvalidInput, "invalid_input"},
    {AnalysisErrorCode::kTimeout, "timeout"},
    {AnalysisErrorCode::kCrashed, "crashed"},
    {AnalysisErrorCode::kResourceLimit, "resource_limit"},
    {AnalysisErrorCode::kFailed, "failed"},
    {AnalysisErrorCode::kInternal, "internal"},
    {AnalysisErrorCode::kCancelled, "cancelled"},
}};

// Deeper than any result the child writes (metadata is ~5 levels, analysis ~6).
constexpr int kMaxDepth = 64;

std::string failure_line(std::string_view domain, std::string_view code, const std::string& message,
                         const json& details) {
  json error = {{"domain", domain}, {"code", code}, {"message", message}};
  if (!details.is_null()) error["details"] = details;
  return json{{"protocol", kVersion}, {"ok", false}, {"error", std::move(error)}}.dump(
      -1, ' ', false, json::error_handler_t::replace);
}

// The last line of the child's stderr, short: enough to tell a person what happened.
std::string stderr_excerpt(const std::string& text) {
  std::string trimmed = text;
  while (!trimmed.empty() && (trimmed.back() == '\n' || trimmed.back() == '\r')) {
    trimmed.pop_back();
  }
  auto newline = trimmed.find_last_of('\n');
  std::string last = newline == std::string::npos ? trimmed : trimmed.substr(newline + 1);
  if (last.size() > 200) last = last.substr(0, 200) + "...";
  return last;
}

template <typename T>
T parse_number(const std::string& text, const std::string& what) {
  T value{};
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) {
    throw std::invalid_argument("child: bad " + what + ": " + text);
  }
  return value;
}

double parse_double(const std::string& text, const std::string& what) {
  // from_chars for double is in libstdc++ 11+; strtod would depend on the locale.
  const double value = parse_number<double>(text, what);
  if (!std::isfinite(value)) throw std::invalid_argument("child: bad " + what + ": " + text);
  return value;
}

std::string exact(double value) {
  char text[32];
  const auto [end, error] = std::to_chars(text, text + sizeof text, value);
  return error == std::errc() ? std::string(text, end) : std::string("0");
}

}  // namespace

std::vector<std::string> ChildRequest::to_argv() const {
  std::vector<std::string> argv = {mode};
  const auto add = [&argv](const char* flag, const std::string& value) {
    argv.push_back(flag);
    argv.push_back(value);
  };
  const auto add_number = [&add](const char* flag, auto value) {
    if (value != 0) add(flag, std::to_string(value));
  };
  const auto add_fd = [&add](const char* flag, int fd) {
    if (fd >= 0) add(flag, std::to_string(fd));
  };
  add_fd("--input-fd", input_fd);
  add_fd("--control-fd", control_fd);
  add_number("--max-streams", max_streams);
  add_number("--max-frame-pixels", max_frame_pixels);
  add_number("--max-index-entries", max_index_entries);
  add_number("--timeout", timeout_seconds);
  add_number("--metadata-max-bytes", metadata_max_bytes);
  if (!analyzer.empty()) add("--analyzer", analyzer);
  add_number("--threads", threads);
  if (!model.empty()) add("--model", model);
  add_fd("--landmark-model-fd", landmark_model_fd);
  add_fd("--detector-model-fd", detector_model_fd);
  add_fd("--metadata-fd", metadata_fd);
  if (subject_height_m) add("--subject-height-m", exact(*subject_height_m));
  for (const std::string& warning : warnings) add("--warning", warning);
  if (!job.job_id.empty()) add("--job-id", job.job_id);
  if (!job.object_name.empty()) add("--object-name", job.object_name);
  if (!job.video_url.empty()) add("--video-url", job.video_url);
  if (!job.video_content_type.empty()) add("--video-content-type", job.video_content_type);
  if (limits.max_duration_s > 0) add("--max-duration-s", exact(limits.max_duration_s));
  add_number("--max-frames", limits.max_frames);
  if (limits.max_fps > 0) add("--max-fps", exact(limits.max_fps));
  add_number("--max-height", max_height);
  for (const auto& [name, fd] : outputs) add("--output", name + "=" + std::to_string(fd));
  return argv;
}

ChildRequest ChildRequest::from_argv(const std::vector<std::string>& argv) {
  if (argv.empty()) throw std::invalid_argument("child: missing mode");
  ChildRequest r;
  r.mode = argv[0];
  for (std::size_t i = 1; i < argv.size(); i += 2) {
    const std::string& flag = argv[i];
    if (flag.rfind("--", 0) != 0 || i + 1 >= argv.size()) {
      throw std::invalid_argument("child: bad argument " + flag);
    }
    const std::string& value = argv[i + 1];
    const auto fd = [&] {
      const int number = parse_number<int>(value, flag);
      if (number < 3) throw std::invalid_argument("child: bad descriptor for " + flag);
      return number;
    };
    if (flag == "--input-fd") {
      r.input_fd = fd();
    } else if (flag == "--control-fd") {
      r.control_fd = fd();
    } else if (flag == "--max-streams") {
      r.max_streams = parse_number<unsigned>(value, flag);
    } else if (flag == "--max-frame-pixels") {
      r.max_frame_pixels = parse_number<std::uint64_t>(value, flag);
      r.limits.max_frame_pixels = r.max_frame_pixels;
    } else if (flag == "--max-index-entries") {
      r.max_index_entries = parse_number<std::uint64_t>(value, flag);
    } else if (flag == "--timeout") {
      r.timeout_seconds = parse_number<int>(value, flag);
    } else if (flag == "--metadata-max-bytes") {
      r.metadata_max_bytes = parse_number<std::uint64_t>(value, flag);
    } else if (flag == "--analyzer") {
      r.analyzer = value;
    } else if (flag == "--threads") {
      r.threads = parse_number<int>(value, flag);
    } else if (flag == "--model") {
      r.model = value;
    } else if (flag == "--landmark-model-fd") {
      r.landmark_model_fd = fd();
    } else if (flag == "--detector-model-fd") {
      r.detector_model_fd = fd();
    } else if (flag == "--metadata-fd") {
      r.metadata_fd = fd();
    } else if (flag == "--subject-height-m") {
      r.subject_height_m = common::parse_subject_height_m(value);
      if (!r.subject_height_m) throw std::invalid_argument("child: bad --subject-height-m");
    } else if (flag == "--warning") {
      const bool snake_case = !value.empty() && value.front() >= 'a' && value.front() <= 'z' &&
                              std::all_of(value.begin(), value.end(), [](char c) {
                                return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
                              });
      if (!snake_case) throw std::invalid_argument("child: bad --warning");
      r.warnings.push_back(value);
    } else if (flag == "--job-id") {
      r.job.job_id = value;
    } else if (flag == "--object-name") {
      r.job.object_name = value;
    } else if (flag == "--video-url") {
      r.job.video_url = value;
    } else if (flag == "--video-content-type") {
      r.job.video_content_type = value;
    } else if (flag == "--max-duration-s") {
      r.limits.max_duration_s = parse_double(value, flag);
    } else if (flag == "--max-frames") {
      r.limits.max_frames = parse_number<std::int64_t>(value, flag);
    } else if (flag == "--max-fps") {
      r.limits.max_fps = parse_double(value, flag);
    } else if (flag == "--max-height") {
      r.max_height = parse_number<int>(value, flag);
      if (r.max_height < 16) throw std::invalid_argument("child: bad --max-height");
    } else if (flag == "--output") {
      const auto eq = value.find('=');
      if (eq == std::string::npos || eq == 0) throw std::invalid_argument("child: bad --output");
      const int number = parse_number<int>(value.substr(eq + 1), flag);
      if (number < 3) throw std::invalid_argument("child: bad descriptor for --output");
      r.outputs[value.substr(0, eq)] = number;
    } else {
      throw std::invalid_argument("child: unknown argument " + flag);
    }
  }
  return r;
}

std::string_view to_string(AnalysisErrorCode code) {
  for (const auto& [value, name] : kAnalysisCodes) {
    if (value == code) return name;
  }
  return "failed";
}

AnalysisErrorCode analysis_error_code_from_string(std::string_view name) {
  for (const auto& [value, text] : kAnalysisCodes) {
    if (text == name) return value;
  }
  return AnalysisErrorCode::kFailed;
}

std::string encode_result(const json& result) {
  return json{{"protocol", kVersion}, {"ok", true}, {"result", result}}.dump(
      -1, ' ', false, json::error_handler_t::replace);
}

std::string encode_current_exception(const json& details) {
  try {
    throw;
  } catch (const media::MediaError& e) {
    return failure_line("media", media::to_string(e.code()), e.what(), details);
  } catch (const AnalysisError& e) {
    return failure_line("analysis", to_string(e.code()), e.what(), details);
  } catch (const std::bad_alloc&) {
    return failure_line("analysis", to_string(AnalysisErrorCode::kResourceLimit),
                        "ran out of memory under the child's memory limit", details);
  } catch (const std::exception& e) {
    return failure_line("analysis", to_string(AnalysisErrorCode::kInternal), e.what(), details);
  } catch (...) {
    return failure_line("analysis", to_string(AnalysisErrorCode::kInternal), "unknown error",
                        details);
  }
}

json decode(const SubprocessResult& child, const ChildDescription& description) {
  if (child.cancelled) {
    throw AnalysisError(AnalysisErrorCode::kCancelled, description.what + " cancelled");
  }
  if (child.timed_out || child.term_signal == SIGXCPU) {
    throw AnalysisError(AnalysisErrorCode::kTimeout,
                        description.what + " exceeded " + description.timeout_setting + " (" +
                            std::to_string(description.timeout_seconds) + " s)");
  }
  if (child.output_overflow) {
    throw AnalysisError(AnalysisErrorCode::kFailed,
                        description.what + " produced more output than allowed");
  }
  // A protocol line is trusted only from a child that exited normally: a crash after
  // printing must not pass for a success. A compromised child controls these bytes, so
  // the parser's recursion is bounded (nlohmann's parser recurses once per nesting level).
  json line;
  try {
    line = nlohmann::json::parse(
        child.stdout_text,
        [](int depth, json::parse_event_t, json&) {
          if (depth > kMaxDepth) throw std::length_error("nested too deeply");
          return true;
        },
        false);
  } catch (const std::length_error&) {
    line = json(json::value_t::discarded);
  }
  const bool is_protocol = !line.is_discarded() && line.is_object() && line.contains("protocol") &&
                           line["protocol"] == kVersion && line.contains("ok") &&
                           line["ok"].is_boolean();
  if (child.term_signal == 0 && child.exit_code == 0 && is_protocol) {
    if (line["ok"] == true && line.contains("result")) return line["result"];
    if (line["ok"] == false && line.contains("error") && line["error"].is_object()) {
      const json& error = line["error"];
      auto text = [&](const char* key, std::string fallback) {
        return error.contains(key) && error[key].is_string() ? error[key].get<std::string>()
                                                             : fallback;
      };
      const std::string message = text("message", description.what + " failed");
      const std::string code = text("code", "");
      if (text("domain", "") == "media") {
        const media::MediaErrorCode media_code = media::media_error_code_from_string(code);
        if (error.contains("details")) {
          throw ChildReportedMediaError(media_code, message, error["details"]);
        }
        throw media::MediaError(media_code, message);
      }
      throw AnalysisError(analysis_error_code_from_string(code), message);
    }
  }
  if (child.term_signal == SIGKILL) {
    // Not our kill (timeouts and cancellation are handled above): the kernel's OOM killer,
    // when the machine or the pod's cgroup ran out of memory. A condition of this moment,
    // not of the file (RLIMIT_AS makes the file's own excess fail with ENOMEM instead), so
    // it is retried, within MAX_RECEIVE_COUNT.
    throw AnalysisError(AnalysisErrorCode::kInternal,
                        description.what + " process " + child.describe() +
                            " (the machine may have run out of memory)");
  }
  if (child.term_signal == SIGSEGV || child.term_signal == SIGABRT || child.term_signal == SIGBUS) {
    // Under RLIMIT_AS an allocation failure that the code does not handle ends in abort or a
    // null dereference: as often memory as a bug, and the reason says what is known.
    throw AnalysisError(AnalysisErrorCode::kCrashed,
                        description.what + " process " + child.describe() + " (limit " +
                            description.memory_setting + " " +
                            std::to_string(description.memory_limit_mb) + " MB)");
  }
  if (child.term_signal != 0) {
    throw AnalysisError(AnalysisErrorCode::kCrashed,
                        description.what + " process " + child.describe());
  }
  const std::string excerpt = stderr_excerpt(child.stderr_text);
  throw AnalysisError(AnalysisErrorCode::kCrashed,
                      description.what + " process " + child.describe() +
                          (is_protocol ? ": malformed result" : ": no result") +
                          (excerpt.empty() ? "" : " (" + excerpt + ")"));
}

}  // namespace dancer::analysis::child_protocol

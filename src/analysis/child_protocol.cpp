#include "analysis/child_protocol.h"

#include <signal.h>

#include <array>
#include <new>
#include <stdexcept>
#include <utility>

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

}  // namespace

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

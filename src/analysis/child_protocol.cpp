#include "analysis/child_protocol.h"

#include <signal.h>

#include <array>
#include <new>
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
  // printing must not pass for a success.
  const json line = nlohmann::json::parse(child.stdout_text, nullptr, false);
  const bool is_protocol = !line.is_discarded() && line.is_object() &&
                           line.value("protocol", 0) == kVersion && line.contains("ok");
  if (child.term_signal == 0 && child.exit_code == 0 && is_protocol) {
    if (line["ok"] == true && line.contains("result")) return line["result"];
    if (line["ok"] == false && line.contains("error") && line["error"].is_object()) {
      const json& error = line["error"];
      const std::string message = error.value("message", description.what + " failed");
      const std::string code = error.value("code", "");
      if (error.value("domain", "") == "media") {
        const media::MediaErrorCode media_code = media::media_error_code_from_string(code);
        if (error.contains("details")) {
          throw ChildReportedMediaError(media_code, message, error["details"]);
        }
        throw media::MediaError(media_code, message);
      }
      throw AnalysisError(analysis_error_code_from_string(code), message);
    }
  }
  if (child.term_signal == SIGKILL || child.term_signal == SIGSEGV ||
      child.term_signal == SIGABRT || child.term_signal == SIGBUS) {
    // Under RLIMIT_AS an allocation failure that the code does not handle ends in abort or a
    // null dereference; SIGKILL comes from the kernel's OOM killer. All of them are more
    // often memory than a bug, but the reason says what is known.
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

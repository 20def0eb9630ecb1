// Process-wide logging on spdlog: console (stderr) plus a size-rotated file, as text or as
// one JSON object per line, with secrets masked before any sink sees a message.
#pragma once

#include <spdlog/common.h>
#include <spdlog/formatter.h>

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace dancer::service {

struct LoggingConfig {
  // LOG_LEVEL: Python's names (DEBUG INFO WARNING ERROR CRITICAL) or spdlog's
  // (trace debug info warn err critical off), any case.
  std::string level = "INFO";
  std::string format = "text";                          // LOG_FORMAT: text | json
  std::filesystem::path file = "analysis_service.log";  // LOG_FILE; empty: no file
  std::size_t max_file_bytes = 10 * 1024 * 1024;        // 0: never rotate
  std::size_t max_files = 5;                            // rotated files kept besides the live one
};

// Replaces spdlog's default logger (named "dancer"). Throws std::invalid_argument naming
// LOG_LEVEL or LOG_FORMAT for a bad value, spdlog::spdlog_ex if the file cannot be opened.
void init_logging(const LoggingConfig& config);

// Throws std::invalid_argument naming LOG_LEVEL.
spdlog::level::level_enum parse_log_level(std::string_view name);

// Masks AWS secret access keys, session/security tokens, presigned-URL signatures,
// passwords (key=value, JSON "password": "...", and user:password@ in URLs) and
// Authorization header values with ***.
std::string redact_secrets(std::string_view text);

// Building blocks, exposed for tests and for anyone assembling another logger.
// {"time":"2024-05-01T12:00:00.123Z","level":"INFO","logger":"dancer","message":"...",
//  "thread":1234}
std::unique_ptr<spdlog::formatter> make_json_formatter();
// A sink that redacts each message, then forwards it to `targets`.
spdlog::sink_ptr make_redacting_sink(std::vector<spdlog::sink_ptr> targets);

}  // namespace dancer::service

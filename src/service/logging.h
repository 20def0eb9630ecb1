// Process-wide logging on spdlog: console (stderr) plus a size-rotated file, as text or as
// one JSON object per line, with secrets masked before any sink sees a message.
#pragma once

#include <spdlog/common.h>
#include <spdlog/formatter.h>
#include <spdlog/logger.h>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
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

// Messages of C libraries (FFmpeg through media::install_av_log_sink, libpq notices) into
// the process logger, so LOG_FORMAT=json yields JSON lines for them too. Each line is
// "<source>: <message>", secrets redacted (redact_secrets, before any cut), control
// characters turned into spaces, cut to max_message_bytes. Beyond max_lines_per_second
// lines of one sink in a one-second window the rest are counted, and the first line of a
// later window is preceded by "<source>: suppressed K messages ..." at the most severe
// level suppressed. Local paths are kept: operators own the machine and need them (the
// reasons shown to people are cleaned by user_facing_reason instead). Thread-safe.
struct LibraryLogOptions {
  std::size_t max_lines_per_second = 20;
  std::size_t max_message_bytes = 300;
  // Level of a message that names none. libpq notices ("NOTICE:  relation ... already
  // exists, skipping") are chatter, hence debug; "WARNING:" / "ERROR:" ones become warn.
  spdlog::level::level_enum default_level = spdlog::level::debug;
  // Where lines go; null: spdlog's default logger when each message arrives. Only with an
  // explicit logger is a last suppression count reported when the sink is destroyed
  // (at exit the default logger may already be gone).
  std::shared_ptr<spdlog::logger> logger;
  // Clock of the rate windows; empty: std::chrono::steady_clock::now.
  std::function<std::chrono::steady_clock::time_point()> clock;
};

// For libpq's notice processor (store::StoreOptions::notice_sink): source "postgres".
std::function<void(std::string_view message)> make_library_log_sink(std::string source,
                                                                    LibraryLogOptions options = {});

// For media::install_av_log_sink: the level comes from FFmpeg (level_for_av_level).
std::function<void(int av_level, std::string_view message)> make_av_log_sink(
    std::string source = "ffmpeg", LibraryLogOptions options = {});

// AV_LOG_PANIC/FATAL -> err; AV_LOG_ERROR -> warn (a decoder error about a hostile or
// damaged upload is not an operator error: the job's own failure is logged as such);
// AV_LOG_WARNING and AV_LOG_INFO -> debug; more verbose -> trace.
spdlog::level::level_enum level_for_av_level(int av_level);

}  // namespace dancer::service

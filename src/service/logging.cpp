#include "service/logging.h"

#include <spdlog/details/log_msg.h>
#include <spdlog/logger.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <stdexcept>
#include <utility>

#include <mutex>

#include <nlohmann/json.hpp>

#include "common/strings.h"

extern "C" {
#include <libavutil/log.h>
}

namespace dancer::service {

namespace {

constexpr const char* kLoggerName = "dancer";
// UTC ISO 8601 like the JSON lines, so text and JSON logs sort and correlate the same way.
constexpr const char* kTextPattern = "%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ [%n] [%t] %v";

std::string lowercase(std::string_view text) { return common::ascii_lower(text); }

std::string_view to_std(spdlog::string_view_t view) { return {view.data(), view.size()}; }

// Python logging's level names, which the seed service's log consumers already parse.
const char* python_level_name(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
      return "TRACE";
    case spdlog::level::debug:
      return "DEBUG";
    case spdlog::level::info:
      return "INFO";
    case spdlog::level::warn:
      return "WARNING";
    case spdlog::level::err:
      return "ERROR";
    case spdlog::level::critical:
      return "CRITICAL";
    default:
      return "NOTSET";
  }
}

std::string iso8601_utc(spdlog::log_clock::time_point time) {
  const auto since_epoch = time.time_since_epoch();
  const auto seconds = std::chrono::floor<std::chrono::seconds>(since_epoch);
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds);
  const std::time_t t = static_cast<std::time_t>(seconds.count());
  std::tm utc{};
  gmtime_r(&t, &utc);
  char buffer[40];
  const std::size_t n = std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S", &utc);
  std::string out(buffer, n);
  char ms[8];
  std::snprintf(ms, sizeof ms, ".%03dZ", static_cast<int>(millis.count()));
  return out + ms;
}

class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    nlohmann::ordered_json line;
    line["time"] = iso8601_utc(msg.time);
    line["level"] = python_level_name(msg.level);
    line["logger"] = msg.logger_name.size() ? std::string(to_std(msg.logger_name)) : "root";
    line["message"] = std::string(to_std(msg.payload));
    line["thread"] = msg.thread_id;
    // replace: a message with invalid UTF-8 (e.g. a raw S3 key) must not throw or be lost.
    const std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    dest.append(text.data(), text.data() + text.size());
    dest.push_back('\n');
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

// Redacts before forwarding, so every target (console, file, anything added later)
// only ever sees the masked text, whatever the format.
class RedactingSink final : public spdlog::sinks::sink {
 public:
  explicit RedactingSink(std::vector<spdlog::sink_ptr> targets) : targets_(std::move(targets)) {}

  void log(const spdlog::details::log_msg& msg) override {
    const std::string redacted = redact_secrets(to_std(msg.payload));
    spdlog::details::log_msg copy = msg;
    copy.payload = spdlog::string_view_t(redacted.data(), redacted.size());
    // The colour range indexes the formatted line, not the payload: unchanged.
    for (const auto& target : targets_) {
      if (target->should_log(copy.level)) target->log(copy);
    }
  }
  void flush() override {
    for (const auto& target : targets_) target->flush();
  }
  void set_pattern(const std::string& pattern) override {
    for (const auto& target : targets_) target->set_pattern(pattern);
  }
  void set_formatter(std::unique_ptr<spdlog::formatter> formatter) override {
    for (const auto& target : targets_) target->set_formatter(formatter->clone());
  }

 private:
  std::vector<spdlog::sink_ptr> targets_;
};

// Runs of characters from the base64 alphabet AWS secret access keys use.
bool is_key_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '/' || c == '+';
}

// AWS secret access keys are 40 characters of [A-Za-z0-9/+]. Requiring upper case, lower
// case and a digit keeps SHA-1 hex digests and plain words out (a random key lacks one of
// them with probability ~2e-4).
void mask_bare_secret_keys(std::string& text) {
  constexpr std::size_t kSecretKeyLength = 40;
  std::size_t i = 0;
  while (i < text.size()) {
    if (!is_key_char(text[i])) {
      ++i;
      continue;
    }
    std::size_t end = i;
    bool upper = false, lower = false, digit = false;
    while (end < text.size() && is_key_char(text[end])) {
      const auto c = static_cast<unsigned char>(text[end]);
      upper = upper || std::isupper(c);
      lower = lower || std::islower(c);
      digit = digit || std::isdigit(c);
      ++end;
    }
    const bool padded = end < text.size() && text[end] == '=';  // longer base64, not a key
    if (end - i == kSecretKeyLength && upper && lower && digit && !padded) {
      text.replace(i, kSecretKeyLength, "***");
      end = i + 3;
    }
    i = end;
  }
}

constexpr std::string_view kMask = "***";

bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

std::size_t skip_spaces(std::string_view text, std::size_t i) {
  while (i < text.size() && is_space(text[i])) ++i;
  return i;
}

// Length of the value at text[i]: a quoted string through its closing quote, else the run
// up to a separator (or, for header values, up to the end of the line). 0 if none.
std::size_t value_length(std::string_view text, std::size_t i, bool to_line_end) {
  if (i >= text.size()) return 0;
  if (text[i] == '"' || text[i] == '\'') {
    const std::size_t close = text.find(text[i], i + 1);
    return close == std::string_view::npos ? text.size() - i : close + 1 - i;
  }
  const std::string_view stops = to_line_end ? "\r\n\"'" : "\"',;&}]";
  std::size_t end = i;
  while (end < text.size() && stops.find(text[end]) == std::string_view::npos &&
         (to_line_end || !is_space(text[end]))) {
    ++end;
  }
  return end - i;
}

// After a key ending at `i`: an optional closing quote, ':' or '=', spaces. Returns where
// the value starts, or npos when what follows is not an assignment.
std::size_t value_start_after_key(std::string_view text, std::size_t i) {
  if (i < text.size() && (text[i] == '"' || text[i] == '\'')) ++i;
  i = skip_spaces(text, i);
  if (i >= text.size() || (text[i] != ':' && text[i] != '=')) return std::string_view::npos;
  return skip_spaces(text, i + 1);
}

bool is_key_name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-';
}

// scheme://user:password@host -> scheme://user:***@host (DATABASE_URL, proxy URLs).
void mask_url_passwords(std::string& text) {
  constexpr std::string_view kUserStops = ":/?#@\"'";
  constexpr std::string_view kPasswordStops = "@/\"'";
  for (std::size_t at = text.find("://"); at != std::string::npos; at = text.find("://", at)) {
    std::size_t i = at + 3;
    while (i < text.size() && !is_space(text[i]) && kUserStops.find(text[i]) == std::string::npos) {
      ++i;
    }
    at = i;
    if (i >= text.size() || text[i] != ':') continue;
    const std::size_t password = i + 1;
    std::size_t end = password;
    while (end < text.size() && !is_space(text[end]) &&
           kPasswordStops.find(text[end]) == std::string::npos) {
      ++end;
    }
    // Only user:password@ is userinfo; host:port/ is not.
    if (end == password || end >= text.size() || text[end] != '@') continue;
    text.replace(password, end - password, kMask);
    at = password + kMask.size() + 1;
  }
}

// Replaces the value assigned to each occurrence of `keyword` (case-insensitive); with
// `extend_key` the keyword may be followed by more key characters (SecretAccessKey).
void mask_assigned_values(std::string& text, std::string_view keyword, bool extend_key,
                          bool to_line_end) {
  std::size_t from = 0;
  while (true) {
    const std::string lower = lowercase(text);
    const std::size_t hit = lower.find(keyword, from);
    if (hit == std::string::npos) return;
    std::size_t key_end = hit + keyword.size();
    if (extend_key) {
      while (key_end < text.size() && is_key_name_char(text[key_end])) ++key_end;
    }
    from = key_end;
    const std::size_t start = value_start_after_key(text, key_end);
    if (start == std::string::npos) continue;
    const std::size_t length = value_length(text, start, to_line_end);
    if (length == 0) continue;
    text.replace(start, length, kMask);
    from = start + kMask.size();
  }
}

// Cuts valid or invalid UTF-8 to at most max_bytes without splitting a character, and
// marks the cut.
std::string cut_message(std::string text, std::size_t max_bytes) {
  constexpr std::string_view kEllipsis = "\xE2\x80\xA6";
  if (text.size() <= max_bytes) return text;
  std::size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0u) == 0x80u) --cut;
  text.resize(cut);
  text += kEllipsis;
  return text;
}

// libpq notices start with their severity: "WARNING:  ...", "NOTICE:  ...".
spdlog::level::level_enum level_of_notice(std::string_view message,
                                          spdlog::level::level_enum fallback) {
  for (const std::string_view severity : {"WARNING:", "ERROR:", "FATAL:", "PANIC:"}) {
    if (message.substr(0, severity.size()) == severity) return spdlog::level::warn;
  }
  return fallback;
}

// One sink's shared state: the rate window and what it suppressed.
class LibraryLog {
 public:
  LibraryLog(std::string source, LibraryLogOptions options)
      : source_(std::move(source)), options_(std::move(options)) {
    if (!options_.clock) options_.clock = [] { return std::chrono::steady_clock::now(); };
  }
  LibraryLog(const LibraryLog&) = delete;
  LibraryLog& operator=(const LibraryLog&) = delete;

  ~LibraryLog() {
    if (!options_.logger || suppressed_ == 0) return;
    try {
      report(*options_.logger, suppressed_, suppressed_level_);
    } catch (...) {  // a destructor must not throw; the count is only informative
    }
  }

  void log(spdlog::level::level_enum level, std::string_view message) {
    const std::shared_ptr<spdlog::logger> logger =
        options_.logger ? options_.logger : spdlog::default_logger();
    if (!logger || !logger->should_log(level)) return;  // disabled lines use no budget
    std::size_t to_report = 0;
    auto report_level = spdlog::level::trace;
    bool allowed = false;
    {
      std::lock_guard lock(mutex_);
      const auto now = options_.clock();
      if (!window_open_ || now - window_start_ >= std::chrono::seconds(1)) {
        to_report = suppressed_;
        report_level = suppressed_level_;
        suppressed_ = 0;
        suppressed_level_ = spdlog::level::trace;
        window_start_ = now;
        window_open_ = true;
        in_window_ = 0;
      }
      if (in_window_ < options_.max_lines_per_second) {
        ++in_window_;
        allowed = true;
      } else {
        ++suppressed_;
        suppressed_level_ = std::max(suppressed_level_, level);
      }
    }
    if (to_report > 0) report(*logger, to_report, report_level);
    if (allowed) logger->log(level, "{}: {}", source_, prepare(message));
  }

 private:
  std::string prepare(std::string_view message) const {
    // Bound the redaction work first; keep enough that a secret near the cut is masked.
    constexpr std::size_t kMaxScannedBytes = 64 * 1024;
    std::string text = redact_secrets(message.substr(0, kMaxScannedBytes));
    for (char& c : text) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = ' ';
    }
    while (!text.empty() && text.back() == ' ') text.pop_back();
    return cut_message(std::move(text), options_.max_message_bytes);
  }

  void report(spdlog::logger& logger, std::size_t count, spdlog::level::level_enum level) const {
    logger.log(level, "{}: suppressed {} messages (more than {} a second)", source_, count,
               options_.max_lines_per_second);
  }

  const std::string source_;
  LibraryLogOptions options_;
  std::mutex mutex_;
  bool window_open_ = false;
  std::chrono::steady_clock::time_point window_start_;
  std::size_t in_window_ = 0;
  std::size_t suppressed_ = 0;
  spdlog::level::level_enum suppressed_level_ = spdlog::level::trace;
};

}  // namespace

std::function<void(std::string_view)> make_library_log_sink(std::string source,
                                                            LibraryLogOptions options) {
  const auto fallback = options.default_level;
  auto log = std::make_shared<LibraryLog>(std::move(source), std::move(options));
  return [log, fallback](std::string_view message) {
    log->log(level_of_notice(message, fallback), message);
  };
}

std::function<void(int, std::string_view)> make_av_log_sink(std::string source,
                                                            LibraryLogOptions options) {
  auto log = std::make_shared<LibraryLog>(std::move(source), std::move(options));
  return [log](int av_level, std::string_view message) {
    log->log(level_for_av_level(av_level), message);
  };
}

spdlog::level::level_enum level_for_av_level(int av_level) {
  if (av_level <= AV_LOG_FATAL) return spdlog::level::err;
  if (av_level <= AV_LOG_ERROR) return spdlog::level::warn;
  if (av_level <= AV_LOG_INFO) return spdlog::level::debug;
  return spdlog::level::trace;
}

spdlog::level::level_enum parse_log_level(std::string_view name) {
  const std::string lower = lowercase(name);
  if (lower == "trace") return spdlog::level::trace;
  if (lower == "debug") return spdlog::level::debug;
  if (lower == "info") return spdlog::level::info;
  if (lower == "warning" || lower == "warn") return spdlog::level::warn;
  if (lower == "error" || lower == "err") return spdlog::level::err;
  if (lower == "critical" || lower == "fatal") return spdlog::level::critical;
  if (lower == "off") return spdlog::level::off;
  throw std::invalid_argument("LOG_LEVEL: unknown level '" + std::string(name) +
                              "' (expected DEBUG, INFO, WARNING, ERROR or CRITICAL)");
}

std::string redact_secrets(std::string_view text) {
  std::string out(text);
  mask_url_passwords(out);
  // The whole header value: SigV4's carries the access key id and signature, a
  // Bearer/Basic one is the credential itself.
  mask_assigned_values(out, "authorization", false, true);
  // key=value, key: value, "key": "value" for any key containing a secret's name:
  // aws_secret_access_key, SecretAccessKey, aws_session_token, X-Amz-Security-Token,
  // IMDS "Token", X-Amz-Signature (a presigned URL is a bearer credential), password.
  static constexpr std::array<std::string_view, 9> kSecretKeyWords = {
      "secret", "token", "password", "passwd", "pwd", "signature", "apikey", "api_key", "api-key"};
  const std::string lower = lowercase(out);  // masking only removes text: safe to reuse
  for (const std::string_view word : kSecretKeyWords) {
    // Cheap pre-check: most messages contain none of the words.
    if (lower.find(word) != std::string::npos) mask_assigned_values(out, word, true, false);
  }
  mask_bare_secret_keys(out);
  return out;
}

std::unique_ptr<spdlog::formatter> make_json_formatter() {
  return std::make_unique<JsonFormatter>();
}

spdlog::sink_ptr make_redacting_sink(std::vector<spdlog::sink_ptr> targets) {
  return std::make_shared<RedactingSink>(std::move(targets));
}

void init_logging(const LoggingConfig& config) {
  const spdlog::level::level_enum level = parse_log_level(config.level);
  const std::string format = lowercase(config.format);
  if (format != "text" && format != "json") {
    throw std::invalid_argument("LOG_FORMAT: unknown format '" + config.format +
                                "' (expected text or json)");
  }
  const bool json = format == "json";

  std::vector<spdlog::sink_ptr> targets;
  // No colour codes in JSON: log collectors would store them inside the message.
  if (json) {
    targets.push_back(std::make_shared<spdlog::sinks::stderr_sink_mt>());
  } else {
    targets.push_back(std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  }
  if (!config.file.empty()) {
    if (config.file.has_parent_path())
      std::filesystem::create_directories(config.file.parent_path());
    if (config.max_file_bytes > 0) {
      targets.push_back(std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
          config.file.string(), config.max_file_bytes, config.max_files));
    } else {
      targets.push_back(std::make_shared<spdlog::sinks::basic_file_sink_mt>(config.file.string()));
    }
  }

  auto sink = make_redacting_sink(std::move(targets));
  if (json) {
    sink->set_formatter(make_json_formatter());
  } else {
    sink->set_formatter(
        std::make_unique<spdlog::pattern_formatter>(kTextPattern, spdlog::pattern_time_type::utc));
  }
  auto logger = std::make_shared<spdlog::logger>(kLoggerName, std::move(sink));
  logger->set_level(level);
  // Problems reach the file at once; routine lines within a second (flush_every).
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(std::move(logger));
  // flush_every starts spdlog's flusher thread. It must block SIGTERM/SIGINT like every
  // thread Service::run starts: a process-directed signal goes to any thread that does not
  // block it, and there its default action would kill the process instead of reaching
  // the sigtimedwait that starts the graceful shutdown.
  sigset_t shutdown_signals, previous;
  sigemptyset(&shutdown_signals);
  sigaddset(&shutdown_signals, SIGTERM);
  sigaddset(&shutdown_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &shutdown_signals, &previous);
  spdlog::flush_every(std::chrono::seconds(1));
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

}  // namespace dancer::service

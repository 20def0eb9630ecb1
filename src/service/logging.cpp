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

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <regex>
#include <stdexcept>
#include <utility>

#include <nlohmann/json.hpp>

namespace dancer::service {

namespace {

constexpr const char* kLoggerName = "dancer";
// UTC ISO 8601 like the JSON lines, so text and JSON logs sort and correlate the same way.
constexpr const char* kTextPattern = "%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ [%n] [%t] %v";

std::string lowercase(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

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

struct RedactionRule {
  std::regex pattern;
  const char* replacement;
};

const std::vector<RedactionRule>& redaction_rules() {
  constexpr auto kFlags = std::regex::ECMAScript | std::regex::icase | std::regex::optimize;
  // A value: quoted (up to the closing quote) or bare (up to a separator).
  static const std::string kValue = R"re(("[^"]*"|'[^']*'|[^\s"',;&}\]]+))re";
  static const std::vector<RedactionRule> rules = {
      // scheme://user:password@host -> scheme://user:***@host (DATABASE_URL, proxies).
      {std::regex(R"re(([a-z][a-z0-9+.\-]*://[^\s:/?#@"']*:)[^\s@/"']+@)re", kFlags), "$1***@"},
      // The whole header value: SigV4's carries the access key id and signature, a
      // Bearer/Basic one is the credential itself.
      {std::regex(R"re((authorization["']?\s*[:=]\s*)("[^"]*"|'[^']*'|[^\r\n"']+))re", kFlags),
       "$1***"},
      // key=value, key: value, "key": "value" for any key containing a secret's name:
      // aws_secret_access_key, SecretAccessKey, aws_session_token, X-Amz-Security-Token,
      // IMDS "Token", X-Amz-Signature (a presigned URL is a bearer credential), password.
      {std::regex(
           R"re(([a-z0-9_\-]*(secret|token|password|passwd|pwd|signature|api[_\-]?key)[a-z0-9_\-]*["']?\s*[:=]\s*))re" +
               kValue,
           kFlags),
       "$1***"},
  };
  return rules;
}

bool may_contain_keyword(std::string_view text) {
  static constexpr std::array<std::string_view, 8> kTriggers = {
      "://", "authorization", "secret", "token", "pass", "pwd", "signature", "api"};
  const std::string lower = lowercase(text);
  return std::any_of(kTriggers.begin(), kTriggers.end(), [&](std::string_view trigger) {
    return lower.find(trigger) != std::string::npos;
  });
}

}  // namespace

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
  if (may_contain_keyword(out)) {
    for (const auto& rule : redaction_rules()) {
      out = std::regex_replace(out, rule.pattern, rule.replacement);
    }
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
  spdlog::flush_every(std::chrono::seconds(1));
}

}  // namespace dancer::service

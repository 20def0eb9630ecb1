#include "service/config.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>

#include "common/strings.h"
#include "common/subject_height.h"

extern char** environ;

namespace dancer::service {
namespace {

std::string trim(std::string_view s) {
  auto begin = s.find_first_not_of(" \t\r\n");
  if (begin == std::string_view::npos) return {};
  auto end = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(begin, end - begin + 1));
}

std::string lower(std::string_view s) { return common::ascii_lower(s); }

class Reader {
 public:
  explicit Reader(const Environment& env) : env_(env) {}

  std::optional<std::string> raw(const std::string& name) const {
    auto it = env_.find(name);
    if (it == env_.end() || it->second.empty()) return std::nullopt;
    return it->second;
  }

  std::string string(const std::string& name, const std::string& fallback) const {
    return raw(name).value_or(fallback);
  }

  long long integer(const std::string& name, long long fallback, long long min,
                    long long max) const {
    auto value = raw(name);
    if (!value) return fallback;
    std::string text = trim(*value);
    long long parsed = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), parsed);
    if (ec == std::errc::result_out_of_range && end == text.data() + text.size()) {
      throw ConfigError(name, "must be between " + std::to_string(min) + " and " +
                                  std::to_string(max) + ", got " + text);
    }
    if (ec != std::errc() || end != text.data() + text.size()) {
      throw ConfigError(name, "expected an integer, got \"" + *value + "\"");
    }
    if (parsed < min || parsed > max) {
      throw ConfigError(name, "must be between " + std::to_string(min) + " and " +
                                  std::to_string(max) + ", got " + text);
    }
    return parsed;
  }

  bool boolean(const std::string& name, bool fallback) const {
    auto value = raw(name);
    if (!value) return fallback;
    std::string v = lower(trim(*value));
    if (v == "true" || v == "1" || v == "yes" || v == "on") return true;
    if (v == "false" || v == "0" || v == "no" || v == "off") return false;
    throw ConfigError(name, "expected true or false, got \"" + *value + "\"");
  }

  // Plain bytes or a binary suffix (500M, 10G, 64K), within [min, max]. A value whose
  // multiplication by the suffix would wrap (16777216T is 2^64) is rejected, not wrapped.
  std::uint64_t byte_size(const std::string& name, std::uint64_t fallback, std::uint64_t min = 1,
                          std::uint64_t max = std::numeric_limits<std::uint64_t>::max()) const {
    auto value = raw(name);
    if (!value) return fallback;
    // Accepts plain bytes or a binary suffix: 500M, 10G, 64K.
    std::string text = trim(*value);
    std::uint64_t multiplier = 1;
    if (!text.empty()) {
      switch (std::toupper(static_cast<unsigned char>(text.back()))) {
        case 'K':
          multiplier = 1ull << 10;
          break;
        case 'M':
          multiplier = 1ull << 20;
          break;
        case 'G':
          multiplier = 1ull << 30;
          break;
        case 'T':
          multiplier = 1ull << 40;
          break;
        default:
          break;
      }
      if (multiplier != 1) text.pop_back();
    }
    std::uint64_t parsed = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), parsed);
    std::uint64_t bytes = 0;
    const bool complete = end == text.data() + text.size() && !text.empty();
    if (complete && (ec == std::errc::result_out_of_range ||
                     (ec == std::errc() && __builtin_mul_overflow(parsed, multiplier, &bytes)))) {
      throw ConfigError(name, "\"" + *value + "\" does not fit in 64 bits");
    }
    if (ec != std::errc() || !complete) {
      throw ConfigError(name,
                        "expected a size in bytes (e.g. 2147483648 or 2G), got \"" + *value + "\"");
    }
    if (bytes < min || bytes > max) {
      throw ConfigError(name, "must be between " + std::to_string(min) + " and " +
                                  std::to_string(max) + " bytes, got \"" + *value + "\"");
    }
    return bytes;
  }

  std::string url(const std::string& name) const {
    auto value = raw(name);
    if (!value) return {};
    std::string v = trim(*value);
    if (v.rfind("http://", 0) != 0 && v.rfind("https://", 0) != 0) {
      throw ConfigError(name, "expected an http:// or https:// URL");
    }
    while (v.size() > 8 && v.back() == '/') v.pop_back();
    return v;
  }

 private:
  const Environment& env_;
};

}  // namespace

Environment parse_dotenv(const std::string& text, const std::string& source_name) {
  Environment env;
  std::istringstream lines(text);
  std::string line;
  int number = 0;
  while (std::getline(lines, line)) {
    ++number;
    std::string t = trim(line);
    if (t.empty() || t[0] == '#') continue;
    if (t.rfind("export ", 0) == 0) t = trim(t.substr(7));
    auto eq = t.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw ConfigError(source_name + ":" + std::to_string(number), "expected KEY=VALUE");
    }
    std::string key = trim(t.substr(0, eq));
    std::string value = trim(t.substr(eq + 1));
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
        value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    } else {
      // Unquoted values may carry a trailing " # comment".
      auto hash = value.find(" #");
      if (hash != std::string::npos) value = trim(value.substr(0, hash));
    }
    env[key] = value;
  }
  return env;
}

Environment load_environment(const std::filesystem::path& dotenv_path) {
  Environment env;
  std::error_code ec;
  if (std::filesystem::is_regular_file(dotenv_path, ec)) {
    std::ifstream in(dotenv_path);
    std::stringstream text;
    text << in.rdbuf();
    env = parse_dotenv(text.str(), dotenv_path.string());
  }
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view kv(*entry);
    auto eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    env[std::string(kv.substr(0, eq))] = std::string(kv.substr(eq + 1));
  }
  return env;
}

ServiceConfig load_config(const Environment& env) {
  Reader r(env);
  ServiceConfig c;
  c.region = r.string("AWS_REGION", r.string("AWS_DEFAULT_REGION", defaults::kRegion));

  const std::string common_endpoint = r.url("AWS_ENDPOINT_URL");
  c.sqs.region = c.region;
  c.sqs.endpoint = r.url("AWS_ENDPOINT_URL_SQS");
  if (c.sqs.endpoint.empty()) c.sqs.endpoint = common_endpoint;
  c.s3.region = c.region;
  c.s3.endpoint = r.url("AWS_ENDPOINT_URL_S3");
  if (c.s3.endpoint.empty()) c.s3.endpoint = common_endpoint;
  c.s3.force_path_style = r.boolean("S3_FORCE_PATH_STYLE", false);
  c.s3.part_size = r.byte_size("S3_PART_SIZE", c.s3.part_size);
  c.s3.parallel_parts =
      static_cast<int>(r.integer("S3_PARALLEL_PARTS", c.s3.parallel_parts, 1, 64));

  c.queue.queue_url = r.url("SQS_QUEUE_URL");
  c.queue.queue_name = r.string("SQS_QUEUE_NAME", defaults::kQueueName);
  c.queue.wait_time_seconds =
      static_cast<int>(r.integer("SQS_WAIT_TIME", defaults::kSqsWaitTimeSeconds, 0, 20));
  // SQS allows 0 .. 43200 s (12 hours) for a visibility timeout.
  c.queue.visibility_timeout_seconds = static_cast<int>(
      r.integer("SQS_VISIBILITY_TIMEOUT", defaults::kSqsVisibilityTimeoutSeconds, 1, 43200));
  c.queue.max_receive_count =
      static_cast<int>(r.integer("MAX_RECEIVE_COUNT", defaults::kMaxReceiveCount, 1, 1000));
  c.queue.dead_letter_queue_url = r.url("DEAD_LETTER_QUEUE_URL");
  c.queue.retry_base_delay_seconds =
      static_cast<int>(r.integer("RETRY_BASE_DELAY", defaults::kRetryBaseDelaySeconds, 0, 43200));
  c.queue.retry_max_delay_seconds =
      static_cast<int>(r.integer("RETRY_MAX_DELAY", defaults::kRetryMaxDelaySeconds, 0, 43200));

  c.storage.bucket = r.string("S3_BUCKET", defaults::kBucket);
  // Unset: the default prefix. Set but empty: no prefix, every key of the bucket.
  auto prefix = env.find("S3_PREFIX");
  c.storage.prefix = prefix == env.end() ? defaults::kPrefix : prefix->second;
  c.storage.max_file_size_bytes = r.byte_size("MAX_FILE_SIZE", defaults::kMaxFileSizeBytes);
  c.storage.results_prefix = r.string("RESULTS_PREFIX", "");

  c.analysis.command = r.string("ANALYSIS_COMMAND", "");
  c.analysis.timeout_seconds =
      static_cast<int>(r.integer("ANALYSIS_TIMEOUT", defaults::kAnalysisTimeoutSeconds, 1, 43200));
  c.analysis.memory_limit_mb = static_cast<std::uint64_t>(
      r.integer("ANALYSIS_MEMORY_LIMIT_MB", defaults::kAnalysisMemoryLimitMb, 64, 1 << 20));
  if (const auto height = r.raw("SUBJECT_HEIGHT_M")) {
    c.analysis.subject_height_m = common::parse_subject_height_m(*height);
    if (!c.analysis.subject_height_m) {
      throw ConfigError("SUBJECT_HEIGHT_M",
                        "expected a height in metres between 0.5 and 2.5 "
                        "(e.g. 1.72), got \"" +
                            common::subject_height_excerpt(*height) + "\"");
    }
  }
  c.analysis.analyzer = lower(trim(r.string("ANALYZER", defaults::kAnalyzer)));
  if (c.analysis.analyzer != "pose" && c.analysis.analyzer != "gait" &&
      c.analysis.analyzer != "placeholder") {
    throw ConfigError("ANALYZER",
                      "expected pose, gait or placeholder, got \"" + c.analysis.analyzer + "\"");
  }
  c.analysis.pose_model = lower(trim(r.string("POSE_MODEL", defaults::kPoseModel)));
  if (c.analysis.pose_model != "lite" && c.analysis.pose_model != "full" &&
      c.analysis.pose_model != "heavy") {
    throw ConfigError("POSE_MODEL",
                      "expected lite, full or heavy, got \"" + c.analysis.pose_model + "\"");
  }
  c.analysis.pose_model_dir = r.string("POSE_MODEL_DIR", "");
  c.analysis.threads = static_cast<int>(r.integer("ANALYSIS_THREADS", 0, 0, 64));
  c.analysis.overlay_video = r.boolean("OVERLAY_VIDEO", true);
  c.analysis.fork_server = r.boolean("ANALYSIS_FORK_SERVER", true);
  c.proxy.enabled = r.boolean("PROXY_ENABLED", true);
  c.proxy.max_height = static_cast<int>(r.integer("PROXY_MAX_HEIGHT", 720, 144, 2160));
  c.analysis.max_duration_seconds = static_cast<int>(
      r.integer("ANALYSIS_MAX_DURATION", defaults::kAnalysisMaxDurationSeconds, 1, 86400));
  c.analysis.max_frames =
      r.integer("ANALYSIS_MAX_FRAMES", defaults::kAnalysisMaxFrames, 1, 100'000'000);
  c.analysis.artifact_max_bytes =
      r.byte_size("ARTIFACT_MAX_BYTES", defaults::kArtifactMaxBytes, 1 << 20, 64ull << 30);

  c.download_dir = r.string("DOWNLOAD_DIR", defaults::kDownloadDir);
  c.report_dir = r.string("REPORT_DIR", defaults::kReportDir);
  if (const auto mode = r.raw("REPORT_FILE_MODE")) {
    c.report_file_mode = parse_report_file_mode(*mode);
  }
  c.download_dir_max_bytes = r.byte_size("DOWNLOAD_DIR_MAX_BYTES", 0, 0);  // 0: no cap
  c.download_dir_min_free_bytes =
      r.byte_size("DOWNLOAD_DIR_MIN_FREE", defaults::kDownloadDirMinFreeBytes, 0);

  c.probe.max_streams =
      static_cast<int>(r.integer("PROBE_MAX_STREAMS", defaults::kProbeMaxStreams, 1, 1024));
  // FFmpeg itself refuses frames of (w+128)*(h+128) >= INT_MAX/8 (av_image_check_size2).
  c.probe.max_frame_pixels = static_cast<std::uint64_t>(
      r.integer("PROBE_MAX_FRAME_PIXELS", static_cast<long long>(defaults::kProbeMaxFramePixels), 1,
                16384LL * 16384));
  c.probe.max_index_entries = static_cast<std::uint64_t>(
      r.integer("PROBE_MAX_INDEX_ENTRIES", static_cast<long long>(defaults::kProbeMaxIndexEntries),
                1, 1'000'000'000));
  c.probe.timeout_seconds =
      static_cast<int>(r.integer("PROBE_TIMEOUT", defaults::kProbeTimeoutSeconds, 1, 3600));
  c.probe.memory_limit_mb = static_cast<std::uint64_t>(r.integer(
      "PROBE_MEMORY_LIMIT_MB", static_cast<long long>(defaults::kProbeMemoryLimitMb), 64, 1 << 20));
  c.metadata_max_bytes =
      r.byte_size("METADATA_MAX_BYTES", defaults::kMetadataMaxBytes, 4096, 64ull << 20);
  c.max_workers = static_cast<int>(r.integer("MAX_WORKERS", defaults::kMaxWorkers, 1, 256));
  c.cleanup_after_processing =
      r.boolean("CLEANUP_AFTER_PROCESSING", defaults::kCleanupAfterProcessing);
  c.database_url = r.string("DATABASE_URL", defaults::kDatabaseUrl);
  if (c.database_url.rfind("sqlite://", 0) != 0 && c.database_url.rfind("postgresql://", 0) != 0 &&
      c.database_url.rfind("postgres://", 0) != 0) {
    throw ConfigError("DATABASE_URL", "expected sqlite:///path.db or postgresql://...");
  }
  c.database_busy_timeout = std::chrono::seconds(
      r.integer("DATABASE_BUSY_TIMEOUT", defaults::kDatabaseBusyTimeoutSeconds, 0, 3600));
  c.log_level = r.string("LOG_LEVEL", defaults::kLogLevel);
  {
    const std::string level = lower(c.log_level);
    static const char* kLevels[] = {"trace", "debug", "info",     "warning",
                                    "warn",  "error", "critical", "off"};
    if (std::none_of(std::begin(kLevels), std::end(kLevels),
                     [&](const char* l) { return level == l; })) {
      throw ConfigError("LOG_LEVEL", "expected DEBUG, INFO, WARNING, ERROR or CRITICAL, got \"" +
                                         c.log_level + "\"");
    }
  }
  c.log_format = lower(r.string("LOG_FORMAT", defaults::kLogFormat));
  if (c.log_format != "text" && c.log_format != "json") {
    throw ConfigError("LOG_FORMAT", "expected text or json");
  }
  // LOG_FILE may be set to an empty string to disable the file; absent means the default.
  auto log_file = env.find("LOG_FILE");
  c.log_file = log_file == env.end() ? defaults::kLogFile : log_file->second;
  c.shutdown_timeout_seconds =
      static_cast<int>(r.integer("SHUTDOWN_TIMEOUT", defaults::kShutdownTimeoutSeconds, 0, 3600));
  c.health_port = static_cast<int>(r.integer("HEALTH_PORT", defaults::kHealthPort, 0, 65535));
  c.health_port_explicit = r.raw("HEALTH_PORT").has_value();
  c.stats_interval_seconds =
      static_cast<int>(r.integer("STATS_INTERVAL", defaults::kStatsIntervalSeconds, 1, 86400));

  // The credential chain reads AWS_* (and HOME for ~/.aws); keep them apart from the rest.
  for (const auto& [key, value] : env) {
    if ((key.rfind("AWS_", 0) == 0 || key == "HOME") && !value.empty()) {
      c.aws_environment[key] = value;
    }
  }
  return c;
}

unsigned parse_report_file_mode(const std::string& text) {
  const std::string octal = trim(text);
  unsigned mode = 0;
  const auto [end, ec] = std::from_chars(octal.data(), octal.data() + octal.size(), mode, 8);
  if (octal.empty() || octal.size() > 4 || ec != std::errc() ||
      end != octal.data() + octal.size()) {
    throw ConfigError("REPORT_FILE_MODE",
                      "expected an octal file mode such as 0640, got \"" + text + "\"");
  }
  const auto refuse = [&](const std::string& why) {
    throw ConfigError("REPORT_FILE_MODE", octal + " " + why);
  };
  // Reports are data: an execute bit would make them runnable, set-id and sticky bits mean
  // nothing for them, and world-write would let anyone on the machine change a clinical report.
  if ((mode & 07000) != 0) refuse("sets a set-user-id, set-group-id or sticky bit");
  if ((mode & 0111) != 0) refuse("gives execute permission (directories get it from read)");
  if ((mode & 0002) != 0) refuse("lets every user write the reports");
  // The service writes them again when a job is retried.
  if ((mode & 0600) != 0600) refuse("must let the owner read and write (0600)");
  return mode;
}

unsigned report_dir_mode(unsigned file_mode) { return file_mode | ((file_mode & 0444) >> 2); }

}  // namespace dancer::service

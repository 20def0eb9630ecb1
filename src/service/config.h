// Service configuration: the seed's environment variables (names and defaults kept),
// read once at start-up from the environment and from `.env` in the working directory
// (the environment wins). config.env.example documents every variable.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>

#include "aws/s3_client.h"
#include "aws/sqs_client.h"

namespace dancer::service {

namespace defaults {
inline constexpr const char* kRegion = "us-east-1";
inline constexpr const char* kQueueName = "dancer-processing-queue";
inline constexpr const char* kBucket = "dancer-uploads";
inline constexpr const char* kPrefix = "uploads/";
inline constexpr const char* kDownloadDir = "./temp_downloads";
inline constexpr const char* kReportDir = "./reports";
// Group-readable, so a web backend in the service's group can serve the reports; never
// world-readable unless REPORT_FILE_MODE says so.
inline constexpr unsigned kReportFileMode = 0640;
inline constexpr int kMaxWorkers = 2;
inline constexpr bool kCleanupAfterProcessing = true;
inline constexpr int kSqsWaitTimeSeconds = 20;  // SQS maximum long poll
inline constexpr int kSqsVisibilityTimeoutSeconds = 300;
inline constexpr const char* kDatabaseUrl = "sqlite:///./dancer_uploads.db";
inline constexpr const char* kLogLevel = "INFO";
inline constexpr const char* kLogFormat = "text";
inline constexpr const char* kLogFile = "analysis_service.log";
inline constexpr int kMaxReceiveCount = 5;
inline constexpr int kShutdownTimeoutSeconds = 25;  // under Kubernetes' 30 s grace period
inline constexpr int kHealthPort = 8080;
inline constexpr std::uint64_t kMaxFileSizeBytes = 10ull << 30;  // 10 GiB
inline constexpr int kAnalysisTimeoutSeconds = 1800;
inline constexpr std::uint64_t kAnalysisMemoryLimitMb = 4096;
// A clinical walking or dance recording lasts seconds to a few minutes; 10 minutes bounds
// what one upload may cost (about 15 CPU-minutes of pose inference on 2 cores).
inline constexpr int kAnalysisMaxDurationSeconds = 600;
// 10 minutes at the 60 fps ceiling.
inline constexpr std::int64_t kAnalysisMaxFrames = 36'000;
// Frames per second the analysis looks at: event timing within a frame needs 25 fps or more
// and 60 fps halves it again; higher rates (slow-motion recordings at 120 or 240 fps) cost
// two to four times the inference for no gain a 2D pose model can show.
inline constexpr double kAnalysisMaxFps = 60.0;
// Largest file the analysis child may write (RLIMIT_FSIZE) and the service accepts as an
// artifact: a 10-minute verification video at 720p is about 60 MB.
inline constexpr std::uint64_t kArtifactMaxBytes = 512ull << 20;
inline constexpr const char* kAnalyzer = "pose";
inline constexpr const char* kPoseModel = "full";
inline constexpr int kStatsIntervalSeconds = 60;
inline constexpr int kRetryBaseDelaySeconds =
    10;  // first redelivery delay after a transient failure
inline constexpr int kRetryMaxDelaySeconds = 900;
// Longer than the web backend's longest write transaction seen (9 s), short enough that a
// wedged lock shows up as a retried job within a minute.
inline constexpr int kDatabaseBusyTimeoutSeconds = 30;
inline constexpr std::uint64_t kDownloadDirMinFreeBytes = 64ull << 20;  // 64 MiB
inline constexpr int kProbeMaxStreams = 32;
inline constexpr std::uint64_t kProbeMaxFramePixels = 8192ull * 4320;  // 8K UHD: 35389440
// Per stream: 10 h at 120 fps is 4.32 M samples; an AVIndexEntry is 24 bytes, so 5 M entries
// are 120 MB, within PROBE_MEMORY_LIMIT_MB.
inline constexpr std::uint64_t kProbeMaxIndexEntries = 5'000'000;
inline constexpr int kProbeTimeoutSeconds = 30;
inline constexpr std::uint64_t kProbeMemoryLimitMb = 1024;
inline constexpr std::uint64_t kMetadataMaxBytes = 256ull << 10;  // 256 KiB
}  // namespace defaults

// A variable that is present but malformed, or a required one that is missing.
class ConfigError : public std::runtime_error {
 public:
  ConfigError(const std::string& variable, const std::string& problem)
      : std::runtime_error(variable + ": " + problem), variable_(variable) {}
  const std::string& variable() const { return variable_; }

 private:
  std::string variable_;
};

using Environment = std::map<std::string, std::string>;

struct QueueSettings {
  std::string queue_url;  // SQS_QUEUE_URL; empty -> resolved from queue_name with GetQueueUrl
  std::string queue_name = defaults::kQueueName;          // SQS_QUEUE_NAME
  int wait_time_seconds = defaults::kSqsWaitTimeSeconds;  // SQS_WAIT_TIME (0..20)
  int visibility_timeout_seconds =
      defaults::kSqsVisibilityTimeoutSeconds;                       // SQS_VISIBILITY_TIMEOUT
  int max_receive_count = defaults::kMaxReceiveCount;               // MAX_RECEIVE_COUNT
  std::string dead_letter_queue_url;                                // DEAD_LETTER_QUEUE_URL
  int retry_base_delay_seconds = defaults::kRetryBaseDelaySeconds;  // RETRY_BASE_DELAY
  int retry_max_delay_seconds = defaults::kRetryMaxDelaySeconds;    // RETRY_MAX_DELAY
};

struct StorageSettings {
  std::string bucket = defaults::kBucket;  // S3_BUCKET
  // S3_PREFIX: only keys starting with it are processed. Unset: "uploads/". Set to the empty
  // string: no prefix, the whole bucket.
  std::string prefix = defaults::kPrefix;
  std::uint64_t max_file_size_bytes = defaults::kMaxFileSizeBytes;  // MAX_FILE_SIZE
  std::string results_prefix;  // RESULTS_PREFIX: upload reports under it when set
};

struct AnalysisSettings {
  std::string command;  // ANALYSIS_COMMAND: external analyzer, empty -> built-in gait analysis
  int timeout_seconds = defaults::kAnalysisTimeoutSeconds;           // ANALYSIS_TIMEOUT
  std::uint64_t memory_limit_mb = defaults::kAnalysisMemoryLimitMb;  // ANALYSIS_MEMORY_LIMIT_MB
  std::optional<double> subject_height_m;                            // SUBJECT_HEIGHT_M
  // ANALYZER: pose (gait from body keypoints, "pose-gait", in a sandboxed child; the default)
  // | gait (the silhouette analysis, "silhouette-gait", in a sandboxed child) | placeholder
  // (the seed's stand-in: trivial figures from the metadata, in process; for benchmarks).
  std::string analyzer = defaults::kAnalyzer;
  std::string pose_model = defaults::kPoseModel;  // POSE_MODEL: lite | full | heavy
  std::filesystem::path pose_model_dir;           // POSE_MODEL_DIR; empty: the build's models/
  // ANALYSIS_THREADS: inference threads of one pose analysis; 0: the machine's cores shared
  // among MAX_WORKERS.
  int threads = 0;
  // ANALYSIS_MAX_DURATION, ANALYSIS_MAX_FRAMES: an upload whose probed duration or frame count
  // is over these fails before any decoding ("exceeds a safety limit"), and the decoder in
  // the child stops at them too, should the container understate them.
  int max_duration_seconds = defaults::kAnalysisMaxDurationSeconds;
  std::int64_t max_frames = defaults::kAnalysisMaxFrames;
  // ARTIFACT_MAX_BYTES: largest file the child may write (its RLIMIT_FSIZE), checked again
  // by the service on every artifact it publishes.
  std::uint64_t artifact_max_bytes = defaults::kArtifactMaxBytes;
  // OVERLAY_VIDEO: with pose-gait, also write overlay.mp4, the video with the skeleton and the
  // events drawn (a second decoding pass and an H.264 encode at up to 720p).
  bool overlay_video = true;
  // ANALYSIS_FORK_SERVER: fork each probe's and analysis' sandboxed child from one
  // pre-initialised fork server (libraries linked and pose models parsed once, at start-up)
  // instead of executing the program for each; false executes each child afresh.
  bool fork_server = true;
};

// The web-playable copy (proxy.mp4) and poster (poster.jpg) made for every upload with a
// video stream, in a sandboxed child of their own after the analysis (media/proxy.h).
struct ProxySettings {
  bool enabled = true;  // PROXY_ENABLED
  // PROXY_MAX_HEIGHT (144..2160): the picture's largest height after rotation; never scaled
  // up, the width held to 16:9 of it.
  int max_height = 720;
};

// Caps on what probing an untrusted upload may cost (libavformat on hostile input).
struct ProbeSettings {
  int max_streams = defaults::kProbeMaxStreams;                       // PROBE_MAX_STREAMS
  std::uint64_t max_frame_pixels = defaults::kProbeMaxFramePixels;    // PROBE_MAX_FRAME_PIXELS
  std::uint64_t max_index_entries = defaults::kProbeMaxIndexEntries;  // PROBE_MAX_INDEX_ENTRIES
  int timeout_seconds = defaults::kProbeTimeoutSeconds;               // PROBE_TIMEOUT
  std::uint64_t memory_limit_mb = defaults::kProbeMemoryLimitMb;      // PROBE_MEMORY_LIMIT_MB
};

struct ServiceConfig {
  std::string region = defaults::kRegion;  // AWS_REGION (or AWS_DEFAULT_REGION)
  aws::SqsConfig sqs;                      // endpoint: AWS_ENDPOINT_URL_SQS / AWS_ENDPOINT_URL
  aws::S3Config s3;  // endpoint: AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL; S3_FORCE_PATH_STYLE
  QueueSettings queue;
  StorageSettings storage;
  AnalysisSettings analysis;
  ProxySettings proxy;
  std::filesystem::path download_dir = defaults::kDownloadDir;  // DOWNLOAD_DIR
  std::filesystem::path report_dir = defaults::kReportDir;  // REPORT_DIR: HTML reports kept here
  // REPORT_FILE_MODE (octal): mode of the files copied into REPORT_DIR/job-<uuid>/; their
  // directories get report_dir_mode() of it (0640 -> 0750).
  unsigned report_file_mode = defaults::kReportFileMode;
  // DOWNLOAD_DIR_MAX_BYTES: a download that would take DOWNLOAD_DIR over this waits (0: no cap).
  std::uint64_t download_dir_max_bytes = 0;
  // DOWNLOAD_DIR_MIN_FREE: free space to leave on DOWNLOAD_DIR's file system beyond the object
  // being downloaded (0: none).
  std::uint64_t download_dir_min_free_bytes = defaults::kDownloadDirMinFreeBytes;
  ProbeSettings probe;
  // METADATA_MAX_BYTES: cap on the stored metadata_json (see docs/database.md, "Bounds").
  std::uint64_t metadata_max_bytes = defaults::kMetadataMaxBytes;
  int max_workers = defaults::kMaxWorkers;                            // MAX_WORKERS
  bool cleanup_after_processing = defaults::kCleanupAfterProcessing;  // CLEANUP_AFTER_PROCESSING
  std::string database_url = defaults::kDatabaseUrl;                  // DATABASE_URL
  // DATABASE_BUSY_TIMEOUT (0..3600 s): store::StoreOptions::busy_timeout.
  std::chrono::seconds database_busy_timeout{defaults::kDatabaseBusyTimeoutSeconds};
  std::string log_level = defaults::kLogLevel;                       // LOG_LEVEL
  std::string log_format = defaults::kLogFormat;                     // LOG_FORMAT: text | json
  std::string log_file = defaults::kLogFile;                         // LOG_FILE: empty disables
  int shutdown_timeout_seconds = defaults::kShutdownTimeoutSeconds;  // SHUTDOWN_TIMEOUT
  int health_port = defaults::kHealthPort;                           // HEALTH_PORT: 0 disables
  bool health_port_explicit = false;  // HEALTH_PORT was set (not the default)
  int stats_interval_seconds = defaults::kStatsIntervalSeconds;  // STATS_INTERVAL
  Environment aws_environment;  // variables the credential chain reads (AWS_*)
};

// Parses `.env` text: KEY=VALUE lines, '#' comments, optional "export ", optional
// single or double quotes around the value. Throws ConfigError on a malformed line.
Environment parse_dotenv(const std::string& text, const std::string& source_name = ".env");

// The process environment merged over `.env` from `dotenv_path` (if the file exists).
Environment load_environment(const std::filesystem::path& dotenv_path = ".env");

// Validates and converts. Throws ConfigError naming the offending variable.
ServiceConfig load_config(const Environment& env);

// REPORT_FILE_MODE's value: octal ("0640", "640"), with the owner's read and write and no
// execute, set-id, sticky or world-write bit. Throws ConfigError naming REPORT_FILE_MODE.
unsigned parse_report_file_mode(const std::string& text);

// The mode of a directory holding files of `file_mode`: search wherever read is allowed
// (0640 -> 0750, 0600 -> 0700, 0644 -> 0755).
unsigned report_dir_mode(unsigned file_mode);

}  // namespace dancer::service

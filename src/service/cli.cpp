#include "service/cli.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <string_view>

#include "analysis/child_protocol.h"
#include "analysis/outputs.h"
#include "aws/credentials.h"
#include "aws/error.h"
#include "aws/s3_client.h"
#include "aws/sqs_client.h"
#include "aws/uri.h"
#include "common/strings.h"
#include "common/subject_height.h"
#include "media/av_log.h"
#include "media/metadata.h"
#include "service/analysis_runner.h"
#include "service/config.h"
#include "service/events.h"
#include "service/logging.h"
#include "service/report_files.h"
#include "service/results.h"
#include "service/service.h"
#include "store/job_store.h"

#ifndef DANCER_VERSION
#define DANCER_VERSION "0.1.0"
#endif

namespace dancer::service {
namespace {

constexpr int kExitConfigError = 2;

LoggingConfig logging_from(const ServiceConfig& config) {
  LoggingConfig logging;
  logging.level = config.log_level;
  logging.format = config.log_format;
  logging.file = config.log_file;
  return logging;
}

ServiceConfig load_or_explain() { return load_config(load_environment(".env")); }

nlohmann::json run_health(const ServiceConfig& config) {
  nlohmann::json report = {{"service", "dancer-analysis"}, {"version", DANCER_VERSION}};
  bool healthy = true;
  auto credentials = aws::make_default_credentials_chain(config.aws_environment, config.region);
  try {
    aws::SqsClient sqs(config.sqs, credentials);
    std::string url = config.queue.queue_url.empty() ? sqs.get_queue_url(config.queue.queue_name)
                                                     : config.queue.queue_url;
    auto attributes = sqs.get_queue_attributes(
        url, {"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"});
    report["sqs"] = {{"ok", true},
                     {"queue_url", url},
                     {"messages_visible", attributes["ApproximateNumberOfMessages"]},
                     {"messages_in_flight", attributes["ApproximateNumberOfMessagesNotVisible"]}};
  } catch (const std::exception& e) {
    healthy = false;
    report["sqs"] = {{"ok", false}, {"error", e.what()}};
  }
  try {
    auto store = store::open_job_store(config.database_url, job_store_options(config));
    report["database"] = {{"ok", store->ping()},
                          {"url", store::redact_database_url(config.database_url)},
                          {"schema_version", store->schema_version()}};
    healthy = healthy && report["database"]["ok"].get<bool>();
  } catch (const std::exception& e) {
    healthy = false;
    report["database"] = {{"ok", false}, {"error", e.what()}};
  }
  {
    std::error_code ec;
    std::filesystem::create_directories(config.download_dir, ec);
    const bool writable = !ec && ::access(config.download_dir.c_str(), W_OK) == 0;
    auto space = std::filesystem::space(config.download_dir, ec);
    report["download_dir"] = {{"ok", writable},
                              {"path", config.download_dir.string()},
                              {"free_bytes", ec ? 0 : space.available}};
    healthy = healthy && writable;
  }
  report["status"] = healthy ? "healthy" : "unhealthy";
  return report;
}

int send_test_message(const ServiceConfig& config, const std::string& bucket,
                      const std::string& key) {
  auto credentials = aws::make_default_credentials_chain(config.aws_environment, config.region);
  std::int64_t size = -1;
  std::string etag;
  try {
    aws::S3Client s3(config.s3, credentials);
    auto head = s3.head_object(bucket, key);
    size = static_cast<std::int64_t>(head.size);
    etag = head.etag;
  } catch (const aws::AwsError& e) {
    spdlog::warn("HeadObject s3://{}/{} failed ({}); sending the notification without size/ETag",
                 bucket, key, e.what());
  }
  aws::SqsClient sqs(config.sqs, credentials);
  std::string url = config.queue.queue_url.empty() ? sqs.get_queue_url(config.queue.queue_name)
                                                   : config.queue.queue_url;
  std::string id =
      sqs.send_message(url, make_object_created_body(bucket, key, size, etag, config.region));
  std::cout << nlohmann::json{{"message_id", id},
                              {"queue_url", url},
                              {"bucket", bucket},
                              {"key", key}}
                   .dump()
            << std::endl;
  return 0;
}

// The media type a local video's extension suggests (for the FHIR bundle's Media).
std::string video_content_type(const std::filesystem::path& file) {
  static const std::map<std::string, std::string> kTypes = {
      {".mp4", "video/mp4"},   {".m4v", "video/mp4"},        {".mov", "video/quicktime"},
      {".webm", "video/webm"}, {".mkv", "video/x-matroska"}, {".avi", "video/x-msvideo"}};
  const auto it = kTypes.find(common::ascii_lower(file.extension().string()));
  return it == kTypes.end() ? "application/octet-stream" : it->second;
}

// `analyze FILE`: the same sandboxed children the service uses, on a local file.
int analyze(const std::filesystem::path& file, const std::filesystem::path& report_dir,
            std::optional<double> subject_height, const AnalysisSettings& settings,
            const ProxySettings& proxy, unsigned report_file_mode) {
  ServiceConfig config;
  config.analysis = settings;
  config.max_workers = 1;  // one analysis: all the cores (unless ANALYSIS_THREADS says)
  auto runner = make_analysis_runner(config, current_executable());
  nlohmann::json output;
  analysis::AnalysisRequest request;
  const std::filesystem::path video = std::filesystem::absolute(file);
  request.video = video;
  request.subject_height_m = subject_height;
  request.report_dir = report_dir.empty() ? report_dir : std::filesystem::absolute(report_dir);
  request.job.object_name = file.filename().string();
  request.job.video_url = "file://" + aws::uri_encode(video.string(), true);
  request.job.video_content_type = video_content_type(video);
  request.artifacts = {analysis::kStridesArtifact.name, analysis::kFhirArtifact.name};
  if (settings.overlay_video) request.artifacts.push_back(analysis::kOverlayArtifact.name);
  try {
    // REPORT_FILE_MODE, as the service gives REPORT_DIR's files; a directory that exists keeps
    // its mode.
    if (!request.report_dir.empty()) {
      create_report_directories(request.report_dir, report_dir_mode(report_file_mode));
    }
    request.metadata = runner->probe(video, nullptr);
    output["metadata"] = request.metadata;
    analysis::AnalysisResult result = runner->run(request, nullptr);
    for (const auto& artifact : result.artifacts) set_report_file_mode(artifact, report_file_mode);
    output["analysis"] = result.analysis;
    if (result.report_path) output["report_path"] = result.report_path->string();
    for (const auto& artifact : result.artifacts) output["artifacts"].push_back(artifact.string());
    // The web-playable copy and poster, as the service makes them after the analysis; their
    // failure is reported beside the analysis, not instead of it.
    if (proxy.enabled && !request.report_dir.empty()) {
      try {
        const AnalysisRunner::ProxyFiles files =
            runner->make_proxy(video, request.report_dir, proxy.max_height, nullptr);
        for (const auto& artifact : files.files) {
          set_report_file_mode(artifact, report_file_mode);
          output["artifacts"].push_back(artifact.string());
        }
        output["proxy"] = files.summary;
      } catch (const std::exception& e) {
        output["proxy"] = {{"error", e.what()}};
        output["warnings"] = {kProxyFailedWarning};
      }
    }
  } catch (const analysis::child_protocol::ChildReportedMediaError& e) {
    output["metadata"] = {{"fallback", e.details()}, {"probe_error", e.what()}};
    output["error"] = {{"code", media::to_string(e.code())}, {"message", e.what()}};
  } catch (const media::MediaError& e) {
    output["error"] = {{"code", media::to_string(e.code())}, {"message", e.what()}};
  } catch (const analysis::AnalysisError& e) {
    output["error"] = {{"code", analysis::child_protocol::to_string(e.code())},
                       {"message", e.what()}};
  }
  std::cout << output.dump(2) << std::endl;
  return output.contains("error") ? 1 : 0;
}

// `pose FILE`: the body-keypoint track as JSON Lines, one line per frame, computed in the
// same sandboxed child as the service's analysis (the file is untrusted input).
int pose(const std::filesystem::path& file, const std::string& model, int threads,
         const std::string& model_dir) {
  PoseCommandOptions options;
  options.model = model;
  options.threads = threads;
  const char* env_dir = std::getenv("POSE_MODEL_DIR");
  if (!model_dir.empty()) {
    options.model_dir = model_dir;
  } else if (env_dir != nullptr && *env_dir != '\0') {
    options.model_dir = env_dir;
  }
  try {
    const nlohmann::json summary =
        run_pose_in_child(std::filesystem::absolute(file), options, AnalysisSettings{}, std::cout);
    std::cerr << summary.dump() << std::endl;
  } catch (const media::MediaError& e) {
    std::cerr << "pose: " << media::to_string(e.code()) << ": " << e.what() << std::endl;
    return 1;
  } catch (const analysis::AnalysisError& e) {
    std::cerr << "pose: " << analysis::child_protocol::to_string(e.code()) << ": " << e.what()
              << std::endl;
    return 1;
  }
  return 0;
}

}  // namespace

int run_cli(int argc, char** argv) {
  // The sandboxed child that parses untrusted media (analysis_runner.h): nothing else is
  // set up first (no logging thread, no configuration), so it enters its sandbox at once.
  if (argc >= 2 && std::string_view(argv[1]) == "child") {
    return run_child(std::vector<std::string>(argv + 2, argv + argc));
  }
  CLI::App app{"dancer-analysis: gait analysis worker for the DANCER upload queue"};
  app.set_version_flag("--version", std::string("dancer-analysis ") + DANCER_VERSION);
  app.require_subcommand(0, 1);

  auto* run = app.add_subcommand("run", "consume the queue (default)");
  bool until_empty = false;
  run->add_flag("--until-empty", until_empty,
                "exit 0 once the queue has been empty for one long poll and no job runs");

  app.add_subcommand("health", "print a JSON health report; exit 0 when healthy");

  auto* send = app.add_subcommand("send-test-message",
                                  "send an S3 ObjectCreated notification for BUCKET/KEY");
  std::string bucket, key;
  send->add_option("BUCKET", bucket)->required();
  send->add_option("KEY", key)->required();

  auto* analyze_cmd =
      app.add_subcommand("analyze", "metadata and gait analysis of a local file (JSON on stdout)");
  std::string file, report_dir, subject_height;
  analyze_cmd->add_option("FILE", file)->required();
  analyze_cmd->add_option("--report-dir", report_dir,
                          "write report.html, overlay.mp4, strides.csv, fhir.json, proxy.mp4 and "
                          "poster.jpg into this directory");
  analyze_cmd
      ->add_option("--subject-height-m", subject_height,
                   "subject height in metres, 0.5 to 2.5 (e.g. 1.72)")
      ->check(CLI::Validator(
          [](const std::string& text) -> std::string {
            return common::parse_subject_height_m(text)
                       ? std::string()
                       : "expected a height in metres between 0.5 and 2.5 (e.g. 1.72)";
          },
          "METRES"));
  AnalysisSettings analyze_settings;
  analyze_cmd
      ->add_option("--analyzer", analyze_settings.analyzer,
                   "pose (gait from body keypoints, the default) or gait (silhouette)")
      ->check(CLI::IsMember({"pose", "gait"}));
  analyze_cmd
      ->add_option("--model", analyze_settings.pose_model, "BlazePose variant: lite, full, heavy")
      ->check(CLI::IsMember({"lite", "full", "heavy"}));
  analyze_cmd->add_option("--threads", analyze_settings.threads, "inference threads (0: all cores)")
      ->check(CLI::Range(0, 64));
  analyze_cmd->add_flag("!--no-overlay", analyze_settings.overlay_video,
                        "do not write overlay.mp4 (the verification video) into --report-dir");
  ProxySettings analyze_proxy;
  analyze_cmd->add_flag("!--no-proxy", analyze_proxy.enabled,
                        "do not write proxy.mp4 and poster.jpg (the web-playable copy and its "
                        "poster) into --report-dir");
  analyze_cmd->add_option("--model-dir", analyze_settings.pose_model_dir,
                          "directory of the converted models (default: POSE_MODEL_DIR or the "
                          "build's models/)");

  auto* pose_cmd = app.add_subcommand(
      "pose", "body keypoints of a local video as JSON Lines (one line per frame)");
  std::string pose_model = "full", pose_model_dir;
  int pose_threads = 1;
  pose_cmd->add_option("FILE", file)->required();
  pose_cmd->add_option("--model", pose_model, "BlazePose variant: lite, full, heavy");
  pose_cmd->add_option("--threads", pose_threads, "inference threads")->check(CLI::Range(1, 64));
  pose_cmd->add_option("--model-dir", pose_model_dir,
                       "directory of the converted models (default: POSE_MODEL_DIR or the "
                       "build's models/)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  if (analyze_cmd->parsed()) {
    init_logging(LoggingConfig{"WARNING", "text", {}, 0, 0});
    const std::optional<double> height = common::parse_subject_height_m(subject_height);
    unsigned report_file_mode = defaults::kReportFileMode;
    try {
      if (const char* mode = std::getenv("REPORT_FILE_MODE"); mode != nullptr && *mode != '\0') {
        report_file_mode = parse_report_file_mode(mode);
      }
    } catch (const ConfigError& e) {
      std::cerr << "configuration error: " << e.what() << std::endl;
      return kExitConfigError;
    }
    if (analyze_settings.pose_model_dir.empty()) {
      if (const char* env_dir = std::getenv("POSE_MODEL_DIR"); env_dir != nullptr) {
        analyze_settings.pose_model_dir = env_dir;
      }
    }
    return analyze(file, report_dir, height, analyze_settings, analyze_proxy, report_file_mode);
  }

  if (pose_cmd->parsed()) {
    init_logging(LoggingConfig{"WARNING", "text", {}, 0, 0});
    return pose(file, pose_model, pose_threads, pose_model_dir);
  }

  // What the service creates (the SQLite database and its journal, the log, DOWNLOAD_DIR and
  // the videos in it, staged analyses) is readable by its own user only: patients' videos and
  // the jobs' data are nobody else's. REPORT_DIR's files get REPORT_FILE_MODE explicitly.
  ::umask(077);
  ServiceConfig config;
  try {
    config = load_or_explain();
  } catch (const ConfigError& e) {
    std::cerr << "configuration error: " << e.what() << std::endl;
    return kExitConfigError;
  }

  if (app.got_subcommand("health")) {
    init_logging(LoggingConfig{"ERROR", config.log_format, {}, 0, 0});
    nlohmann::json report = run_health(config);
    std::cout << report.dump(2) << std::endl;
    return report["status"] == "healthy" ? 0 : 1;
  }

  if (!send->parsed()) {
    // Block the shutdown signals before any thread exists (logging starts a flusher
    // thread), so every thread inherits the mask and only Service's signal thread takes
    // SIGTERM/SIGINT. A thread without the mask would let the default action kill us.
    sigset_t shutdown_signals;
    sigemptyset(&shutdown_signals);
    sigaddset(&shutdown_signals, SIGTERM);
    sigaddset(&shutdown_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &shutdown_signals, nullptr);
  }
  try {
    init_logging(logging_from(config));
  } catch (const std::exception& e) {
    std::cerr << "configuration error: " << e.what() << std::endl;
    return kExitConfigError;
  }
  // FFmpeg's messages through the logger (rate-limited, redacted), never raw to stderr.
  media::install_av_log_sink(make_av_log_sink());

  try {
    if (send->parsed()) return send_test_message(config, bucket, key);
    // Not dumpable: an analysis child running as the same user (when the service is not
    // root) cannot read this process's environment, memory or descriptors through /proc.
    ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    Service service(config, make_production_dependencies(config));
    return service.run(RunOptions{until_empty});
  } catch (const aws::AwsError& e) {
    spdlog::critical("start-up failed: {} ({})", e.what(), aws::to_string(e.code()));
  } catch (const store::StoreError& e) {
    spdlog::critical("start-up failed: database: {}", e.what());
  } catch (const std::exception& e) {
    spdlog::critical("start-up failed: {}", e.what());
  }
  return 1;
}

}  // namespace dancer::service

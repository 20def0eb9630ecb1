// End to end: the real binary, the local S3+SQS emulator, real videos made by ffmpeg,
// and the job rows it leaves in the database.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "service/events.h"
#include "synthetic_walker/synthetic_walker.h"

#include "common/sha256.h"
#include "store/job_store.h"
#include "support/results_schema.h"
#include "support/service_harness.h"
#include "support/test_support.h"

namespace dancer::testing {
namespace {

using nlohmann::json;

class ServiceEndToEnd : public ::testing::Test {
 protected:
  void SetUp() override {
    auto endpoint = integration_env("DANCER_TEST_AWS_ENDPOINT");
    if (!endpoint) GTEST_SKIP();
    harness_ = std::make_unique<ServiceHarness>(*endpoint);
  }

  ServiceResult run_until_empty(int timeout = 180) {
    ServiceResult r = harness_->run({"run", "--until-empty"}, timeout);
    EXPECT_EQ(r.exit_code, 0) << r.stderr_text << r.stdout_text;
    return r;
  }

  std::unique_ptr<store::JobStore> open_store() {
    return store::open_job_store(harness_->env().at("DATABASE_URL"));
  }

  std::vector<store::Job> jobs() { return open_store()->list_jobs(1000); }

  std::optional<store::Job> job_for(const std::string& key) {
    for (auto& job : jobs()) {
      if (job.object.key == key) return job;
    }
    return std::nullopt;
  }

  // Everything under DOWNLOAD_DIR once the service has exited.
  std::vector<std::string> download_dir_entries() {
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& e :
         std::filesystem::recursive_directory_iterator(harness_->download_dir(), ec)) {
      names.push_back(e.path().string());
    }
    return names;
  }

  std::unique_ptr<ServiceHarness> harness_;
  TempDir media_;
};

json ffprobe(const std::filesystem::path& file) {
  auto r = run_command("ffprobe -v quiet -print_format json -show_format -show_streams " +
                       shell_quote(file.string()));
  return json::parse(r.output);
}

// The contracted fields must equal what ffprobe prints, value and type.
void expect_metadata_matches_ffprobe(const json& ours, const json& reference) {
  static const char* kFormatFields[] = {"format_name", "duration",   "size",
                                        "bit_rate",    "nb_streams", "tags"};
  static const char* kStreamFields[] = {
      "index",     "codec_type", "codec_name",   "profile",        "width",
      "height",    "pix_fmt",    "r_frame_rate", "avg_frame_rate", "duration",
      "nb_frames", "bit_rate",   "sample_rate",  "channels",       "tags"};
  ASSERT_TRUE(ours.contains("format")) << ours.dump();
  for (const char* field : kFormatFields) {
    if (!reference["format"].contains(field)) continue;
    if (std::string(field) == "tags") continue;  // encoder tags compared per key below
    EXPECT_EQ(ours["format"].value(field, json()), reference["format"][field])
        << "format." << field;
  }
  ASSERT_EQ(ours["streams"].size(), reference["streams"].size());
  for (std::size_t i = 0; i < reference["streams"].size(); ++i) {
    const json& expected = reference["streams"][i];
    const json& actual = ours["streams"][i];
    for (const char* field : kStreamFields) {
      if (!expected.contains(field)) continue;
      EXPECT_EQ(actual.value(field, json()), expected[field]) << "streams[" << i << "]." << field;
    }
    if (expected.contains("side_data_list")) {
      ASSERT_TRUE(actual.contains("side_data_list")) << "streams[" << i << "] rotation missing";
      EXPECT_EQ(actual["side_data_list"][0].value("rotation", json()),
                expected["side_data_list"][0].value("rotation", json()));
    }
  }
}

TEST_F(ServiceEndToEnd, ProcessesEveryVideoFormatAndRecordsMetadataEqualToFfprobe) {
  std::map<std::string, std::filesystem::path> uploads;
  for (const char* kind : {"h264_mp4", "hevc_mov", "vp9_webm", "mjpeg_avi", "rotated_mp4"}) {
    auto file = make_test_media(media_.path(), kind, 1.0);
    std::string key = std::string("uploads/") + kind + "/" + file.filename().string();
    harness_->upload_and_notify(file, key);
    uploads[key] = file;
  }
  run_until_empty();
  for (const auto& [key, file] : uploads) {
    auto job = job_for(key);
    ASSERT_TRUE(job) << key;
    EXPECT_EQ(store::to_string(job->status), "completed") << key << ": " << job->error_message;
    EXPECT_EQ(job->retry_count, 0);
    EXPECT_FALSE(job->completed_at.empty());
    EXPECT_EQ(job->object.size_bytes, static_cast<std::int64_t>(std::filesystem::file_size(file)));
    expect_metadata_matches_ffprobe(json::parse(job->metadata_json), ffprobe(file));
    json results = json::parse(job->results_json);
    ASSERT_TRUE(results.contains("analysis")) << results.dump();
    EXPECT_TRUE(results["analysis"].contains("analyzer"));
    EXPECT_TRUE(matches_results_schema(results)) << key;  // docs/results.md
  }
  EXPECT_EQ(harness_->messages_left(), 0);
  EXPECT_TRUE(download_dir_entries().empty());
}

TEST_F(ServiceEndToEnd, BadInputFailsTheJobWithAClearReasonAndLosesNothing) {
  auto audio = make_test_media(media_.path(), "audio_only_m4a");
  auto truncated = make_test_media(media_.path(), "truncated_mp4");
  auto text = make_test_media(media_.path(), "text_as_mp4");
  harness_->upload_and_notify(audio, "uploads/audio.m4a");
  harness_->upload_and_notify(truncated, "uploads/truncated.mp4");
  harness_->upload_and_notify(text, "uploads/text.mp4");
  harness_->send_raw("this is not JSON");
  harness_->send_raw(read_file(test_data("events/s3-test-event.json")));
  run_until_empty();

  auto audio_job = job_for("uploads/audio.m4a");
  ASSERT_TRUE(audio_job);
  EXPECT_EQ(store::to_string(audio_job->status), "failed");
  EXPECT_NE(audio_job->error_message.find("no video stream"), std::string::npos);
  EXPECT_EQ(json::parse(audio_job->metadata_json)["streams"][0]["codec_type"], "audio");

  auto text_job = job_for("uploads/text.mp4");
  ASSERT_TRUE(text_job);
  EXPECT_EQ(store::to_string(text_job->status), "failed");
  EXPECT_NE(text_job->error_message.find("not a readable video"), std::string::npos);
  json fallback = json::parse(text_job->metadata_json)["fallback"];
  EXPECT_EQ(fallback["size"], std::filesystem::file_size(text));
  auto sha = run_command("sha256sum " + shell_quote(text.string())).output.substr(0, 64);
  EXPECT_EQ(fallback["sha256"], sha);

  auto truncated_job = job_for("uploads/truncated.mp4");
  ASSERT_TRUE(truncated_job);
  EXPECT_EQ(store::to_string(truncated_job->status), "failed");
  EXPECT_FALSE(truncated_job->error_message.empty());

  EXPECT_EQ(jobs().size(), 3u);  // the malformed and test messages create no job
  EXPECT_EQ(harness_->messages_left(), 0);
  EXPECT_TRUE(download_dir_entries().empty());
}

TEST_F(ServiceEndToEnd, HostileKeysStayInsideTheDownloadDirectory) {
  auto video = make_test_media(media_.path(), "h264_mp4");
  const std::vector<std::string> keys = {
      "uploads/with space/ünïcödé ✓ walk.mp4", "uploads/../../../../tmp/escape.mp4",
      "uploads/a+b%20c&d=e;$(id).mp4", "uploads/..", "uploads/" + std::string(200, 'x') + ".mp4"};
  for (const auto& key : keys) harness_->upload_and_notify(video, key);
  // Snapshot of the parent: the service may only add DOWNLOAD_DIR, the db and logs.
  run_until_empty();
  for (const auto& key : keys) {
    auto job = job_for(key);
    ASSERT_TRUE(job) << key;
    EXPECT_EQ(store::to_string(job->status), "completed") << key << ": " << job->error_message;
  }
  EXPECT_FALSE(std::filesystem::exists("/tmp/escape.mp4"));
  for (const auto& entry : std::filesystem::directory_iterator(harness_->dir())) {
    const std::string name = entry.path().filename().string();
    EXPECT_TRUE(name == "downloads" || name == "reports" || name.rfind("jobs.db", 0) == 0 ||
                name.rfind("service.log", 0) == 0)
        << "unexpected file " << entry.path();
  }
  EXPECT_TRUE(download_dir_entries().empty());
}

TEST_F(ServiceEndToEnd, DuplicateNotificationsProcessEachObjectVersionOnce) {
  auto video = make_test_media(media_.path(), "h264_mp4");
  harness_->upload_and_notify(video, "uploads/dup.mp4");
  auto head = harness_->s3().head_object(harness_->bucket(), "uploads/dup.mp4");
  // S3 may deliver a notification more than once; an SNS-wrapped copy arrives too.
  std::string body = service::make_object_created_body(harness_->bucket(), "uploads/dup.mp4",
                                                       static_cast<std::int64_t>(head.size),
                                                       head.etag, "us-east-1");
  harness_->send_raw(body);
  harness_->send_raw(json{{"Type", "Notification"}, {"Message", body}}.dump());
  run_until_empty();
  auto all = jobs();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(store::to_string(all[0].status), "completed");
  const std::string completed_at = all[0].completed_at;

  // A later redelivery changes nothing.
  harness_->send_raw(body);
  ServiceResult again = run_until_empty();
  all = jobs();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].completed_at, completed_at);
  EXPECT_EQ(harness_->messages_left(), 0);

  // A new upload of the same key is a new version: processed again.
  auto other = make_test_media(media_.path(), "vp9_webm");
  harness_->upload_and_notify(other, "uploads/dup.mp4");
  run_until_empty();
  EXPECT_EQ(jobs().size(), 2u);
}

TEST_F(ServiceEndToEnd, EventsOutsideTheBucketOrPrefixAreNotFetched) {
  auto video = make_test_media(media_.path(), "h264_mp4");
  harness_->s3().put_object(harness_->bucket(), "elsewhere/clip.mp4", video, "video/mp4");
  harness_->send_raw(service::make_object_created_body(harness_->bucket(), "elsewhere/clip.mp4", 10,
                                                       "e", "us-east-1"));
  harness_->send_raw(service::make_object_created_body("someone-elses-bucket", "uploads/clip.mp4",
                                                       10, "e", "us-east-1"));
  run_until_empty();
  EXPECT_TRUE(jobs().empty());
  EXPECT_EQ(harness_->messages_left(), 0);
}

TEST_F(ServiceEndToEnd, SigtermReturnsUnfinishedMessagesAndTheNextRunCompletesThem) {
  auto video = make_test_media(media_.path(), "h264_mp4");
  harness_->upload_and_notify(video, "uploads/slow.mp4");
  // An analysis that outlives the shutdown timeout.
  auto script = media_ / "slow.sh";
  std::ofstream(script) << "#!/bin/sh\nsleep 30\necho '{}'\n";
  std::filesystem::permissions(script, std::filesystem::perms::owner_all);
  harness_->env()["ANALYSIS_COMMAND"] = script.string();
  harness_->env()["SHUTDOWN_TIMEOUT"] = "1";
  harness_->env()["SQS_WAIT_TIME"] = "20";  // a long poll must not delay shutdown
  // The abandoned long poll may still be answered by the server with the returned
  // message (SQS semantics for a cancelled ReceiveMessage): it then reappears after the
  // visibility timeout, so keep that short here.
  harness_->env()["SQS_VISIBILITY_TIMEOUT"] = "5";
  auto log = harness_->dir() / "sigterm.log";
  pid_t pid = harness_->spawn({"run"}, log);
  // Wait until the job is running.
  bool running = false;
  for (int i = 0; i < 300 && !running; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto job = job_for("uploads/slow.mp4");
    running = job && !job->metadata_json.empty();
  }
  ASSERT_TRUE(running) << read_file(log);
  kill(pid, SIGTERM);
  EXPECT_EQ(ServiceHarness::wait_for(pid, 20), 0) << read_file(log);
  auto job = job_for("uploads/slow.mp4");
  ASSERT_TRUE(job);
  EXPECT_EQ(store::to_string(job->status), "processing");
  EXPECT_EQ(harness_->messages_left(), 1);  // returned, not deleted

  harness_->env().erase("ANALYSIS_COMMAND");
  harness_->env()["SQS_WAIT_TIME"] = "10";  // longer than the visibility timeout
  ServiceResult second = run_until_empty();
  job = job_for("uploads/slow.mp4");
  ASSERT_TRUE(job);
  EXPECT_EQ(store::to_string(job->status), "completed") << job->error_message << "\n"
                                                        << read_file(log) << second.stderr_text;
  EXPECT_EQ(harness_->messages_left(), 0);
}

TEST_F(ServiceEndToEnd, MalformedConfigurationStopsStartUpWithOneClearLine) {
  harness_->env()["MAX_WORKERS"] = "lots";
  ServiceResult r = harness_->run({"run", "--until-empty"}, 30);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.stderr_text.find("MAX_WORKERS"), std::string::npos) << r.stderr_text;
  EXPECT_EQ(std::count(r.stderr_text.begin(), r.stderr_text.end(), '\n'), 1) << r.stderr_text;
}

TEST_F(ServiceEndToEnd, HealthAndSendTestMessageAndAnalyze) {
  ServiceResult health = harness_->run({"health"}, 30);
  EXPECT_EQ(health.exit_code, 0) << health.stdout_text << health.stderr_text;
  json report = json::parse(health.stdout_text);
  EXPECT_EQ(report["status"], "healthy");
  EXPECT_EQ(report["sqs"]["ok"], true);
  EXPECT_EQ(report["database"]["ok"], true);

  auto video = make_test_media(media_.path(), "h264_mp4");
  harness_->s3().put_object(harness_->bucket(), "uploads/sent.mp4", video, "video/mp4");
  ServiceResult sent =
      harness_->run({"send-test-message", harness_->bucket(), "uploads/sent.mp4"}, 30);
  EXPECT_EQ(sent.exit_code, 0) << sent.stderr_text;
  run_until_empty();
  auto job = job_for("uploads/sent.mp4");
  ASSERT_TRUE(job);
  EXPECT_EQ(store::to_string(job->status), "completed") << job->error_message;

  ServiceResult analyzed = harness_->run({"analyze", video.string()}, 120);
  EXPECT_EQ(analyzed.exit_code, 0) << analyzed.stderr_text;
  json out = json::parse(analyzed.stdout_text);
  expect_metadata_matches_ffprobe(out["metadata"], ffprobe(video));
  EXPECT_TRUE(out["analysis"].contains("analyzer"));

  // Unreachable SQS: unhealthy, exit 1.
  harness_->env()["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9";
  ServiceResult down = harness_->run({"health"}, 60);
  EXPECT_EQ(down.exit_code, 1) << down.stdout_text;
  EXPECT_EQ(json::parse(down.stdout_text)["status"], "unhealthy");
}

TEST_F(ServiceEndToEnd, SecretsNeverReachTheLogs) {
  harness_->env()["AWS_SECRET_ACCESS_KEY"] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY";
  harness_->env()["AWS_SESSION_TOKEN"] = "FwoGZXIvYXdzEXAMPLESESSIONTOKEN";
  auto video = make_test_media(media_.path(), "h264_mp4");
  harness_->upload_and_notify(video, "uploads/secret.mp4");
  ServiceResult r = run_until_empty();
  const std::string log =
      read_file(harness_->dir() / "service.log") + r.stderr_text + r.stdout_text;
  EXPECT_FALSE(log.empty());
  EXPECT_EQ(log.find("wJalrXUtnFEMI"), std::string::npos);
  EXPECT_EQ(log.find("FwoGZXIvYXdzEXAMPLESESSIONTOKEN"), std::string::npos);
}

}  // namespace
}  // namespace dancer::testing

namespace dancer::testing {
namespace {

TEST_F(ServiceEndToEnd, RealGaitResultAndReportReachTheDatabaseAndS3) {
  analysis::SyntheticWalkSpec spec;
  spec.cadence_steps_per_min = 105;
  spec.width = 640;
  spec.height = 360;
  auto video = media_ / "walk.mp4";
  const auto truth = analysis::render_synthetic_walk(spec, video);
  harness_->env()["RESULTS_PREFIX"] = "results/";
  harness_->env()["SUBJECT_HEIGHT_M"] = "1.70";
  // The silhouette analyzer, still selectable: the synthetic walker is a silhouette.
  harness_->env()["ANALYZER"] = "gait";
  harness_->upload_and_notify(video, "uploads/patient 7/walk.mp4");
  run_until_empty();
  auto job = job_for("uploads/patient 7/walk.mp4");
  ASSERT_TRUE(job);
  ASSERT_EQ(store::to_string(job->status), "completed") << job->error_message;
  const json results = json::parse(job->results_json);
  EXPECT_TRUE(matches_results_schema(results));  // docs/results.md
  json analysis = results["analysis"];
  EXPECT_EQ(analysis["analyzer"]["name"], "silhouette-gait");
  EXPECT_EQ(analysis["person_detected"], true);
  EXPECT_NEAR(analysis["cadence_steps_per_min"].get<double>(), truth.cadence_steps_per_min, 3.0);
  EXPECT_EQ(analysis["walking_direction"], truth.walking_direction);
  EXPECT_GE(analysis["step_count"].get<int>(), 3);
  EXPECT_TRUE(
      analysis.contains("speed_m_per_s"));  // SUBJECT_HEIGHT_M turns body heights into metres

  // The HTML report went to S3 under RESULTS_PREFIX, and the row says where.
  const std::string prefix = "s3://" + harness_->bucket() + "/";
  ASSERT_EQ(job->report_location.rfind(prefix + "results/", 0), 0u) << job->report_location;
  const std::string report_key = job->report_location.substr(prefix.size());
  auto report = harness_->s3().head_object(harness_->bucket(), report_key);
  EXPECT_GT(report.size, 1000u);
  EXPECT_NE(report.content_type.find("text/html"), std::string::npos);
  // The silhouette analyzer's job has the web-playable copy and poster too (issue 19).
  std::set<std::string> names;
  for (const json& artifact : results["artifacts"]) names.insert(artifact["name"]);
  EXPECT_TRUE(names.count("proxy.mp4") && names.count("poster.jpg")) << results["artifacts"];
}

// Issue 19: a web-playable copy and a poster for every upload, gait or not. With the
// placeholder analyzer (in process, no media parsed by the service) the proxy still comes from
// the sandboxed child; both are uploaded, listed, and are what they claim to be.
TEST_F(ServiceEndToEnd, EveryUploadGetsAWebPlayableProxyAndAPosterInS3) {
  const auto video = media_ / "phone.mov";
  ASSERT_EQ(run_command("ffmpeg -nostdin -hide_banner -loglevel error -y -f lavfi -i "
                        "testsrc2=size=1920x1080:rate=30:duration=3 -f lavfi -i "
                        "sine=frequency=440:sample_rate=48000:duration=3 -c:v libx264 -preset "
                        "ultrafast -pix_fmt yuv420p -c:a aac -shortest " +
                        shell_quote(video.string()))
                .exit_code,
            0);
  harness_->env()["RESULTS_PREFIX"] = "results/";
  harness_->env()["ANALYZER"] = "placeholder";
  harness_->upload_and_notify(video, "uploads/phone.mov");
  run_until_empty();
  auto job = job_for("uploads/phone.mov");
  ASSERT_TRUE(job);
  ASSERT_EQ(store::to_string(job->status), "completed") << job->error_message;
  const json results = json::parse(job->results_json);
  EXPECT_TRUE(matches_results_schema(results));
  EXPECT_TRUE(results["processing"]["proxy_s"].is_number());
  EXPECT_FALSE(results["processing"].contains("warnings")) << results["processing"].dump();
  const std::string bucket_prefix = "s3://" + harness_->bucket() + "/";
  std::map<std::string, std::filesystem::path> downloaded;
  TempDir downloads;
  for (const json& artifact : results["artifacts"]) {
    const std::string name = artifact["name"];
    const std::string key = artifact["location"].get<std::string>().substr(bucket_prefix.size());
    EXPECT_EQ(key, "results/job-" + job->job_uuid + "/" + name);
    const auto local = downloads / name;
    const aws::ObjectInfo stored = harness_->s3().download_to_file(harness_->bucket(), key, local);
    EXPECT_EQ(stored.content_type, artifact["content_type"]) << name;
    EXPECT_EQ(artifact["sha256"], common::sha256_file(local).sha256) << name;
    downloaded[name] = local;
  }
  ASSERT_EQ(downloaded.size(), 2u) << results["artifacts"].dump();
  ASSERT_TRUE(downloaded.count("proxy.mp4"));
  ASSERT_TRUE(downloaded.count("poster.jpg"));

  const json proxy = ffprobe(downloaded["proxy.mp4"]);
  EXPECT_NE(proxy["format"]["format_name"].get<std::string>().find("mp4"), std::string::npos);
  std::map<std::string, json> streams;
  for (const json& stream : proxy["streams"]) streams[stream["codec_type"]] = stream;
  ASSERT_EQ(streams.count("video"), 1u);
  ASSERT_EQ(streams.count("audio"), 1u);
  EXPECT_EQ(streams["video"]["codec_name"], "h264");
  EXPECT_EQ(streams["video"]["pix_fmt"], "yuv420p");
  EXPECT_EQ(streams["video"]["width"], 1280);
  EXPECT_EQ(streams["video"]["height"], 720);
  EXPECT_EQ(streams["audio"]["codec_name"], "aac");
  EXPECT_NEAR(std::stod(proxy["format"]["duration"].get<std::string>()), 3.0, 0.05);
  const auto boxes = mp4_top_level_boxes(downloaded["proxy.mp4"]);
  const auto at = [&boxes](const char* type) {
    return std::find(boxes.begin(), boxes.end(), type) - boxes.begin();
  };
  EXPECT_LT(at("moov"), at("mdat")) << "not faststart";

  const json poster = ffprobe(downloaded["poster.jpg"]);
  ASSERT_EQ(poster["streams"].size(), 1u);
  EXPECT_EQ(poster["streams"][0]["codec_name"], "mjpeg");
  EXPECT_EQ(poster["streams"][0]["width"], 1280);
  EXPECT_EQ(poster["streams"][0]["height"], 720);
}

TEST_F(ServiceEndToEnd, ObjectsOverMaxFileSizeAreRejectedBeforeDownload) {
  auto video = make_test_media(media_.path(), "h264_mp4");
  harness_->env()["MAX_FILE_SIZE"] = "1K";
  harness_->upload_and_notify(video, "uploads/big.mp4");
  run_until_empty();
  auto job = job_for("uploads/big.mp4");
  ASSERT_TRUE(job);
  EXPECT_EQ(store::to_string(job->status), "failed");
  EXPECT_NE(job->error_message.find("MAX_FILE_SIZE"), std::string::npos) << job->error_message;
  EXPECT_EQ(harness_->messages_left(), 0);
}

TEST_F(ServiceEndToEnd, HealthEndpointsServeProbesAndMetrics) {
  const int port = [] {
    auto r = run_command(
        "python3 -c 'import socket; s=socket.socket(); s.bind((\"127.0.0.1\",0)); "
        "print(s.getsockname()[1])'");
    return std::stoi(r.output);
  }();
  harness_->env()["HEALTH_PORT"] = std::to_string(port);
  auto video = make_test_media(media_.path(), "h264_mp4");
  harness_->upload_and_notify(video, "uploads/probe.mp4");
  auto log = harness_->dir() / "health.log";
  pid_t pid = harness_->spawn({"run"}, log);
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  auto get = [&](const std::string& path) {
    return run_command("curl -s -o /dev/stdout -w '\\n%{http_code}' " + base + path).output;
  };
  bool processed = false;
  for (int i = 0; i < 300 && !processed; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    processed = get("/metrics").find("dancer_messages_processed_total 1") != std::string::npos;
  }
  EXPECT_TRUE(processed) << get("/metrics") << read_file(log);
  const std::string healthz = get("/healthz");
  const std::string readyz = get("/readyz");
  const std::string metrics = get("/metrics");
  kill(pid, SIGTERM);
  EXPECT_EQ(ServiceHarness::wait_for(pid, 30), 0) << read_file(log);
  EXPECT_EQ(healthz.substr(healthz.size() - 3), "200") << healthz;
  EXPECT_EQ(readyz.substr(readyz.size() - 3), "200") << readyz;
  EXPECT_NE(readyz.find("\"database\":true"), std::string::npos) << readyz;
  EXPECT_NE(metrics.find("dancer_bytes_downloaded_total " +
                         std::to_string(std::filesystem::file_size(video))),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("dancer_job_duration_seconds_count 1"), std::string::npos) << metrics;
}

}  // namespace
}  // namespace dancer::testing

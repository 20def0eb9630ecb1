#include "service/processor.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "analysis/analyzer.h"
#include "aws/error.h"
#include "media/metadata.h"
#include "service/events.h"
#include "support/fakes.h"
#include "support/results_schema.h"
#include "support/test_support.h"

namespace dancer::service {
namespace {

ClassifiedFailure classify(const std::function<void()>& thrower) {
  try {
    thrower();
  } catch (...) {
    return classify_current_exception();
  }
  ADD_FAILURE() << "nothing thrown";
  return {FailureClass::kTransient, ""};
}

TEST(FailureClassificationTest, FollowsTheErrorCodeNotTheMessage) {
  using aws::AwsError;
  using aws::ErrorCode;
  EXPECT_EQ(classify([] { throw AwsError(ErrorCode::kThrottled, "x"); }).kind,
            FailureClass::kTransient);
  EXPECT_EQ(classify([] { throw AwsError(ErrorCode::kServiceUnavailable, "x"); }).kind,
            FailureClass::kTransient);
  EXPECT_EQ(classify([] { throw AwsError(ErrorCode::kNetwork, "x"); }).kind,
            FailureClass::kTransient);
  // The download could not be written: transient (the processor tells a full disk apart).
  EXPECT_EQ(classify([] { throw AwsError(ErrorCode::kLocalIo, "disk full"); }).kind,
            FailureClass::kTransient);
  EXPECT_EQ(classify([] { throw AwsError(ErrorCode::kNotFound, "transient words"); }).kind,
            FailureClass::kPermanent);
  EXPECT_EQ(classify([] { throw AwsError(ErrorCode::kTooLarge, "x"); }).kind,
            FailureClass::kPermanent);
  EXPECT_EQ(classify([] { throw AwsError(ErrorCode::kPreconditionFailed, "x"); }).kind,
            FailureClass::kPermanent);
  EXPECT_EQ(classify([] { throw AwsError(ErrorCode::kCancelled, "x"); }).kind,
            FailureClass::kCancelled);
  EXPECT_EQ(classify([] {
              throw store::StoreError(store::StoreErrorCode::kBusy, "database is locked");
            }).kind,
            FailureClass::kTransient);
  EXPECT_EQ(classify([] {
              throw media::MediaError(media::MediaErrorCode::kInvalidData, "moov atom not found");
            }).kind,
            FailureClass::kPermanent);
  EXPECT_EQ(classify([] {
              throw analysis::AnalysisError(analysis::AnalysisErrorCode::kTimeout, "hung");
            }).kind,
            FailureClass::kPermanent);
  EXPECT_EQ(classify([] {
              throw analysis::AnalysisError(analysis::AnalysisErrorCode::kCrashed, "SIGSEGV");
            }).kind,
            FailureClass::kPermanent);
  EXPECT_EQ(classify([] { throw std::runtime_error("who knows"); }).kind, FailureClass::kTransient);
  EXPECT_NE(
      classify([] { throw AwsError(ErrorCode::kNotFound, "NoSuchKey"); }).reason.find("NoSuchKey"),
      std::string::npos);
}

TEST(RetryDelayTest, DoublesPerDeliveryAndIsCapped) {
  QueueSettings q;
  q.retry_base_delay_seconds = 10;
  q.retry_max_delay_seconds = 900;
  EXPECT_EQ(retry_delay_seconds(q, 0), 10);
  EXPECT_EQ(retry_delay_seconds(q, 1), 10);
  EXPECT_EQ(retry_delay_seconds(q, 2), 20);
  EXPECT_EQ(retry_delay_seconds(q, 4), 80);
  EXPECT_EQ(retry_delay_seconds(q, 10), 900);
  EXPECT_EQ(retry_delay_seconds(q, 1000), 900);
  q.retry_max_delay_seconds = 100000;
  EXPECT_EQ(retry_delay_seconds(q, 30), 43200);  // SQS visibility ceiling
}

TEST(LocalFileNameTest, NeverContainsPathComponentsOfTheKey) {
  for (const std::string key :
       {"uploads/../../etc/passwd", "uploads/a b/c.MP4", "/abs/x.mov", "uploads/..",
        "uploads/x.mp4/../../y", "uploads/evil.$(rm)", "uploads/\xE2\x9C\x93.webm"}) {
    const std::string name = local_file_name(42, key);
    EXPECT_EQ(name.find('/'), std::string::npos) << key;
    EXPECT_EQ(name.find(".."), std::string::npos) << key;
    EXPECT_EQ(name.rfind("job-42-", 0), 0u) << key;
    for (char c : name)
      EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.') << key;
  }
  EXPECT_EQ(local_file_name(1, "uploads/a b/c.MP4")
                .substr(local_file_name(1, "uploads/a b/c.MP4").size() - 4),
            ".MP4");
  EXPECT_NE(local_file_name(1, "uploads/a.mp4"), local_file_name(1, "uploads/b.mp4"));
}

// One upload processed with the in-memory fakes (support/fakes.h) and a real SQLite store; the
// analysis runner records the request it was given.
class ProcessorJob : public ::testing::Test {
 protected:
  ProcessorJob()
      : store_(store::open_job_store("sqlite:///" + (dir_ / "jobs.db").string())),
        script_(std::make_shared<testing::FakeAnalysisRunner::Script>()),
        runs_(std::make_shared<std::atomic<int>>(0)) {
    config_.download_dir = dir_ / "downloads";
    config_.report_dir = dir_ / "reports";
    config_.download_dir_min_free_bytes = 0;
    std::filesystem::create_directories(dir_ / "work");
    script_->run = [this](const analysis::AnalysisRequest& request) {
      height_ = request.subject_height_m;
      request_warnings_ = request.warnings;
      analysis::AnalysisResult result;
      result.analysis = {{"analyzer", {{"name", "fake"}}},
                         {"quality", {{"warnings", nlohmann::json::array({"too_few_strides"})}}}};
      // A report and an artifact written where the analysis writes them (0600, as the child's).
      for (const char* name : {"report.html", "strides.csv"}) {
        const auto file = request.report_dir / name;
        std::ofstream(file) << name;
        std::filesystem::permissions(
            file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
        result.artifacts.push_back(file);
      }
      return result;
    };
  }

  // Uploads "uploads/walk.mp4" with this x-amz-meta-* and processes its notification.
  store::Job process(std::map<std::string, std::string> metadata,
                     MessageAction expected = MessageAction::kDelete) {
    objects_.put("dancer-uploads", "uploads/walk.mp4", "video bytes", "etag-1",
                 std::move(metadata));
    auto objects = objects_.connect();
    testing::FakeAnalysisRunner runner(script_, runs_);
    ProcessorDeps deps{
        config_, *objects, *store_, runner, metrics_, "worker-1", dir_ / "work", config_.report_dir,
        nullptr, nullptr,  {},      {},     {},       {}};
    deps.free_space = [] { return std::optional<std::uint64_t>(1ull << 40); };
    MessageProcessor processor(std::move(deps));
    aws::SqsMessage message;
    message.message_id = "m-1";
    message.receipt_handle = "r-1";
    message.body =
        make_object_created_body("dancer-uploads", "uploads/walk.mp4", 11, "etag-1", "us-east-1");
    message.approximate_receive_count = 1;
    EXPECT_EQ(processor.process(message).action, expected);
    const auto jobs = store_->list_jobs(10);
    EXPECT_EQ(jobs.size(), 1u);
    return jobs.empty() ? store::Job{} : jobs.front();
  }

  static nlohmann::json warnings(const store::Job& job) {
    return nlohmann::json::parse(job.results_json)["analysis"]["quality"]["warnings"];
  }

  testing::TempDir dir_;
  ServiceConfig config_;
  std::unique_ptr<store::JobStore> store_;
  testing::FakeObjects objects_;
  std::shared_ptr<testing::FakeAnalysisRunner::Script> script_;
  std::shared_ptr<std::atomic<int>> runs_;
  Metrics metrics_;
  // What the analysis was asked.
  std::optional<double> height_;
  std::vector<std::string> request_warnings_;
};

TEST_F(ProcessorJob, APlausibleObjectHeightOverridesTheConfiguredOne) {
  config_.analysis.subject_height_m = 1.6;
  const store::Job job = process({{"subject-height-m", "1.80"}});
  ASSERT_EQ(job.status, store::JobStatus::kCompleted) << job.error_message;
  ASSERT_TRUE(height_.has_value());
  EXPECT_DOUBLE_EQ(*height_, 1.8);
  EXPECT_TRUE(request_warnings_.empty());
  EXPECT_EQ(warnings(job), nlohmann::json::array({"too_few_strides"}));
}

// "1.7m" and 4,000 digits followed by <script> were taken by partial parsing; NaN, inf, -1.7 and
// 0 were dropped without a word. Each is refused, named in the result, and never stored.
TEST_F(ProcessorJob, ARefusedObjectHeightIsAWarningInTheResultAndNoHeightIsUsed) {
  config_.analysis.subject_height_m = 1.6;
  const std::string hostile = std::string(4000, '1') + "<script>alert(1)</script>";
  for (const std::string& value :
       {std::string("1.7m"), hostile, std::string("NaN"), std::string("inf"), std::string("-1.7"),
        std::string("0"), std::string("170"), std::string("1e-9")}) {
    SCOPED_TRACE(value.substr(0, 20));
    store_ = store::open_job_store("sqlite:///" + (dir_ / "jobs.db").string() + "-" +
                                   std::to_string(*runs_));
    height_ = 0.0;
    request_warnings_.clear();
    const store::Job job = process({{"subject-height-m", value}});
    ASSERT_EQ(job.status, store::JobStatus::kCompleted) << job.error_message;
    // Neither the object's value nor SUBJECT_HEIGHT_M: this subject's height is not known.
    EXPECT_FALSE(height_.has_value());
    EXPECT_EQ(request_warnings_, std::vector<std::string>{"subject_height_refused"});
    EXPECT_EQ(warnings(job), nlohmann::json::array({"too_few_strides", "subject_height_refused"}));
    if (value.size() > 4) {
      EXPECT_EQ(job.results_json.find(value), std::string::npos);
      EXPECT_EQ(job.metadata_json.find(value), std::string::npos);
    }
    EXPECT_EQ(job.results_json.find("<script>"), std::string::npos);
  }
}

// REPORT_DIR's files were 0600: a web backend running as another user could not read them.
TEST_F(ProcessorJob, ReportDirFilesAndDirectoriesGetReportFileModeWhateverTheUmask) {
  const mode_t saved = ::umask(077);
  config_.report_file_mode = 0640;
  const store::Job job = process({});
  ::umask(saved);
  ASSERT_EQ(job.status, store::JobStatus::kCompleted) << job.error_message;
  const auto mode = [](const std::filesystem::path& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return st.st_mode & 07777;
  };
  const auto artifacts = nlohmann::json::parse(job.results_json)["artifacts"];
  ASSERT_EQ(artifacts.size(), 2u);
  for (const auto& artifact : artifacts) {
    const std::filesystem::path file = artifact["location"].get<std::string>();
    EXPECT_EQ(mode(file), 0640u) << file;
    EXPECT_EQ(mode(file.parent_path()), 0750u) << file.parent_path();  // job-<id>/
  }
  EXPECT_EQ(mode(config_.report_dir), 0750u);  // created by the service
}

TEST_F(ProcessorJob, AnExistingReportDirKeepsItsModeAndAWiderFileModeIsApplied) {
  std::filesystem::create_directories(config_.report_dir);
  std::filesystem::permissions(
      config_.report_dir, std::filesystem::perms::owner_all | std::filesystem::perms::group_exec);
  config_.report_file_mode = 0644;
  const store::Job job = process({});
  ASSERT_EQ(job.status, store::JobStatus::kCompleted) << job.error_message;
  struct stat st {};
  ASSERT_EQ(::stat(config_.report_dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0710u);
  const nlohmann::json results = nlohmann::json::parse(job.results_json);
  for (const auto& artifact : results["artifacts"]) {
    const std::filesystem::path file = artifact["location"].get<std::string>();
    ASSERT_EQ(::stat(file.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0644u) << file;
    ASSERT_EQ(::stat(file.parent_path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0755u) << file.parent_path();
  }
}

}  // namespace
}  // namespace dancer::service

namespace dancer::service {
namespace {

// The web-playable copy and poster (issue 19): made after the analysis for every job,
// published beside the analysis' files, and never the job's failure.
TEST_F(ProcessorJob, TheProxyAndPosterArePublishedAfterTheAnalysisFiles) {
  std::filesystem::path proxy_video;
  script_->proxy = [&](const std::filesystem::path& video, const std::filesystem::path& dir) {
    proxy_video = video;
    AnalysisRunner::ProxyFiles files;
    for (const char* name : {"proxy.mp4", "poster.jpg"}) {
      std::ofstream(dir / name) << name;
      files.files.push_back(dir / name);
    }
    return files;
  };
  const store::Job job = process({});
  ASSERT_EQ(job.status, store::JobStatus::kCompleted) << job.error_message;
  EXPECT_EQ(proxy_video.filename().string().rfind("job-", 0), 0u) << proxy_video;
  const auto results = nlohmann::json::parse(job.results_json);
  std::vector<std::string> names;
  for (const auto& artifact : results["artifacts"]) {
    names.push_back(artifact["name"]);
    const std::filesystem::path file = artifact["location"].get<std::string>();
    EXPECT_EQ(testing::read_file(file), artifact["name"].get<std::string>());
  }
  EXPECT_EQ(names,
            (std::vector<std::string>{"report.html", "strides.csv", "proxy.mp4", "poster.jpg"}));
  EXPECT_TRUE(results["processing"]["proxy_s"].is_number());
  EXPECT_FALSE(results["processing"].contains("warnings"));
  EXPECT_TRUE(testing::matches_results_schema(results));
}

class ProcessorProxyFailure : public ProcessorJob,
                              public ::testing::WithParamInterface<analysis::AnalysisErrorCode> {};

// A transient fault (kInternal) too: redoing the whole analysis for the copy is not worth it.
TEST_P(ProcessorProxyFailure, CompletesTheJobWithTheWarningProxyFailed) {
  script_->proxy = [](const std::filesystem::path&,
                      const std::filesystem::path&) -> AnalysisRunner::ProxyFiles {
    throw analysis::AnalysisError(GetParam(), "proxy process: killed");
  };
  const store::Job job = process({});
  ASSERT_EQ(job.status, store::JobStatus::kCompleted) << job.error_message;
  EXPECT_EQ(job.retry_count, 0);
  const auto results = nlohmann::json::parse(job.results_json);
  EXPECT_EQ(results["processing"]["warnings"], nlohmann::json::array({"proxy_failed"}));
  EXPECT_EQ(results["artifacts"].size(), 2u);  // the analysis' files only
  EXPECT_TRUE(testing::matches_results_schema(results));
}

INSTANTIATE_TEST_SUITE_P(EveryClassButCancellation, ProcessorProxyFailure,
                         ::testing::Values(analysis::AnalysisErrorCode::kCrashed,
                                           analysis::AnalysisErrorCode::kTimeout,
                                           analysis::AnalysisErrorCode::kResourceLimit,
                                           analysis::AnalysisErrorCode::kInternal));

// Shutdown during the proxy: the job is not completed without it, its message goes back.
TEST_F(ProcessorJob, ShutdownDuringTheProxyReturnsTheMessageAndCompletesNothing) {
  script_->proxy = [](const std::filesystem::path&,
                      const std::filesystem::path&) -> AnalysisRunner::ProxyFiles {
    throw analysis::AnalysisError(analysis::AnalysisErrorCode::kCancelled, "cancelled");
  };
  const store::Job job = process({}, MessageAction::kReturnNow);
  EXPECT_NE(job.status, store::JobStatus::kCompleted);
  EXPECT_EQ(job.retry_count, 0);
}

TEST_F(ProcessorJob, WithProxyDisabledNoneIsAskedFor) {
  config_.proxy.enabled = false;
  bool asked = false;
  script_->proxy = [&](const std::filesystem::path&, const std::filesystem::path&) {
    asked = true;
    return AnalysisRunner::ProxyFiles{};
  };
  const store::Job job = process({});
  ASSERT_EQ(job.status, store::JobStatus::kCompleted) << job.error_message;
  EXPECT_FALSE(asked);
  EXPECT_FALSE(nlohmann::json::parse(job.results_json)["processing"].contains("proxy_s"));
}

}  // namespace
}  // namespace dancer::service

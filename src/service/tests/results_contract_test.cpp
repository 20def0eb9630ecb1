// The results contract (docs/results.md, docs/results.schema.json) through the real code: the
// message processor's results_json for real videos, probed by libavformat and analysed by the
// built-in analyzers, matches the schema; the documented pose-gait example matches it; and
// documents that break the contract are refused, each with the path of what is wrong.
#include <gtest/gtest.h>

#include <functional>
#include <memory>

#include "analysis/gait_analyzer.h"
#include "analysis/placeholder_analyzer.h"
#include "common/sha256.h"
#include "media/metadata.h"
#include "service/events.h"
#include "service/processor.h"
#include "service/results.h"
#include "support/fakes.h"
#include "support/results_schema.h"
#include "support/test_support.h"
#include "synthetic_walker/synthetic_walker.h"

namespace dancer::service {
namespace {

using dancer::testing::matches_analysis_schema;
using dancer::testing::matches_results_schema;
using dancer::testing::shared_test_data;
using nlohmann::json;
using testing::FakeAnalysisRunner;
using testing::FakeObjects;

constexpr const char* kBucket = "dancer-uploads";

// One job through the message processor, with S3 and SQS in memory and a real SQLite store.
// The analysis runner works in process: libavformat probes the downloaded file (the child's
// code, without the child) and the analyzer under test analyses it, so results_json is exactly
// what the processor stores for that analyzer's output.
class ResultsContract : public ::testing::Test {
 protected:
  using MakeAnalyzer = std::function<std::unique_ptr<analysis::Analyzer>()>;

  ResultsContract()
      : store_(store::open_job_store("sqlite:///" + (dir_ / "jobs.db").string())),
        script_(std::make_shared<FakeAnalysisRunner::Script>()),
        runs_(std::make_shared<std::atomic<int>>(0)) {
    config_.download_dir = dir_ / "downloads";
    config_.report_dir = dir_ / "reports";
    config_.download_dir_min_free_bytes = 0;
    std::filesystem::create_directories(dir_ / "work");
    script_->probe = [](const std::filesystem::path& video) { return media::probe_file(video); };
  }

  // The completed row's results_json for `video` uploaded as `key`.
  json results_for(const std::filesystem::path& video, const std::string& key,
                   const MakeAnalyzer& make_analyzer,
                   std::map<std::string, std::string> object_metadata = {}) {
    script_->run = [&](const analysis::AnalysisRequest& request) {
      return make_analyzer()->analyze(request);
    };
    if (!std::filesystem::is_regular_file(video)) {
      ADD_FAILURE() << video << " is missing";
      return json();
    }
    const std::string bytes = dancer::testing::read_file(video);
    objects_.put(kBucket, key, bytes, "etag-" + key, std::move(object_metadata));
    auto objects = objects_.connect();
    FakeAnalysisRunner runner(script_, runs_);
    ProcessorDeps deps{
        config_, *objects, *store_, runner, metrics_, "worker-1", dir_ / "work", config_.report_dir,
        nullptr, nullptr,  {},      {},     {},       {}};
    deps.free_space = [] { return std::optional<std::uint64_t>(1ull << 40); };
    MessageProcessor processor(std::move(deps));
    aws::SqsMessage message;
    message.message_id = "m-" + key;
    message.receipt_handle = "r-" + key;
    message.body = make_object_created_body(kBucket, key, static_cast<std::int64_t>(bytes.size()),
                                            "etag-" + key, "us-east-1");
    message.approximate_receive_count = 1;
    EXPECT_EQ(processor.process(message).action, MessageAction::kDelete);
    for (const store::Job& job : store_->list_jobs(100)) {
      if (job.object.key != key) continue;
      EXPECT_EQ(job.status, store::JobStatus::kCompleted) << job.error_message;
      return json::parse(job.results_json);
    }
    ADD_FAILURE() << "no job for " << key;
    return json();
  }

  dancer::testing::TempDir dir_;
  ServiceConfig config_;
  std::unique_ptr<store::JobStore> store_;
  FakeObjects objects_;
  std::shared_ptr<FakeAnalysisRunner::Script> script_;
  std::shared_ptr<std::atomic<int>> runs_;
  Metrics metrics_;
};

bool has_warning(const json& analysis, const std::string& name) {
  const json& w = analysis["quality"]["warnings"];
  return std::find(w.begin(), w.end(), name) != w.end();
}

TEST_F(ResultsContract, SilhouetteGaitOnARealSideViewWalkMatches) {
  // gait-cdio kevin1 (side view, 1080p30); the object's metadata gives the subject's height,
  // so the metric fields are present too.
  const json results =
      results_for(shared_test_data("videos/side_gaitcdio_4markerskevin1.mp4"), "uploads/kevin1.mp4",
                  [] { return analysis::make_gait_analyzer(); }, {{"subject-height-m", "1.80"}});
  EXPECT_TRUE(matches_results_schema(results));
  EXPECT_EQ(results["results_version"], kResultsVersion);
  const json& a = results["analysis"];
  EXPECT_EQ(a["analyzer"]["name"], "silhouette-gait");
  EXPECT_TRUE(a["person_detected"].get<bool>());
  EXPECT_TRUE(a["cadence_steps_per_min"].is_number());
  EXPECT_TRUE(a["speed_m_per_s"].is_number());
  EXPECT_FALSE(a["step_events"].empty());
  // The analyzer wrote its HTML report, so the row says where it is kept, and lists it as an
  // artifact with the size and SHA-256 of the file kept there.
  ASSERT_TRUE(results.contains("report_location"));
  ASSERT_EQ(results["artifacts"].size(), 1u);
  const json& report = results["artifacts"][0];
  EXPECT_EQ(report["name"], "report.html");
  EXPECT_EQ(report["location"], results["report_location"]);
  const auto kept = common::sha256_file(report["location"].get<std::string>());
  EXPECT_EQ(report["size_bytes"], kept.size);
  EXPECT_EQ(report["sha256"], kept.sha256);
  EXPECT_EQ(report["content_type"], "text/html; charset=utf-8");
  // The analyzer's own output, before the processor wraps it, matches too.
  EXPECT_TRUE(matches_analysis_schema(a));
}

TEST_F(ResultsContract, SilhouetteGaitWithoutNumbersMatches) {
  // A front view (no sideways walking) and an empty scene (nobody): named warnings and nulls.
  analysis::SyntheticWalkSpec empty;
  empty.with_walker = false;
  empty.duration_s = 2;
  empty.width = 320;
  empty.height = 240;
  analysis::render_synthetic_walk(empty, dir_ / "empty.mp4");
  const MakeAnalyzer gait = [] { return analysis::make_gait_analyzer(); };

  const json front = results_for(shared_test_data("videos/front_assemblyai_walking_cane.mp4"),
                                 "uploads/front.mp4", gait);
  EXPECT_TRUE(matches_results_schema(front));
  EXPECT_TRUE(has_warning(front["analysis"], "no_walking_detected")) << front["analysis"];
  EXPECT_TRUE(front["analysis"]["cadence_steps_per_min"].is_null());

  const json nobody = results_for(dir_ / "empty.mp4", "uploads/empty.mp4", gait);
  EXPECT_TRUE(matches_results_schema(nobody));
  EXPECT_FALSE(nobody["analysis"]["person_detected"].get<bool>());
  EXPECT_TRUE(has_warning(nobody["analysis"], "no_person")) << nobody["analysis"];
  EXPECT_TRUE(nobody["analysis"]["step_count"].is_null());
}

TEST_F(ResultsContract, PlaceholderMatches) {
  const auto video = dancer::testing::make_test_media(dir_.path(), "h264_mp4");
  const json results = results_for(video, "uploads/placeholder.mp4",
                                   [] { return analysis::make_placeholder_analyzer(); });
  EXPECT_TRUE(matches_results_schema(results));
  EXPECT_EQ(results["analysis"]["analyzer"]["name"], "placeholder");
  EXPECT_EQ(results["analysis"]["frame_count"], 25);  // 1 s at 25 frames/s
}

// docs/results.example.json: the pose-gait example the contract shows.
json pose_gait_example() {
  return json::parse(dancer::testing::read_file(
      dancer::testing::results_schema_path().parent_path() / "results.example.json"));
}

TEST(ResultsSchema, TheDocumentedPoseGaitExampleMatches) {
  const json example = pose_gait_example();
  EXPECT_EQ(example["analysis"]["analyzer"]["name"], "pose-gait");
  EXPECT_TRUE(matches_results_schema(example));
  EXPECT_TRUE(matches_analysis_schema(example["analysis"]));
}

// Each broken document must be refused, and the message must point at what is wrong.
void expect_refused(const json& document, const std::string& path_in_message) {
  const ::testing::AssertionResult r = matches_results_schema(document);
  EXPECT_FALSE(r) << "accepted: " << document.dump().substr(0, 300);
  EXPECT_NE(std::string(r.message()).find(path_in_message), std::string::npos) << r.message();
}

TEST(ResultsSchema, AnEventOnAFootThatIsNeitherLeftNorRightIsRefused) {
  json doc = pose_gait_example();
  doc["analysis"]["events"][2]["foot"] = "middle";
  expect_refused(doc, "$.analysis.events[2].foot: 'middle' is not one of");
}

TEST(ResultsSchema, AnEventsEvidenceComesWholeAndInRange) {
  json doc = pose_gait_example();
  json& event = doc["analysis"]["events"][2];
  event["visibility"] = 0.8;
  event["prominence_body_heights"] = 0.21;
  event["low_confidence"] = false;
  EXPECT_TRUE(dancer::testing::matches_results_schema(doc));
  event.erase("prominence_body_heights");  // half the evidence
  expect_refused(doc, "$.analysis.events[2]: 'prominence_body_heights' is a dependency");
  event["prominence_body_heights"] = 0.21;
  event["visibility"] = 1.5;
  expect_refused(doc, "$.analysis.events[2].visibility");
}

TEST(ResultsSchema, ACycleMeanOf100SamplesIsRefused) {
  json doc = pose_gait_example();
  json& mean = doc["analysis"]["kinematics"]["cycles"]["left"]["knee"]["mean"];
  ASSERT_EQ(mean.size(), 101u);
  mean.erase(mean.size() - 1);
  expect_refused(doc, "$.analysis.kinematics.cycles.left.knee.mean");
}

TEST(ResultsSchema, AnAnalysisWithoutAnalyzerIsRefused) {
  json doc = pose_gait_example();
  doc["analysis"].erase("analyzer");
  expect_refused(doc, "'analyzer' is a required property");
  EXPECT_FALSE(matches_analysis_schema(doc["analysis"]));
}

TEST(ResultsSchema, APoseGaitResultWithoutEventsIsRefused) {
  json doc = pose_gait_example();
  doc["analysis"].erase("events");
  expect_refused(doc, "'events' is a required property");
  // The same document from another analyzer may leave them out.
  doc["analysis"]["analyzer"] = {{"name", "silhouette-gait"}, {"version", "1.0.0"}};
  EXPECT_TRUE(matches_results_schema(doc));
}

TEST(ResultsSchema, NumbersWithoutAPersonAreRefused) {
  // "No numbers are better than wrong numbers": nobody seen, yet a cadence.
  json doc = pose_gait_example();
  doc["analysis"]["person_detected"] = false;
  doc["analysis"]["quality"]["warnings"] = {"no_person"};
  expect_refused(doc, "$.analysis.cadence_steps_per_min");
  // Nobody seen without saying so.
  doc = pose_gait_example();
  doc["analysis"]["person_detected"] = false;
  expect_refused(doc, "person_detected is false exactly when the warnings name no_person");
}

TEST(ResultsSchema, ASideMeanOnFewerThanThreeStridesIsRefused) {
  json doc = pose_gait_example();
  json& stat = doc["analysis"]["per_side"]["right"]["stride_time_s"];
  ASSERT_EQ(stat["n"], 2);
  stat["mean"] = 1.15;
  expect_refused(doc, "$.analysis.per_side.right.stride_time_s.mean");
}

TEST(ResultsSchema, AnUnknownWarningOrAnotherMajorVersionIsRefused) {
  json doc = pose_gait_example();
  doc["analysis"]["quality"]["warnings"].push_back("blurry");
  expect_refused(doc, "'blurry' is not one of");
  doc = pose_gait_example();
  doc["results_version"] = "2.0.0";
  expect_refused(doc, "$.results_version");
}

}  // namespace
}  // namespace dancer::service

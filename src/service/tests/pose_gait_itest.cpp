// The default analyzer end to end: a real walking clip uploaded to the emulator with the
// subject's height in its object metadata, the service's pose-gait analysis in the sandboxed
// child, and the completed row's results read back as the web backend reads them.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>

#include "common/sha256.h"
#include "service/events.h"
#include "store/job_store.h"
#include "support/fhir_validator.h"
#include "support/results_schema.h"
#include "support/service_harness.h"
#include "support/test_support.h"

namespace dancer::testing {
namespace {

using nlohmann::json;

TEST(PoseGaitEndToEnd, DefaultAnalyzerCompletesARealWalkWithEventsStridesAndAngles) {
  auto endpoint = integration_env("DANCER_TEST_AWS_ENDPOINT");
  if (!endpoint) GTEST_SKIP();
  ServiceHarness harness(*endpoint);
  harness.env().erase("ANALYZER");  // the default
  harness.env()["RESULTS_PREFIX"] = "results/";
  const auto video = shared_test_data("videos/side_gaitcdio_4markerskevin1.mp4");
  const std::string key = "uploads/clinic 3/kevin1.mp4";
  // The backend sets the subject's height on the object; it overrides SUBJECT_HEIGHT_M.
  harness.env()["SUBJECT_HEIGHT_M"] = "1.60";
  harness.s3().put_object(harness.bucket(), key, video, "video/mp4",
                          {{"subject-height-m", "1.80"}});
  const aws::ObjectInfo head = harness.s3().head_object(harness.bucket(), key);
  harness.send_raw(service::make_object_created_body(
      harness.bucket(), key, static_cast<std::int64_t>(head.size), head.etag, "us-east-1"));
  const ServiceResult r = harness.run({"run", "--until-empty"}, 600);
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text << r.stdout_text;

  auto store = store::open_job_store(harness.env().at("DATABASE_URL"));
  std::optional<store::Job> job;
  for (auto& j : store->list_jobs(10)) {
    if (j.object.key == key) job = j;
  }
  ASSERT_TRUE(job);
  ASSERT_EQ(store::to_string(job->status), "completed") << job->error_message;
  const json results = json::parse(job->results_json);
  EXPECT_TRUE(matches_results_schema(results));
  const json& a = results["analysis"];
  EXPECT_EQ(a["analyzer"]["name"], "pose-gait");
  EXPECT_TRUE(a["person_detected"].get<bool>());
  EXPECT_EQ(a["subject_height_m"], 1.8);
  // kevin1's hand labels hold 7 contacts and 6 toe-offs; the accuracy against them is proven
  // in analysis/tests/gait_keypoints_test.cpp, here that the service carries them through.
  const auto count = [&](const char* type) {
    return std::count_if(a["events"].begin(), a["events"].end(),
                         [&](const json& e) { return e["type"] == type; });
  };
  EXPECT_GE(count("initial_contact"), 7);
  EXPECT_GE(count("toe_off"), 6);
  EXPECT_GE(a["strides"].size(), 4u);
  ASSERT_TRUE(a["cadence_steps_per_min"].is_number());
  EXPECT_NEAR(a["cadence_steps_per_min"].get<double>(), 101.9, 4.0);
  ASSERT_TRUE(a["walking_speed"]["m_per_s"].is_number());
  EXPECT_NEAR(a["walking_speed"]["m_per_s"].get<double>(),
              a["walking_speed"]["body_heights_per_s"].get<double>() * 1.8, 0.002);
  EXPECT_EQ(a["kinematics"]["per_frame"]["left"]["knee"].size(),
            a["frames_analyzed"].get<std::size_t>());
  EXPECT_TRUE(a["quality"]["warnings"].is_array());
  // The report and the artifacts are uploaded under RESULTS_PREFIX/job-<uuid>/, each listed
  // with the size and SHA-256 of what S3 holds.
  const std::string dir = "s3://" + harness.bucket() + "/results/job-" + job->job_uuid + "/";
  EXPECT_EQ(job->report_location, dir + "report.html");
  EXPECT_EQ(results["report_location"], job->report_location);
  std::set<std::string> names;
  TempDir downloads;
  for (const json& artifact : results["artifacts"]) {
    const std::string name = artifact["name"];
    names.insert(name);
    EXPECT_EQ(artifact["location"], dir + name);
    const std::string artifact_key = artifact["location"].get<std::string>().substr(
        std::string("s3://" + harness.bucket() + "/").size());
    const auto local = downloads.path() / name;
    const aws::ObjectInfo stored =
        harness.s3().download_to_file(harness.bucket(), artifact_key, local);
    EXPECT_EQ(stored.content_type, artifact["content_type"]) << name;
    const common::FileDigest digest = common::sha256_file(local);
    EXPECT_EQ(artifact["size_bytes"], digest.size) << name;
    EXPECT_EQ(artifact["sha256"], digest.sha256) << name;
    if (name == "fhir.json") {
      EXPECT_TRUE(matches_fhir_r4(json::parse(read_file(local))));
    } else if (name == "strides.csv") {
      const std::string csv = read_file(local);
      EXPECT_EQ(static_cast<std::size_t>(std::count(csv.begin(), csv.end(), '\n')),
                a["strides"].size() + 1);  // the header, then one row per stride
    } else if (name == "overlay.mp4") {
      const json probe =
          json::parse(run_command("ffprobe -v quiet -print_format json -show_streams " +
                                  shell_quote(local.string()))
                          .output);
      EXPECT_EQ(probe["streams"][0]["codec_name"], "h264");
      EXPECT_LE(probe["streams"][0]["height"].get<int>(), 720);
    } else if (name == "proxy.mp4" || name == "poster.jpg") {
      // The 1920x1080 walk's web-playable copy and poster: 1280x720.
      const json probe =
          json::parse(run_command("ffprobe -v quiet -print_format json -show_streams " +
                                  shell_quote(local.string()))
                          .output);
      EXPECT_EQ(probe["streams"][0]["codec_name"], name == "proxy.mp4" ? "h264" : "mjpeg");
      EXPECT_EQ(probe["streams"][0]["width"], 1280) << name;
      EXPECT_EQ(probe["streams"][0]["height"], 720) << name;
    }
  }
  EXPECT_EQ(names, (std::set<std::string>{"report.html", "overlay.mp4", "strides.csv", "fhir.json",
                                          "proxy.mp4", "poster.jpg"}));
}

}  // namespace
}  // namespace dancer::testing

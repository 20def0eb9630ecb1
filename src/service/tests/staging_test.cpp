#include "service/staging.h"

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "common/uuid.h"
#include "support/test_support.h"

namespace dancer::service {
namespace {

namespace fs = std::filesystem;

class Staging : public ::testing::Test {
 protected:
  // An analysis' outputs, in a work directory beside the staging root.
  std::vector<fs::path> outputs() {
    fs::create_directories(dir_ / "work");
    std::ofstream(dir_ / "work" / "report.html") << "<html>report</html>";
    std::ofstream(dir_ / "work" / "strides.csv") << "stride,1\n";
    return {dir_ / "work" / "report.html", dir_ / "work" / "strides.csv"};
  }

  dancer::testing::TempDir dir_;
  StagingArea area_{dir_ / "staged"};
  std::string uuid_ = common::random_uuid_v4();
};

TEST_F(Staging, AStagedAnalysisIsFoundAgainWithItsFilesAndDigests) {
  const StagedJob staged =
      area_.stage(uuid_, {{"format", {}}}, {{"analysis", {{"x", 1}}}}, outputs(), 12.5);
  EXPECT_FALSE(fs::exists(dir_ / "work" / "report.html"));  // moved, not copied
  EXPECT_EQ((fs::status(area_.root()).permissions() & fs::perms::all), fs::perms::owner_all);
  // A new StagingArea, as after a restart.
  StagingArea again(dir_ / "staged");
  const auto found = again.find(uuid_);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->results["analysis"]["x"], 1);
  EXPECT_EQ(found->prepared_s, 12.5);
  ASSERT_EQ(found->artifacts.size(), 2u);
  EXPECT_EQ(found->artifacts[0].name, "report.html");
  EXPECT_EQ(found->artifacts[0].sha256, staged.artifacts[0].sha256);
  EXPECT_EQ(dancer::testing::read_file(found->file(found->artifacts[0])), "<html>report</html>");
  EXPECT_FALSE(again.find(common::random_uuid_v4()).has_value());
  again.remove(uuid_);
  EXPECT_FALSE(fs::exists(dir_ / "staged" / ("job-" + uuid_)));
}

// Workers of several services share DOWNLOAD_DIR: one stages while another, done with its own
// job, removes its staging. Every staging must succeed (a job failed here under the load test
// with "cannot set permissions: No such file or directory" on the root, which the other worker
// had removed as empty, and its analysis was redone).
TEST_F(Staging, StagingSucceedsWhileAnotherWorkerRemovesTheEmptiedRoot) {
  std::atomic<bool> done{false};
  std::thread other([&] {
    StagingArea area(dir_ / "staged");
    const std::string uuid = common::random_uuid_v4();
    while (!done.load()) area.remove(uuid);  // its own job, done
  });
  int failures = 0;
  std::string first_failure;
  for (int i = 0; i < 2000; ++i) {
    try {
      area_.stage(uuid_, {{"format", {}}}, {{"analysis", {{"i", i}}}}, {}, 1.0);
      area_.remove(uuid_);
    } catch (const std::exception& e) {
      if (failures++ == 0) first_failure = e.what();
    }
  }
  done = true;
  other.join();
  EXPECT_EQ(failures, 0) << first_failure;
}

// A service that finished its work leaves DOWNLOAD_DIR as it found it: the emptied root goes
// with the area, not after each job; a root that still holds a staged job stays.
TEST_F(Staging, TheEmptiedRootGoesWithTheAreaAndAStagedJobKeepsIt) {
  {
    StagingArea area(dir_ / "other");
    const std::string uuid = common::random_uuid_v4();
    area.stage(uuid, {{"format", {}}}, {{"analysis", {}}}, {}, 1.0);
    area.remove(uuid);
    EXPECT_TRUE(fs::exists(dir_ / "other"));  // kept while the area lives
  }
  EXPECT_FALSE(fs::exists(dir_ / "other"));
  {
    StagingArea area(dir_ / "kept");
    area.stage(common::random_uuid_v4(), {{"format", {}}}, {{"analysis", {}}}, {}, 1.0);
  }
  EXPECT_TRUE(fs::exists(dir_ / "kept"));
}

TEST_F(Staging, AStagingWithoutManifestOrWithAChangedFileIsDiscarded) {
  area_.stage(uuid_, {}, {}, outputs(), 1);
  const fs::path dir = dir_ / "staged" / ("job-" + uuid_);
  std::ofstream(dir / "strides.csv", std::ios::app) << "torn";
  EXPECT_FALSE(area_.find(uuid_).has_value());
  EXPECT_FALSE(fs::exists(dir));

  area_.stage(uuid_, {}, {}, outputs(), 1);
  fs::remove(dir / "manifest.json");  // interrupted before the manifest
  EXPECT_FALSE(area_.find(uuid_).has_value());
  EXPECT_FALSE(fs::exists(dir));
}

TEST_F(Staging, OnlyJobUuidsNameStagedDirectories) {
  EXPECT_THROW(area_.stage("../../etc", {}, {}, {}, 0), std::invalid_argument);
  EXPECT_THROW(area_.find("1"), std::invalid_argument);
}

TEST_F(Staging, ExpiredStagingsAreSweptAndOthersKept) {
  area_.stage(uuid_, {}, {}, outputs(), 1);
  const std::string fresh = common::random_uuid_v4();
  area_.stage(fresh, {}, {}, {}, 1);
  fs::create_directories(dir_ / "staged" / "not-ours");
  const auto old = fs::file_time_type::clock::now() - std::chrono::hours(49);
  fs::last_write_time(dir_ / "staged" / ("job-" + uuid_) / "manifest.json", old);
  fs::last_write_time(dir_ / "staged" / "not-ours", old);
  EXPECT_EQ(area_.sweep_expired(std::chrono::duration_cast<std::chrono::seconds>(kStagedJobMaxAge)),
            1);
  EXPECT_FALSE(fs::exists(dir_ / "staged" / ("job-" + uuid_)));
  EXPECT_TRUE(area_.find(fresh).has_value());
  EXPECT_TRUE(fs::exists(dir_ / "staged" / "not-ours"));
}

}  // namespace
}  // namespace dancer::service

#include "service/reasons.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "support/test_support.h"

namespace dancer::service {
namespace {

// The layout the service uses: DOWNLOAD_DIR/work-<host>-<pid>/job-<id>-<hash>.<ext>.
struct Layout {
  std::filesystem::path download_dir = "/tmp/dancer-ci/temp_downloads";
  std::filesystem::path work_dir = download_dir / "work-vm-25397";
  std::filesystem::path job_file = work_dir / "job-12-ab12cd34ef56ab12.mp4";
  ReasonContext context() const {
    ReasonContext ctx;
    ctx.job_file = job_file;
    ctx.local_dirs = {download_dir, work_dir, "/var/lib/dancer"};
    ctx.worker_ids = {"vm-25397", "vm-25397-w0"};
    return ctx;
  }
};

TEST(ReasonsTest, FfmpegErrorNamesTheUploadedFile) {
  Layout l;
  EXPECT_EQ(user_facing_reason(l.job_file.string() + ": Invalid data found when processing input",
                               l.context()),
            "the uploaded file: Invalid data found when processing input");
  EXPECT_EQ(
      user_facing_reason("not a readable video: " + l.job_file.string() + ": moov atom not found\n",
                         l.context()),
      "not a readable video: the uploaded file: moov atom not found");
}

TEST(ReasonsTest, FilesystemAndCurlErrorsLoseLocalPathsAndWorkerIds) {
  Layout l;
  EXPECT_EQ(
      user_facing_reason("filesystem error: cannot create directories: No space left on device [" +
                             (l.work_dir / "job-12-report").string() + "]",
                         l.context()),
      "filesystem error: cannot create directories: No space left on device [a local file]");
  const std::string curl = "network: Failure writing output to destination (writing " +
                           l.job_file.string() + ".part) on worker vm-25397-w0 in " +
                           l.work_dir.string() + "/";
  const std::string reason = user_facing_reason(curl, l.context());
  EXPECT_EQ(reason,
            "network: Failure writing output to destination (writing the uploaded file) on worker "
            "in a local directory");
  EXPECT_EQ(reason.find("25397"), std::string::npos);
  EXPECT_EQ(user_facing_reason("database: unable to open database file: /var/lib/dancer/jobs.db",
                               l.context()),
            "database: unable to open database file: a local file");
}

TEST(ReasonsTest, OnlyWholePathComponentsAreReplaced) {
  Layout l;
  // Neither a sibling directory with a longer name nor a URL path is local detail.
  EXPECT_EQ(user_facing_reason("cannot read /var/lib/dancer-other/x and https://h/var/lib/dancer",
                               l.context()),
            "cannot read /var/lib/dancer-other/x and https://h/var/lib/dancer");
}

TEST(ReasonsTest, SymlinkedDirectoryIsRecognisedUnderItsCanonicalName) {
  testing::TempDir dir;
  std::filesystem::create_directories(dir / "real");
  std::filesystem::create_directory_symlink(dir / "real", dir / "link");
  ReasonContext ctx;
  ctx.local_dirs = {dir / "link"};
  const auto canonical = std::filesystem::canonical(dir / "real");
  EXPECT_EQ(user_facing_reason((canonical / "x.mp4").string() + ": Permission denied", ctx),
            "a local file: Permission denied");
}

TEST(ReasonsTest, WhitespaceSecretsAndInvalidUtf8) {
  ReasonContext ctx;
  EXPECT_EQ(user_facing_reason("  line one\r\n\tline\x01two   \n", ctx), "line one line two");
  const std::string secret = user_facing_reason(
      "GET https://b.s3.amazonaws.com/k?X-Amz-Signature=0123abcd failed; "
      "postgresql://dancer:hunter2@db/dancer refused",
      ctx);
  EXPECT_EQ(secret.find("0123abcd"), std::string::npos) << secret;
  EXPECT_EQ(secret.find("hunter2"), std::string::npos) << secret;
  EXPECT_NE(secret.find("refused"), std::string::npos) << secret;
  EXPECT_EQ(user_facing_reason("tag \xFF\xFE value \xC3\xA9", ctx),
            "tag \xEF\xBF\xBD\xEF\xBF\xBD value \xC3\xA9");
}

TEST(ReasonsTest, LongReasonsAreCappedAtACharacterBoundary) {
  ReasonContext ctx;
  ctx.max_bytes = 500;
  std::string raw;
  for (int i = 0; i < 3000; ++i) raw += "\xC3\xA9";  // 'é', two bytes
  const std::string reason = user_facing_reason(raw, ctx);
  EXPECT_LE(reason.size(), 500u);
  EXPECT_GE(reason.size(), 496u);
  EXPECT_EQ(reason.substr(reason.size() - 3), "\xE2\x80\xA6");
  // Every byte before the ellipsis belongs to a whole 'é'.
  EXPECT_EQ((reason.size() - 3) % 2, 0u);
  EXPECT_EQ(reason.substr(0, 2), "\xC3\xA9");
  EXPECT_EQ(user_facing_reason("short", ctx), "short");
}

}  // namespace
}  // namespace dancer::service

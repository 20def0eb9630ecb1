#include "service/download_area.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <system_error>

#include "support/test_support.h"

namespace dancer::service {
namespace {

namespace fs = std::filesystem;

// A child process that creates its area and then either waits until told to exit or
// "crashes" (exits without running destructors, as SIGKILL would).
class ChildArea {
 public:
  ChildArea(const fs::path& root, const std::string& id) {
    int ready[2];
    EXPECT_EQ(::pipe(ready), 0);
    EXPECT_EQ(::pipe(release_), 0);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(ready[0]);
      ::close(release_[1]);
      auto* area = new DownloadArea(root, id);  // never destroyed
      std::ofstream(area->work_dir() / "job-1-abc.mp4.part") << "partial";
      (void)!::write(ready[1], "r", 1);
      char byte = 0;
      (void)!::read(release_[0], &byte, 1);  // until the parent closes its end
      _exit(0);
    }
    ::close(ready[1]);
    ::close(release_[0]);
    char byte = 0;
    EXPECT_EQ(::read(ready[0], &byte, 1), 1) << "child did not create its area";
    ::close(ready[0]);
  }
  ~ChildArea() { crash(); }
  ChildArea(const ChildArea&) = delete;
  ChildArea& operator=(const ChildArea&) = delete;

  void crash() {
    if (pid_ <= 0) return;
    ::close(release_[1]);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
  int release_[2] = {-1, -1};
};

// Private: the analysis child reads its video through a descriptor, so nobody else needs
// to reach into it (it was 0711 while the child opened its video by name).
TEST(DownloadAreaTest, WorkDirectoryIsMarkedAndPrivate) {
  testing::TempDir root;
  DownloadArea area(root.path(), "me");
  EXPECT_EQ(area.work_dir(), fs::canonical(root.path()) / "work-me");
  std::ifstream marker(area.work_dir() / std::string(kWorkMarkerName));
  std::string first_line;
  ASSERT_TRUE(std::getline(marker, first_line));
  EXPECT_EQ(first_line, kWorkMarkerMagic);
  struct stat st {};
  ASSERT_EQ(::stat(area.work_dir().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
}

TEST(DownloadAreaTest, SweepsWhatACrashedProcessLeft) {
  testing::TempDir root;
  {
    ChildArea crashed(root.path(), "crashed");
    crashed.crash();
  }
  ASSERT_TRUE(fs::exists(root / "work-crashed" / "job-1-abc.mp4.part"));

  DownloadArea live(root.path(), "live");
  EXPECT_EQ(live.swept_at_start(), 1);
  EXPECT_FALSE(fs::exists(root / "work-crashed"));
  EXPECT_FALSE(fs::exists(root / ".work-crashed.lock"));
  std::ofstream(live.work_dir() / "job-2.mp4") << "12345";
  EXPECT_EQ(live.usage_bytes(), 5u);  // the marker is not counted
}

TEST(DownloadAreaTest, KeepsDirectoriesWhoseLockIsHeld) {
  testing::TempDir root;
  ChildArea running(root.path(), "running");  // another live process
  DownloadArea same_process(root.path(), "neighbour");

  DownloadArea area(root.path(), "me");
  EXPECT_EQ(area.swept_at_start(), 0);
  EXPECT_TRUE(fs::exists(root / "work-running" / "job-1-abc.mp4.part"));
  EXPECT_TRUE(fs::exists(same_process.work_dir()));
  EXPECT_EQ(DownloadArea::sweep_stale(root.path()), 0);

  // Once that process dies its directory goes with the next sweep.
  running.crash();
  EXPECT_EQ(DownloadArea::sweep_stale(root.path()), 1);
  EXPECT_FALSE(fs::exists(root / "work-running"));
  EXPECT_TRUE(fs::exists(same_process.work_dir()));
  EXPECT_TRUE(fs::exists(area.work_dir()));
}

TEST(DownloadAreaTest, LeavesEverythingItDidNotCreate) {
  testing::TempDir root;
  fs::create_directory(root / "work-foo");
  std::ofstream(root / "work-foo" / "data.bin") << "someone else's";
  std::ofstream(root / "work-foo" / "half.part") << "x";
  std::ofstream(root / "x.part") << "x";
  // A marker with the wrong first line is not ours either.
  fs::create_directory(root / "work-bar");
  std::ofstream(root / "work-bar" / std::string(kWorkMarkerName)) << "something else\n";
  // Nor is a link to a marked directory.
  fs::create_directory(root / "elsewhere");
  std::ofstream(root / "elsewhere" / std::string(kWorkMarkerName)) << kWorkMarkerMagic << "\n";
  fs::create_directory_symlink(root / "elsewhere", root / "work-link");

  DownloadArea area(root.path(), "me");
  EXPECT_EQ(area.swept_at_start(), 0);
  EXPECT_TRUE(fs::exists(root / "work-foo" / "data.bin"));
  EXPECT_TRUE(fs::exists(root / "work-foo" / "half.part"));
  EXPECT_TRUE(fs::exists(root / "x.part"));
  EXPECT_TRUE(fs::exists(root / "work-bar"));
  EXPECT_TRUE(fs::exists(root / "elsewhere" / std::string(kWorkMarkerName)));
  EXPECT_TRUE(fs::is_symlink(root / "work-link"));
  // No lock files were left behind for directories that are not ours.
  EXPECT_FALSE(fs::exists(root / ".work-foo.lock"));
  EXPECT_FALSE(fs::exists(root / ".work-bar.lock"));
}

TEST(DownloadAreaTest, RefusesToTakeOverAForeignDirectoryOfItsName) {
  testing::TempDir root;
  fs::create_directory(root / "work-me");
  std::ofstream(root / "work-me" / "keep.txt") << "mine";
  EXPECT_THROW(DownloadArea(root.path(), "me"), std::system_error);
  EXPECT_TRUE(fs::exists(root / "work-me" / "keep.txt"));
}

TEST(DownloadAreaTest, RemovesItsOwnDirectoryOnExit) {
  testing::TempDir root;
  { DownloadArea area(root.path(), "x"); }
  EXPECT_TRUE(fs::is_empty(root.path()));
}

TEST(DownloadAreaTest, CanTakeWorkWhenThereIsRoomAndTheDirectoryIsWritable) {
  testing::TempDir root;
  DownloadArea area(root.path(), "me");
  std::string why;
  EXPECT_TRUE(area.can_take_work(0, &why)) << why;
  EXPECT_TRUE(area.can_take_work(1024, &why)) << why;

  // More than any file system has free.
  EXPECT_FALSE(area.can_take_work(std::numeric_limits<std::uint64_t>::max(), &why));
  EXPECT_NE(why.find("bytes free"), std::string::npos) << why;

  // Someone removed the work directory under us.
  fs::remove_all(area.work_dir());
  why.clear();
  EXPECT_FALSE(area.can_take_work(0, &why));
  EXPECT_NE(why.find(area.work_dir().string()), std::string::npos) << why;
}

}  // namespace
}  // namespace dancer::service

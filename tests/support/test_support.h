// Helpers shared by the test suites of every module.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace dancer::testing {

// A fresh directory under the system temp dir, removed with everything in it.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// Value of an environment variable naming a local test server (set by scripts/test.sh).
// When it is unset the calling test is skipped, unless DANCER_REQUIRE_INTEGRATION=1,
// in which case it fails: scripts/test.sh sets that, so CI never skips silently.
// Use as: auto url = integration_env("DANCER_TEST_SQS_ENDPOINT"); if (!url) return;
std::optional<std::string> integration_env(const char* name);

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout (stderr goes to the test log)
};
// Runs a shell command (/bin/sh -c), capturing stdout.
CommandResult run_command(const std::string& command);

// Quotes a string for /bin/sh.
std::string shell_quote(const std::string& s);

// Writes a small test video with Debian's ffmpeg CLI. kinds: "h264_mp4", "hevc_mov",
// "vp9_webm", "mjpeg_avi", "rotated_mp4" (display matrix 90), "audio_only_m4a",
// "truncated_mp4", "text_as_mp4". Returns the path written. Throws on failure.
std::filesystem::path make_test_media(const std::filesystem::path& dir, const std::string& kind,
                                      double seconds = 1.0);

std::string read_file(const std::filesystem::path& path);

// A file descriptor the test owns (opened with O_CLOEXEC, closed when it goes). Throws
// std::system_error when the file cannot be opened.
class OpenFile {
 public:
  OpenFile(const std::filesystem::path& path, int flags, unsigned mode = 0600);
  ~OpenFile();
  OpenFile(const OpenFile&) = delete;
  OpenFile& operator=(const OpenFile&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// The types of an MP4's top-level boxes in file order ("ftyp", "moov", "mdat", ...): whether
// the index comes before the media data (faststart).
std::vector<std::string> mp4_top_level_boxes(const std::filesystem::path& path);

// Points fd 2 at a file while alive, so a test can see what reached stderr (including
// what libraries write there directly).
class StderrCapture {
 public:
  explicit StderrCapture(std::filesystem::path path);
  ~StderrCapture() { restore(); }
  StderrCapture(const StderrCapture&) = delete;
  StderrCapture& operator=(const StderrCapture&) = delete;
  // Restores fd 2 and returns what was written.
  std::string finish();

 private:
  void restore();
  std::filesystem::path path_;
  int saved_ = -1;
};

// A file or folder of the test data the repository carries (tests/data: SigV4 vectors,
// event samples), found from the source tree so a fresh clone needs nothing else.
std::filesystem::path test_data(const std::string& relative);

// A file or folder of the test data that cannot be redistributed (the walking videos),
// expected in ../shared/testdata beside the checkout.
std::filesystem::path shared_test_data(const std::string& relative);

}  // namespace dancer::testing

#include "support/test_support.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <sys/wait.h>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <system_error>

namespace dancer::testing {

TempDir::TempDir() {
  std::random_device rd;
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto candidate = std::filesystem::temp_directory_path() /
                     ("dancer-test-" + std::to_string(getpid()) + "-" + std::to_string(rd()));
    if (std::filesystem::create_directory(candidate)) {
      path_ = candidate;
      return;
    }
  }
  throw std::runtime_error("cannot create a temporary directory");
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::optional<std::string> integration_env(const char* name) {
  const char* value = std::getenv(name);
  if (value != nullptr && *value != '\0') return std::string(value);
  const char* required = std::getenv("DANCER_REQUIRE_INTEGRATION");
  if (required != nullptr && std::string(required) == "1") {
    ADD_FAILURE() << name << " is not set although DANCER_REQUIRE_INTEGRATION=1";
  } else {
    // GTEST_SKIP() returns from the caller; this records the skip and lets the caller return.
    GTEST_MESSAGE_(
        ("needs the local test servers: run ./scripts/test.sh (" + std::string(name) + " unset)")
            .c_str(),
        ::testing::TestPartResult::kSkip);
  }
  return std::nullopt;
}

CommandResult run_command(const std::string& command) {
  CommandResult result;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buffer{};
  size_t n = 0;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
    result.output.append(buffer.data(), n);
  int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

std::filesystem::path make_test_media(const std::filesystem::path& dir, const std::string& kind,
                                      double seconds) {
  const std::string dur = std::to_string(seconds);
  const std::string video_src = "-f lavfi -i testsrc2=size=320x240:rate=25:duration=" + dur;
  const std::string audio_src = "-f lavfi -i sine=frequency=440:sample_rate=44100:duration=" + dur;
  std::string file;
  std::string args;
  if (kind == "h264_mp4") {
    file = "h264.mp4";
    args = video_src + " " + audio_src +
           " -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -shortest";
  } else if (kind == "hevc_mov") {
    file = "hevc.mov";
    args = video_src + " -c:v libx265 -preset ultrafast -x265-params log-level=error -tag:v hvc1";
  } else if (kind == "vp9_webm") {
    file = "vp9.webm";
    args = video_src + " -c:v libvpx-vp9 -deadline realtime -cpu-used 8 -b:v 200k";
  } else if (kind == "mjpeg_avi") {
    file = "mjpeg.avi";
    args = video_src + " -c:v mjpeg -q:v 5";
  } else if (kind == "rotated_mp4") {
    // FFmpeg 5.1's CLI turns "-metadata:s:v:0 rotate=N" into a display matrix only when the
    // stream is copied (it drops it when encoding), so encode first, then remux with the tag.
    auto upright = dir / "rotated_upright.mp4";
    auto path = dir / "rotated.mp4";
    const std::string ffmpeg = "ffmpeg -nostdin -hide_banner -loglevel error -y ";
    std::string cmd = ffmpeg + video_src + " -c:v libx264 -preset ultrafast -pix_fmt yuv420p " +
                      shell_quote(upright.string()) + " && " + ffmpeg + "-i " +
                      shell_quote(upright.string()) + " -c copy -metadata:s:v:0 rotate=90 " +
                      shell_quote(path.string());
    auto r = run_command(cmd);
    std::filesystem::remove(upright);
    if (r.exit_code != 0) throw std::runtime_error("ffmpeg failed: " + cmd);
    return path;
  } else if (kind == "audio_only_m4a") {
    file = "audio.m4a";
    args = audio_src + " -c:a aac";
  } else if (kind == "truncated_mp4" || kind == "text_as_mp4") {
    // produced below
  } else {
    throw std::invalid_argument("unknown test media kind: " + kind);
  }
  if (kind == "text_as_mp4") {
    auto path = dir / "not_a_video.mp4";
    std::ofstream(path) << "This is a text file, not a video.\n";
    return path;
  }
  if (kind == "truncated_mp4") {
    auto full = make_test_media(dir, "h264_mp4", seconds);
    auto path = dir / "truncated.mp4";
    std::string bytes = read_file(full);
    std::ofstream(path, std::ios::binary)
        .write(bytes.data(), static_cast<std::streamsize>(bytes.size() / 3));
    return path;
  }
  auto path = dir / file;
  std::string cmd =
      "ffmpeg -nostdin -hide_banner -loglevel error -y " + args + " " + shell_quote(path.string());
  auto r = run_command(cmd);
  if (r.exit_code != 0) throw std::runtime_error("ffmpeg failed: " + cmd);
  return path;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::filesystem::path test_data(const std::string& relative) {
  return std::filesystem::path(DANCER_SOURCE_DIR) / "tests/data" / relative;
}

std::filesystem::path shared_test_data(const std::string& relative) {
  return std::filesystem::path(DANCER_SHARED_TESTDATA) / relative;
}

StderrCapture::StderrCapture(std::filesystem::path path) : path_(std::move(path)) {
  std::fflush(stderr);
  saved_ = ::dup(2);
  const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (saved_ < 0 || fd < 0 || ::dup2(fd, 2) < 0) throw std::runtime_error("cannot capture fd 2");
  ::close(fd);
}

std::string StderrCapture::finish() {
  restore();
  return read_file(path_);
}

void StderrCapture::restore() {
  if (saved_ < 0) return;
  std::fflush(stderr);
  ::dup2(saved_, 2);
  ::close(saved_);
  saved_ = -1;
}

// The types of the MP4's top-level boxes in file order (ISO/IEC 14496-12 4.2: 32-bit
// big-endian size including the header, then the type; size 1 = a 64-bit size follows).
std::vector<std::string> mp4_top_level_boxes(const std::filesystem::path& path) {
  const std::string bytes = read_file(path);
  std::vector<std::string> types;
  std::size_t at = 0;
  while (at + 8 <= bytes.size()) {
    std::uint64_t size = 0;
    for (int i = 0; i < 4; ++i) size = size << 8 | static_cast<std::uint8_t>(bytes[at + i]);
    std::size_t header = 8;
    if (size == 1 && at + 16 <= bytes.size()) {
      size = 0;
      for (int i = 8; i < 16; ++i) size = size << 8 | static_cast<std::uint8_t>(bytes[at + i]);
      header = 16;
    }
    types.push_back(bytes.substr(at + 4, 4));
    if (size < header) break;  // 0 (to the end of file) or malformed
    at += size;
  }
  return types;
}

OpenFile::OpenFile(const std::filesystem::path& path, int flags, unsigned mode)
    : fd_(::open(path.c_str(), flags | O_CLOEXEC, static_cast<mode_t>(mode))) {
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), path.string());
}

OpenFile::~OpenFile() { ::close(fd_); }

}  // namespace dancer::testing

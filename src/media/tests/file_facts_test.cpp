// basic_file_facts(): size and SHA-256 checked against sha256sum, MIME types from libmagic.
#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <string>

#include "media/metadata.h"
#include "support/test_support.h"

namespace dancer::media {
namespace {

using dancer::testing::make_test_media;
using dancer::testing::run_command;
using dancer::testing::shell_quote;
using dancer::testing::TempDir;

std::string sha256sum(const std::filesystem::path& path) {
  auto result = run_command("sha256sum " + shell_quote(path.string()));
  EXPECT_EQ(result.exit_code, 0);
  return result.output.substr(0, result.output.find(' '));
}

void expect_size_and_hash_match_coreutils(const std::filesystem::path& path) {
  const auto facts = basic_file_facts(path);
  EXPECT_EQ(facts["size"].get<std::uintmax_t>(), std::filesystem::file_size(path)) << path;
  const std::string expected = sha256sum(path);
  ASSERT_EQ(expected.size(), 64u);
  EXPECT_EQ(facts["sha256"], expected) << path;
}

TEST(BasicFileFacts, HashAndSizeMatchCoreutils) {
  TempDir dir;
  expect_size_and_hash_match_coreutils(make_test_media(dir.path(), "h264_mp4"));
  expect_size_and_hash_match_coreutils(make_test_media(dir.path(), "text_as_mp4"));
}

// Several read chunks with a partial last one, so the streaming loop is exercised.
TEST(BasicFileFacts, HashOfMultiChunkFileMatchesCoreutils) {
  TempDir dir;
  const auto path = dir / "random.bin";
  std::mt19937 generator(12345);
  std::string bytes(3 * 65536 + 777, '\0');
  for (char& byte : bytes) byte = static_cast<char>(generator() & 0xFF);
  std::ofstream(path, std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  expect_size_and_hash_match_coreutils(path);
}

TEST(BasicFileFacts, EmptyFile) {
  TempDir dir;
  const auto path = dir / "empty";
  std::ofstream(path).close();
  expect_size_and_hash_match_coreutils(path);
  const auto facts = basic_file_facts(path);
  EXPECT_EQ(facts["size"], 0);
  EXPECT_EQ(facts["extension"], "");
}

TEST(BasicFileFacts, DetectsTypesFromContentNotName) {
  TempDir dir;
  EXPECT_EQ(basic_file_facts(make_test_media(dir.path(), "h264_mp4"))["detected_type"],
            "video/mp4");
  EXPECT_EQ(basic_file_facts(make_test_media(dir.path(), "vp9_webm"))["detected_type"],
            "video/webm");
  EXPECT_EQ(basic_file_facts(make_test_media(dir.path(), "mjpeg_avi"))["detected_type"],
            "video/x-msvideo");
  EXPECT_EQ(basic_file_facts(make_test_media(dir.path(), "hevc_mov"))["detected_type"],
            "video/quicktime");
  // Named .mp4, but text.
  const auto text_facts = basic_file_facts(make_test_media(dir.path(), "text_as_mp4"));
  EXPECT_EQ(text_facts["detected_type"], "text/plain");
  EXPECT_EQ(text_facts["extension"], ".mp4");
}

TEST(BasicFileFacts, ExtensionIsLowerCased) {
  TempDir dir;
  const auto path = dir / "CLIP.MP4";
  std::ofstream(path) << "x";
  EXPECT_EQ(basic_file_facts(path)["extension"], ".mp4");
}

TEST(BasicFileFacts, MissingFileIsNotFound) {
  TempDir dir;
  try {
    basic_file_facts(dir / "missing.mp4");
    FAIL() << "no exception";
  } catch (const MediaError& error) {
    EXPECT_EQ(error.code(), MediaErrorCode::kNotFound);
  }
}

TEST(BasicFileFacts, DirectoryIsNotFound) {
  TempDir dir;
  try {
    basic_file_facts(dir.path());
    FAIL() << "no exception";
  } catch (const MediaError& error) {
    EXPECT_EQ(error.code(), MediaErrorCode::kNotFound);
  }
}

}  // namespace
}  // namespace dancer::media

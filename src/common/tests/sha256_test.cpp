// SHA-256 against the FIPS 180-2 test vectors, incrementally, and of a file.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "common/sha256.h"

namespace dancer::common {
namespace {

TEST(Sha256, FipsVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256 incremental;
  const std::string part = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  incremental.update(part.data(), 20);
  incremental.update(part.data() + 20, part.size() - 20);
  EXPECT_EQ(incremental.hex(), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256, FileDigestIsItsSizeAndTheDigestOfItsBytes) {
  const auto path = std::filesystem::temp_directory_path() / "dancer_sha256_test.bin";
  std::string bytes(200000, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 7);
  std::ofstream(path, std::ios::binary) << bytes;
  const FileDigest digest = sha256_file(path);
  EXPECT_EQ(digest.size, bytes.size());
  EXPECT_EQ(digest.sha256, sha256_hex(bytes));
  std::filesystem::remove(path);
  EXPECT_THROW(sha256_file(path), std::system_error);
}

}  // namespace
}  // namespace dancer::common

#include "aws/uri.h"

#include <gtest/gtest.h>

namespace dancer::aws {
namespace {

TEST(UriEncode, KeepsOnlyUnreservedCharacters) {
  const std::string unreserved =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~";
  EXPECT_EQ(uri_encode(unreserved, false), unreserved);
  EXPECT_EQ(uri_encode(" !\"#$%&'()*+,:;<=>?@[\\]^`{|}", false),
            "%20%21%22%23%24%25%26%27%28%29%2A%2B%2C%3A%3B%3C%3D%3E%3F%40%5B%5C%5D%5E%60%7B%7C%7D");
}

TEST(UriEncode, EncodesUtf8BytesWithUpperCaseHex) {
  EXPECT_EQ(uri_encode("\xE1\x88\xB4", false), "%E1%88%B4");
  EXPECT_EQ(uri_encode("caf\xC3\xA9.mp4", false), "caf%C3%A9.mp4");
  EXPECT_EQ(uri_encode(std::string("\0\xFF", 2), false), "%00%FF");
}

TEST(UriEncode, SlashKeptOnlyOnRequest) {
  EXPECT_EQ(uri_encode("videos/2024/a b.mp4", true), "videos/2024/a%20b.mp4");
  EXPECT_EQ(uri_encode("videos/2024/a b.mp4", false), "videos%2F2024%2Fa%20b.mp4");
}

TEST(UriEncode, SpaceIsPercent20AndPlusIsEncoded) {
  EXPECT_EQ(uri_encode("a b+c", false), "a%20b%2Bc");
}

TEST(UriDecode, DecodesEscapesInEitherCase) {
  EXPECT_EQ(uri_decode("a%20b%2fc%2F", false), "a b/c/");
  EXPECT_EQ(uri_decode("%E1%88%B4", false), "\xE1\x88\xB4");
}

TEST(UriDecode, PlusIsSpaceOnlyInFormEncoding) {
  // S3 event notifications form-encode object keys: "my+video%2B1.mp4" is "my video+1.mp4".
  EXPECT_EQ(uri_decode("my+video%2B1.mp4", true), "my video+1.mp4");
  EXPECT_EQ(uri_decode("my+video%2B1.mp4", false), "my+video+1.mp4");
}

TEST(UriDecode, MalformedEscapesAreKeptLiterally) {
  EXPECT_EQ(uri_decode("100%", false), "100%");
  EXPECT_EQ(uri_decode("%4", false), "%4");
  EXPECT_EQ(uri_decode("%zz%4g", false), "%zz%4g");
  EXPECT_EQ(uri_decode("%%41", false), "%A");
}

TEST(UriRoundTrip, DecodeInvertsEncode) {
  std::string all_bytes;
  for (int i = 0; i < 256; ++i) all_bytes.push_back(static_cast<char>(i));
  EXPECT_EQ(uri_decode(uri_encode(all_bytes, false), false), all_bytes);
  EXPECT_EQ(uri_decode(uri_encode(all_bytes, true), true), all_bytes);
}

}  // namespace
}  // namespace dancer::aws

#include "common/strings.h"

#include <gtest/gtest.h>

#include <string>

namespace dancer::common {
namespace {

TEST(AsciiLower, LowersOnlyAsciiLetters) {
  EXPECT_EQ(ascii_lower("Content-Type: X-AMZ-Date 09"), "content-type: x-amz-date 09");
  EXPECT_EQ(ascii_lower(""), "");
  // UTF-8 bytes (here "É") and punctuation around 'A'..'Z' ('@', '[') are left alone.
  EXPECT_EQ(ascii_lower("\xC3\x89T\xC3\x89@[Z]"), "\xC3\x89t\xC3\x89@[z]");
}

TEST(HexEncode, WritesTwoLowerCaseDigitsPerByte) {
  EXPECT_EQ(hex_encode(std::string_view("\x01\xab\xff\x00", 4)), "01abff00");
  EXPECT_EQ(hex_encode(std::string_view()), "");
  const unsigned char bytes[] = {0xde, 0xad, 0xbe, 0xef};
  EXPECT_EQ(hex_encode(bytes, sizeof bytes), "deadbeef");
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  const std::string hex = hex_encode(all);
  ASSERT_EQ(hex.size(), 512u);
  EXPECT_EQ(hex.substr(0, 6), "000102");
  EXPECT_EQ(hex.substr(506), "fdfeff");
}

TEST(Strings, EscapeMarkupEscapesEveryCharacterThatOpensMarkupOrEndsAnAttribute) {
  EXPECT_EQ(escape_markup("a<b>&\"c'd"), "a&lt;b&gt;&amp;&quot;c&apos;d");
  EXPECT_EQ(escape_markup("plain \xc3\xa9"), "plain \xc3\xa9");
}

TEST(Strings, Base64MatchesTheRfc4648Vectors) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_encode(std::string("\0\xff", 2)), "AP8=");
}

}  // namespace
}  // namespace dancer::common

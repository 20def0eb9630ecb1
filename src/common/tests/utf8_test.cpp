#include "common/utf8.h"

#include <gtest/gtest.h>

namespace dancer::common {
namespace {

TEST(Utf8, ValidityFollowsRfc3629) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("plain ascii"));
  EXPECT_TRUE(is_valid_utf8("caf\xC3\xA9 \xE2\x9C\x93 \xF0\x9F\x9A\xB6"));  // é ✓ 🚶
  EXPECT_FALSE(is_valid_utf8("\xFF"));                                      // never a lead byte
  EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));                                  // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));                              // surrogate U+D800
  EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));                          // above U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xE2\x9C"));                                  // truncated
  EXPECT_FALSE(is_valid_utf8("\x80"));                                      // stray continuation
}

TEST(Utf8, InvalidSequencesBecomeReplacementCharacters) {
  EXPECT_EQ(to_valid_utf8("ok \xC3\xA9"), "ok \xC3\xA9");
  EXPECT_EQ(to_valid_utf8("a\xFF"
                          "b"),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_TRUE(is_valid_utf8(to_valid_utf8("\xC0\xAF\xED\xA0\x80\xF4\x90\x80\x80\xE2\x9C")));
}

}  // namespace
}  // namespace dancer::common

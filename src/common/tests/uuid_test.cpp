#include "common/uuid.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace dancer::common {
namespace {

TEST(RandomUuid, IsACanonicalVersion4Uuid) {
  for (int i = 0; i < 200; ++i) {
    const std::string uuid = random_uuid_v4();
    ASSERT_TRUE(is_canonical_uuid(uuid)) << uuid;
    EXPECT_EQ(uuid[14], '4') << uuid;                                          // version
    EXPECT_NE(std::string("89ab").find(uuid[19]), std::string::npos) << uuid;  // variant
  }
}

TEST(RandomUuid, DoesNotRepeat) {
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) seen.insert(random_uuid_v4());
  EXPECT_EQ(seen.size(), 10000u);
}

TEST(CanonicalUuid, AcceptsOnlyTheLowerCaseHyphenatedForm) {
  EXPECT_TRUE(is_canonical_uuid("123e4567-e89b-42d3-a456-426614174000"));
  EXPECT_FALSE(is_canonical_uuid("123E4567-E89B-42D3-A456-426614174000"));
  EXPECT_FALSE(is_canonical_uuid("123e4567e89b42d3a456426614174000"));
  EXPECT_FALSE(is_canonical_uuid("{123e4567-e89b-42d3-a456-426614174000}"));
  EXPECT_FALSE(is_canonical_uuid("123e4567-e89b-42d3-a456-42661417400g"));
  EXPECT_FALSE(is_canonical_uuid("../../etc/passwd-aaaa-bbbb-cccc-dddd"));
  EXPECT_FALSE(is_canonical_uuid(""));
}

}  // namespace
}  // namespace dancer::common

// Backend-independent parts of job_store.h: the text validator and open_job_store_waiting's
// handling of permanent errors and of an unreachable server.
#include "store/job_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <vector>

namespace dancer::store {
namespace {

struct Utf8Case {
  std::string bytes;
  bool valid;
};

// Expected values are what Python 3's strict decoder says: bytes.decode("utf-8") succeeds.
TEST(StorableText, AgreesWithPythonsStrictUtf8DecoderOnEdgeCases) {
  const std::vector<Utf8Case> cases = {
      {"", true},
      {"plain ascii key.mp4", true},
      {"\xc3\xbcn\xc3\xaf"
       "c\xc3\xb8"
       "d\xc3\xa9",
       true},
      {"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e/\xf0\x9f\x95\xba\xf0\x9f\x92\x83.mp4", true},
      {"\x7f", true},
      {"\xc2\x80", true},          // U+0080, smallest 2-byte
      {"\xdf\xbf", true},          // U+07FF
      {"\xe0\xa0\x80", true},      // U+0800, smallest 3-byte
      {"\xef\xbf\xbf", true},      // U+FFFF (a noncharacter, still valid UTF-8)
      {"\xf0\x90\x80\x80", true},  // U+10000, smallest 4-byte
      {"\xf4\x8f\xbf\xbf", true},  // U+10FFFF, the last code point
      {"\xff", false},             // what %FF in an S3 event key decodes to
      {"\xfe", false},
      {"\xffwalk.mp4", false},
      {"\x80", false},  // stray continuation bytes
      {"\xbf", false},
      {"a\x80"
       "b",
       false},
      {"\xc0\x80", false},  // overlong NUL ("modified UTF-8")
      {"\xc1\xbf", false},  // overlong U+007F
      {"\xe0\x80\x80", false},
      {"\xe0\x9f\xbf", false},  // overlong U+07FF
      {"\xf0\x80\x80\x80", false},
      {"\xf0\x8f\xbf\xbf", false},          // overlong U+FFFF
      {"\xed\x9f\xbf", true},               // U+D7FF, just below the surrogates
      {"\xed\xa0\x80", false},              // U+D800
      {"\xed\xbf\xbf", false},              // U+DFFF
      {"\xed\xa0\x80\xed\xb0\x80", false},  // CESU-8 surrogate pair
      {"\xf4\x90\x80\x80", false},          // U+110000
      {"\xf5\x80\x80\x80", false},
      {"\xf7\xbf\xbf\xbf", false},
      {"\xf8\x88\x80\x80\x80", false},      // 5-byte form
      {"\xfc\x84\x80\x80\x80\x80", false},  // 6-byte form
      {"\xc2", false},                      // truncated sequences
      {"\xe0\xa0", false},
      {"\xf0\x90\x80", false},
      {"abc\xe2\x82", false},
      {"\xe2\x82\xac", true},
      {"\xe2\x82\xacx", true},
      {"\xe2(\xa1", false},
      {"\xc3(", false},
      {"\xef\xbb\xbf"
       "bom",
       true},
      {"\xef\xbf\xbe", true},
  };
  for (const auto& [bytes, valid] : cases) {
    EXPECT_EQ(is_storable_text(bytes), valid) << ::testing::PrintToString(bytes);
  }
}

TEST(StorableText, NulIsValidUtf8ButNotStorable) {
  EXPECT_FALSE(is_storable_text(std::string("K\0junk", 6)));
  EXPECT_FALSE(is_storable_text(std::string(1, '\0')));
  EXPECT_TRUE(is_storable_text("K"));
}

TEST(StorableText, ToStorableTextReplacesWhatCannotBeStored) {
  EXPECT_EQ(to_storable_text("plain"), "plain");
  EXPECT_EQ(to_storable_text("\xc3\xbc"), "\xc3\xbc");
  EXPECT_EQ(to_storable_text(std::string("a\0b", 3)),
            "a\xef\xbf\xbd"
            "b");
  EXPECT_EQ(to_storable_text("a\xff"
                             "b"),
            "a\xef\xbf\xbd"
            "b");
  for (const std::string bad : {"\xed\xa0\x80", "\xc0\x80", "\xf4\x90\x80\x80", "abc\xe2\x82"}) {
    const std::string fixed = to_storable_text(bad);
    EXPECT_TRUE(is_storable_text(fixed)) << ::testing::PrintToString(fixed);
    EXPECT_NE(fixed.find("\xef\xbf\xbd"), std::string::npos);
  }
}

StoreErrorCode validation_error(const ObjectVersion& object) {
  try {
    validate_object(object);
  } catch (const StoreError& e) {
    EXPECT_FALSE(e.transient());
    return e.code();
  }
  return StoreErrorCode::kOther;
}

TEST(ValidateObject, ChecksEveryFieldAndTheLengthLimit) {
  const ObjectVersion good{"uploads", "walk.mp4", "etag", "v1", 1};
  EXPECT_NO_THROW(validate_object(good));
  auto with = [&](auto change) {
    ObjectVersion object = good;
    change(object);
    return validation_error(object);
  };
  EXPECT_EQ(with([](auto& o) { o.bucket = "\xff"; }), StoreErrorCode::kInvalidObject);
  EXPECT_EQ(with([](auto& o) { o.key = std::string("K\0junk", 6); }),
            StoreErrorCode::kInvalidObject);
  EXPECT_EQ(with([](auto& o) { o.etag = "\xed\xa0\x80"; }), StoreErrorCode::kInvalidObject);
  EXPECT_EQ(with([](auto& o) { o.version_id = "\xc0\x80"; }), StoreErrorCode::kInvalidObject);
  EXPECT_EQ(with([](auto& o) { o.key = std::string(kMaxObjectFieldBytes + 1, 'k'); }),
            StoreErrorCode::kInvalidObject);
  ObjectVersion longest = good;
  longest.key = std::string(kMaxObjectFieldBytes, 'k');
  EXPECT_NO_THROW(validate_object(longest));
  EXPECT_TRUE(is_storable_object(longest));
  longest.key += 'k';
  EXPECT_FALSE(is_storable_object(longest));
  EXPECT_FALSE(is_storable_object({"uploads", std::string("K\0junk", 6), "", "", 1}));
}

TEST(ValidateObject, TheMessageNamesTheFieldAndEscapesTheBytes) {
  try {
    validate_object({"uploads",
                     "\xff"
                     "a\\b",
                     "", "", 1});
    FAIL() << "accepted invalid UTF-8";
  } catch (const StoreError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("key"), std::string::npos) << message;
    EXPECT_NE(message.find("\\xffa\\x5cb"), std::string::npos) << message;
    EXPECT_TRUE(is_storable_text(message)) << message;
  }
}

TEST(OpenJobStoreWaiting, AnInvalidUrlFailsAtOnce) {
  int retries = 0;
  try {
    auto store = open_job_store_waiting("mysql://host/db", {}, nullptr,
                                        [&](const StoreError&) { ++retries; });
    FAIL() << "opened an unsupported URL";
  } catch (const StoreError& e) {
    EXPECT_EQ(e.code(), StoreErrorCode::kInvalidUrl);
  }
  EXPECT_EQ(retries, 0);
}

TEST(OpenJobStoreWaiting, AnUnreachableServerIsRetriedUntilCancelled) {
  std::atomic<bool> cancel{false};
  std::vector<StoreErrorCode> seen;
  OpenBackoff backoff;
  backoff.initial = std::chrono::milliseconds(1);
  backoff.max = std::chrono::milliseconds(5);
  // Port 1 on loopback: nothing listens, the connection is refused at once.
  auto store = open_job_store_waiting(
      "postgresql://postgres:secret@127.0.0.1:1/postgres", {}, &cancel,
      [&](const StoreError& e) {
        seen.push_back(e.code());
        if (seen.size() == 3) cancel = true;
      },
      backoff);
  EXPECT_EQ(store, nullptr);
  ASSERT_EQ(seen.size(), 3u);
  for (const auto code : seen) EXPECT_EQ(code, StoreErrorCode::kUnavailable);
}

TEST(OpenJobStoreWaiting, ACancelledWaitDoesNotTryAtAll) {
  std::atomic<bool> cancel{true};
  int retries = 0;
  auto store = open_job_store_waiting("sqlite:///:memory:", {}, &cancel,
                                      [&](const StoreError&) { ++retries; });
  EXPECT_EQ(store, nullptr);
  EXPECT_EQ(retries, 0);
}

}  // namespace
}  // namespace dancer::store

#include "service/events.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/test_support.h"

namespace dancer::service {
namespace {

std::string sample(const std::string& name) {
  return testing::read_file(testing::test_data("events/" + name));
}

TEST(EventsTest, DirectS3Notification) {
  ParsedMessage m = parse_message_body(sample("s3-objectcreated-put.json"));
  ASSERT_EQ(m.kind, EventKind::kObjectsCreated) << m.reason;
  ASSERT_EQ(m.objects.size(), 1u);
  EXPECT_EQ(m.objects[0].bucket, "mybucket");
  EXPECT_EQ(m.objects[0].key, "HappyFace.jpg");
  EXPECT_EQ(m.objects[0].size, 1024);
  EXPECT_EQ(m.objects[0].etag, "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(m.objects[0].version_id, "096fKKXTRTtl3on89fVO.nfljtsv6qko");
  EXPECT_EQ(m.objects[0].event_name, "ObjectCreated:Put");
}

TEST(EventsTest, FormEncodedKeyIsDecoded) {
  ParsedMessage m = parse_message_body(sample("s3-objectcreated-put-encoded-key.json"));
  ASSERT_EQ(m.kind, EventKind::kObjectsCreated);
  EXPECT_EQ(m.objects.at(0).key, "red flower.jpg");
  ParsedMessage old = parse_message_body(sample("aws-lambda-go-s3-event.json"));
  ASSERT_EQ(old.kind, EventKind::kObjectsCreated);
  EXPECT_EQ(old.objects.at(0).key, "Happy Face.jpg");
}

TEST(EventsTest, SnsWrappedNotification) {
  ParsedMessage m = parse_message_body(sample("sns-wrapped-s3-objectcreated-put.json"));
  ASSERT_EQ(m.kind, EventKind::kObjectsCreated) << m.reason;
  EXPECT_EQ(m.objects.at(0).key, "HappyFace.jpg");
  // An SNS envelope whose message is not an S3 event is malformed, not a crash.
  EXPECT_EQ(parse_message_body(sample("sns-envelope-docs-example.json")).kind,
            EventKind::kMalformed);
}

TEST(EventsTest, EventBridgeObjectCreated) {
  ParsedMessage m = parse_message_body(sample("eventbridge-object-created.json"));
  ASSERT_EQ(m.kind, EventKind::kObjectsCreated) << m.reason;
  EXPECT_EQ(m.objects.at(0).bucket, "DOC-EXAMPLE-BUCKET1");
  EXPECT_EQ(m.objects.at(0).key, "example-key");
  EXPECT_EQ(m.objects.at(0).size, 5);
  EXPECT_EQ(m.objects.at(0).etag, "b1946ac92492d2347c6235b4d2611184");
  EXPECT_EQ(m.objects.at(0).version_id, "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e");
}

TEST(EventsTest, TestEventIsRecognised) {
  EXPECT_EQ(parse_message_body(sample("s3-test-event.json")).kind, EventKind::kTestEvent);
}

TEST(EventsTest, ManyRecordsAndNonCreateRecords) {
  std::string body = R"({"Records":[
    {"eventVersion":"2.2","eventName":"ObjectCreated:CompleteMultipartUpload",
     "s3":{"bucket":{"name":"b"},"object":{"key":"uploads/a%2Bb+c.mp4","size":10,"eTag":"e1"}}},
    {"eventVersion":"2.1","eventName":"ObjectRemoved:Delete",
     "s3":{"bucket":{"name":"b"},"object":{"key":"uploads/x.mp4"}}},
    {"eventVersion":"2.5","eventName":"ObjectCreated:Copy",
     "s3":{"bucket":{"name":"b"},"object":{"key":"uploads/%E2%9C%93.mp4","size":3,"eTag":"e3"}}}]})";
  ParsedMessage m = parse_message_body(body);
  ASSERT_EQ(m.kind, EventKind::kObjectsCreated) << m.reason;
  ASSERT_EQ(m.objects.size(), 2u);
  EXPECT_EQ(m.objects[0].key, "uploads/a+b c.mp4");
  EXPECT_EQ(m.objects[1].key, "uploads/\xE2\x9C\x93.mp4");
  EXPECT_EQ(
      parse_message_body(R"({"Records":[{"eventVersion":"2.1","eventName":"ObjectRemoved:Delete",
     "s3":{"bucket":{"name":"b"},"object":{"key":"k"}}}]})")
          .kind,
      EventKind::kIgnored);
}

TEST(EventsTest, MalformedBodies) {
  for (
      const char* body :
      {"", "not json", "[]", "42", "{}", R"({"Records":"x"})", R"({"Records":[1]})",
       R"({"Records":[{"eventName":"ObjectCreated:Put"}]})",
       R"({"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{}}}]})",
       R"({"Records":[{"eventVersion":"3.0","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"k"}}}]})",
       R"({"Type":"Notification","Message":"{not json"})",
       R"({"source":"aws.s3","detail-type":"Object Created","detail":{}})"}) {
    EXPECT_EQ(parse_message_body(body).kind, EventKind::kMalformed) << body;
  }
}

// Three records where the middle one is broken in the given way.
std::string three_records_with_broken_middle(const std::string& broken) {
  return R"({"Records":[
    {"eventVersion":"2.1","eventName":"ObjectCreated:Put",
     "s3":{"bucket":{"name":"b"},"object":{"key":"uploads/one.mp4","size":1,"eTag":"e1"}}},
    )" + broken +
         R"(,
    {"eventVersion":"2.3","eventName":"ObjectCreated:Put",
     "s3":{"bucket":{"name":"b"},"object":{"key":"uploads/three.mp4","size":3,"eTag":"e3"}}}]})";
}

std::string record_with(const std::string& version, const std::string& bucket,
                        const std::string& object) {
  return R"({"eventVersion":")" + version +
         R"(","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":")" + bucket +
         R"("},"object":)" + object + "}}";
}

TEST(EventsTest, OneBrokenRecordDoesNotDiscardTheOthers) {
  struct Case {
    std::string record;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {record_with("2.1", "b", R"({"size":5,"eTag":"e2"})"), "record without object key"},
      {record_with("3.0", "b", R"({"key":"uploads/two.mp4"})"),
       "unsupported eventVersion \"3.0\" (only 2.x is understood)"},
      {record_with("2.1", "b", R"({"key":"uploads/%FF.mp4"})"), "key is not valid UTF-8"},
      // Overlong '/' (C0 AF) and a UTF-16 surrogate (ED A0 80) are not UTF-8 either.
      {record_with("2.1", "b", R"({"key":"uploads/%C0%AF.mp4"})"), "key is not valid UTF-8"},
      {record_with("2.1", "b", R"({"key":"uploads/%ED%A0%80.mp4"})"), "key is not valid UTF-8"},
      {record_with("2.1", "b", R"({"key":"K%00junk"})"), "key contains a NUL character"},
      {record_with("2.1", "b", R"({"key":")" + std::string(1025, 'k') + "\"}"),
       "key is longer than 1024 bytes"},
      {record_with("2.1", "b/../c", R"({"key":"k"})"), "bucket name is not a valid S3 bucket name"},
      {record_with("2.1", "", R"({"key":"k"})"), "record without bucket name"},
      {record_with("2.1", "b", R"({"key":"k","eTag":"e\u0001"})"), "eTag is not printable ASCII"},
      {record_with("2.1", "b", R"({"key":"k","versionId":"v\n1"})"),
       "versionId is not printable ASCII"},
      {R"({"eventVersion":"2.1","eventName":"ObjectCreated:Put"})", "record without \"s3\""},
      {"7", "record is not a JSON object"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.record);
    ParsedMessage m = parse_message_body(three_records_with_broken_middle(c.record));
    ASSERT_EQ(m.kind, EventKind::kObjectsCreated) << m.reason;
    ASSERT_EQ(m.objects.size(), 2u);
    EXPECT_EQ(m.objects[0].key, "uploads/one.mp4");
    EXPECT_EQ(m.objects[1].key, "uploads/three.mp4");
    ASSERT_EQ(m.rejected.size(), 1u);
    EXPECT_EQ(m.rejected[0].index, 1u);
    EXPECT_EQ(m.rejected[0].reason, c.reason);
    EXPECT_NE(m.reason.find(c.reason), std::string::npos) << m.reason;
  }
}

TEST(EventsTest, AcceptsEveryMinorOfVersionTwoAndLegalUnusualNames) {
  for (const char* version : {"2.0", "2.1", "2.2", "2.3", "2.4", "2.10"}) {
    ParsedMessage m =
        parse_message_body(R"({"Records":[)" + record_with(version, "b", R"({"key":"k"})") + "]}");
    EXPECT_EQ(m.kind, EventKind::kObjectsCreated) << version << ": " << m.reason;
  }
  // Legacy us-east-1 bucket names, a 1024-byte key, a tab (legal in S3 keys), 4-byte UTF-8.
  ParsedMessage m = parse_message_body(
      R"({"Records":[)" + record_with("2.1", "Legacy_Bucket.Name", R"({"key":"a%09b"})") + "," +
      record_with("2.1", "b", R"({"key":")" + std::string(1024, 'k') + "\"}") + "," +
      record_with("2.1", "b", R"({"key":"%F0%9F%92%83.mp4"})") + "]}");
  ASSERT_EQ(m.kind, EventKind::kObjectsCreated) << m.reason;
  ASSERT_EQ(m.objects.size(), 3u);
  EXPECT_TRUE(m.rejected.empty());
  EXPECT_EQ(m.objects[0].key, "a\tb");
  EXPECT_EQ(m.objects[2].key, "\xF0\x9F\x92\x83.mp4");
}

TEST(EventsTest, MissingETagStaysEmpty) {
  ParsedMessage m = parse_message_body(R"({"Records":[)" +
                                       record_with("2.1", "b", R"({"key":"k","size":4})") + "]}");
  ASSERT_EQ(m.kind, EventKind::kObjectsCreated) << m.reason;
  EXPECT_EQ(m.objects.at(0).etag, "");
  EXPECT_EQ(m.objects.at(0).version_id, "");
}

TEST(EventsTest, AllRecordsBrokenIsMalformed) {
  ParsedMessage m =
      parse_message_body(R"({"Records":[)" + record_with("3.0", "b", R"({"key":"k"})") + "," +
                         record_with("2.1", "b", R"({"key":"%FF"})") + "," +
                         R"({"eventVersion":"2.1","eventName":"ObjectRemoved:Delete","s3":{}}]})");
  EXPECT_EQ(m.kind, EventKind::kMalformed);
  EXPECT_TRUE(m.objects.empty());
  ASSERT_EQ(m.rejected.size(), 2u);
  EXPECT_EQ(m.rejected[0].index, 0u);
  EXPECT_EQ(m.rejected[1].index, 1u);
  EXPECT_EQ(m.rejected[1].reason, "key is not valid UTF-8");
  EXPECT_NE(m.reason.find("2 record(s) rejected"), std::string::npos) << m.reason;
}

TEST(EventsTest, SnsWrappedMessageWithABrokenRecord) {
  const std::string inner =
      three_records_with_broken_middle(record_with("2.1", "b", R"({"key":"K%00junk"})"));
  const std::string body =
      nlohmann::json{{"Type", "Notification"}, {"MessageId", "m"}, {"Message", inner}}.dump();
  ParsedMessage m = parse_message_body(body);
  ASSERT_EQ(m.kind, EventKind::kObjectsCreated) << m.reason;
  EXPECT_EQ(m.objects.size(), 2u);
  ASSERT_EQ(m.rejected.size(), 1u);
  EXPECT_EQ(m.rejected[0].reason, "key contains a NUL character");
}

TEST(EventsTest, EventBridgeRecordWithUnsafeKeyIsRejected) {
  nlohmann::json doc = nlohmann::json::parse(sample("eventbridge-object-created.json"));
  // EventBridge keys are not form-encoded: the NUL arrives as a JSON escape.
  doc["detail"]["object"]["key"] = std::string("K\0junk", 6);
  ParsedMessage m = parse_message_body(doc.dump());
  EXPECT_EQ(m.kind, EventKind::kMalformed);
  ASSERT_EQ(m.rejected.size(), 1u);
  EXPECT_EQ(m.rejected[0].reason, "key contains a NUL character");
  doc["detail"]["object"]["key"] = "ok.mp4";
  doc["detail"]["bucket"]["name"] = "bad bucket";
  m = parse_message_body(doc.dump());
  EXPECT_EQ(m.kind, EventKind::kMalformed);
  EXPECT_EQ(m.reason, "1 record(s) rejected (record 0: bucket name is not a valid S3 bucket name)");
}

TEST(EventsTest, BuiltNotificationRoundTrips) {
  const std::string key = "uploads/walk of fame+1 ✓/../clip.mp4";
  std::string body = make_object_created_body("dancer-uploads", key, 1234, "abc", "us-east-1");
  ParsedMessage m = parse_message_body(body);
  ASSERT_EQ(m.kind, EventKind::kObjectsCreated) << m.reason;
  EXPECT_EQ(m.objects.at(0).key, key);
  EXPECT_EQ(m.objects.at(0).size, 1234);
  EXPECT_EQ(m.objects.at(0).etag, "abc");
  EXPECT_EQ(body.find(' '), std::string::npos);  // spaces are form-encoded as '+'
}

}  // namespace
}  // namespace dancer::service

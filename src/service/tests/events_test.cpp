#include "service/events.h"

#include <gtest/gtest.h>

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

// Parsing of SQS message bodies that announce S3 uploads. Three envelopes reach the
// queue in practice: S3 -> SQS directly ({"Records": [...]}), S3 -> SNS -> SQS without
// raw delivery ({"Type": "Notification", "Message": "<S3 event JSON>"}), and
// S3 -> EventBridge -> SQS ({"source": "aws.s3", "detail-type": "Object Created"}).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dancer::service {

struct ObjectCreated {
  std::string bucket;
  std::string key;  // decoded: '+' -> ' ', then %XX
  std::string etag;
  std::string version_id;
  std::string sequencer;
  std::string event_name;  // "ObjectCreated:Put", "Object Created", ...
  std::int64_t size = -1;  // -1 when the event has none
};

enum class EventKind {
  kObjectsCreated,  // one or more ObjectCreated records
  kTestEvent,       // s3:TestEvent sent when a notification configuration is saved
  kIgnored,         // well-formed but nothing to do (deletes, other event types)
  kMalformed,       // not JSON, or not a shape we know
};

struct ParsedMessage {
  EventKind kind = EventKind::kMalformed;
  std::vector<ObjectCreated> objects;
  std::string reason;  // why ignored / malformed
};

ParsedMessage parse_message_body(std::string_view body);

// Builds the S3 -> SQS notification body S3 itself would send for an upload (used by
// `send-test-message` and the local demo).
std::string make_object_created_body(const std::string& bucket, const std::string& key,
                                     std::int64_t size, const std::string& etag,
                                     const std::string& region);

}  // namespace dancer::service

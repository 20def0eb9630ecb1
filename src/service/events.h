// Parsing of SQS message bodies that announce S3 uploads. Three envelopes reach the
// queue in practice: S3 -> SQS directly ({"Records": [...]}), S3 -> SNS -> SQS without
// raw delivery ({"Type": "Notification", "Message": "<S3 event JSON>"}), and
// S3 -> EventBridge -> SQS ({"source": "aws.s3", "detail-type": "Object Created"}).
#pragma once

#include <cstddef>
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

// A record that announced an upload but cannot be acted on: unsupported eventVersion,
// missing fields, or a key/bucket/eTag/versionId that is not safe to store and use.
struct RejectedRecord {
  std::size_t index = 0;  // position in "Records" (0 for an EventBridge event)
  std::string reason;     // e.g. "key is not valid UTF-8"
};

struct ParsedMessage {
  EventKind kind = EventKind::kMalformed;
  std::vector<ObjectCreated> objects;  // the valid records only
  std::string reason;                  // why ignored / malformed
  std::vector<RejectedRecord> rejected;
};

// One broken record does not discard the others: the valid ones are in `objects`, the
// rest in `rejected`. kind is kObjectsCreated when at least one record is valid,
// kIgnored when nothing was rejected and nothing is to be done (deletes, ...), and
// kMalformed when the message holds nothing usable (then `reason` sums up `rejected`).
ParsedMessage parse_message_body(std::string_view body);

// The checks applied to every record, exposed for callers that take names from elsewhere.
// Each returns an empty string when the value is acceptable, else the reason.
// Keys (already decoded): 1..1024 bytes of valid UTF-8 without NUL (S3's own limit is
// 1024 bytes of UTF-8; NUL cuts C strings and PostgreSQL text cannot hold it, so
// "K\0junk" would alias the object "K").
std::string check_object_key(std::string_view key);
// Bucket names: 1..255 characters of [A-Za-z0-9._-], the legacy us-east-1 rules, which
// include every name the current rules allow.
std::string check_bucket_name(std::string_view bucket);

// Builds the S3 -> SQS notification body S3 itself would send for an upload (used by
// `send-test-message` and the local demo).
std::string make_object_created_body(const std::string& bucket, const std::string& key,
                                     std::int64_t size, const std::string& etag,
                                     const std::string& region);

}  // namespace dancer::service

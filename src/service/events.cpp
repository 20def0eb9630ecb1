#include "service/events.h"

#include <algorithm>
#include <optional>
#include <utility>

#include <nlohmann/json.hpp>

#include "aws/uri.h"
#include "common/utf8.h"

namespace dancer::service {
namespace {

using nlohmann::json;

std::string string_field(const json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end() || !it->is_string()) return {};
  return it->get<std::string>();
}

std::int64_t size_field(const json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end()) return -1;
  if (it->is_number_integer()) return it->get<std::int64_t>();
  if (it->is_number_unsigned()) return static_cast<std::int64_t>(it->get<std::uint64_t>());
  return -1;
}

// S3 event keys are form-encoded ("red flower.jpg" arrives as "red+flower.jpg"),
// per the S3 User Guide "Event message structure".
std::string decode_event_key(const std::string& raw) { return aws::uri_decode(raw, true); }

// ETags in events are bare hex, but be lenient with quoted ones.
std::string strip_quotes(std::string etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    etag = etag.substr(1, etag.size() - 2);
  }
  return etag;
}

ParsedMessage malformed(std::string reason) {
  return ParsedMessage{EventKind::kMalformed, {}, std::move(reason), {}};
}

// eTag, versionId and sequencer are ASCII tokens S3 generates (hex, "null", URL-safe
// version ids; an old fixture's sequencer holds a space). Anything else did not come
// from S3 and must not reach a header, a log line or the database.
std::string check_token(std::string_view value, const char* what) {
  constexpr std::size_t kMaxTokenBytes = 1024;
  if (value.size() > kMaxTokenBytes) return std::string(what) + " is longer than 1024 bytes";
  for (const char c : value) {
    if (c < 0x20 || c > 0x7E) return std::string(what) + " is not printable ASCII";
  }
  return {};
}

// "<major>.<minor>": major 2 is understood whatever the minor (S3 sends 2.1, 2.2, 2.3
// and, since the unified schema, 2.4; minors only add fields). A missing eventVersion is
// accepted: hand-written test bodies and some relays leave it out.
std::string check_event_version(const json& record) {
  auto it = record.find("eventVersion");
  if (it == record.end()) return {};
  if (!it->is_string()) return "eventVersion is not a string";
  const std::string version = it->get<std::string>();
  const std::size_t dot = version.find('.');
  const std::string major = version.substr(0, dot);
  const std::string minor = dot == std::string::npos ? std::string() : version.substr(dot + 1);
  const bool digits_only =
      std::all_of(minor.begin(), minor.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (major == "2" && digits_only) return {};
  // Quote the version only when it is short and printable: it comes from the message.
  if (version.size() <= 16 && check_token(version, "eventVersion").empty()) {
    return "unsupported eventVersion \"" + version + "\" (only 2.x is understood)";
  }
  return "unsupported eventVersion (only 2.x is understood)";
}

std::string check_object(const ObjectCreated& created) {
  if (std::string reason = check_bucket_name(created.bucket); !reason.empty()) return reason;
  if (std::string reason = check_object_key(created.key); !reason.empty()) return reason;
  if (std::string reason = check_token(created.etag, "eTag"); !reason.empty()) return reason;
  if (std::string reason = check_token(created.version_id, "versionId"); !reason.empty()) {
    return reason;
  }
  return check_token(created.sequencer, "sequencer");
}

// What one S3 record holds: an object, a rejection reason, or nothing to do (ignored).
struct RecordOutcome {
  std::optional<ObjectCreated> object;
  std::string rejected;
};

RecordOutcome parse_s3_record(const json& record) {
  if (!record.is_object()) return {std::nullopt, "record is not a JSON object"};
  if (std::string reason = check_event_version(record); !reason.empty()) {
    return {std::nullopt, reason};
  }
  const std::string event_name = string_field(record, "eventName");
  if (event_name.rfind("ObjectCreated:", 0) != 0 && event_name.rfind("s3:ObjectCreated:", 0) != 0) {
    return {};
  }
  auto s3 = record.find("s3");
  if (s3 == record.end() || !s3->is_object()) return {std::nullopt, "record without \"s3\""};
  auto bucket = s3->find("bucket");
  auto object = s3->find("object");
  if (bucket == s3->end() || object == s3->end() || !bucket->is_object() || !object->is_object()) {
    return {std::nullopt, "record without s3.bucket or s3.object"};
  }
  ObjectCreated created;
  created.bucket = string_field(*bucket, "name");
  created.key = decode_event_key(string_field(*object, "key"));
  // A notification without an eTag keeps it empty: the version identity then comes from
  // HeadObject, never from a value made up here.
  created.etag = strip_quotes(string_field(*object, "eTag"));
  if (created.etag.empty()) created.etag = strip_quotes(string_field(*object, "etag"));
  created.version_id = string_field(*object, "versionId");
  created.sequencer = string_field(*object, "sequencer");
  created.size = size_field(*object, "size");
  created.event_name = event_name;
  if (std::string reason = check_object(created); !reason.empty()) return {std::nullopt, reason};
  return {std::move(created), {}};
}

// Decides the kind once every record has been looked at.
ParsedMessage finish(ParsedMessage parsed, std::size_t records, std::size_t ignored) {
  std::string rejected_summary;
  if (!parsed.rejected.empty()) {
    const RejectedRecord& first = parsed.rejected.front();
    rejected_summary = std::to_string(parsed.rejected.size()) + " record(s) rejected (record " +
                       std::to_string(first.index) + ": " + first.reason + ")";
  }
  if (!parsed.objects.empty()) {
    parsed.kind = EventKind::kObjectsCreated;
    parsed.reason = rejected_summary;
  } else if (!parsed.rejected.empty()) {
    parsed.kind = EventKind::kMalformed;
    parsed.reason = rejected_summary;
  } else {
    parsed.kind = EventKind::kIgnored;
    parsed.reason = records == 0 ? "no records" : std::to_string(ignored) + " non-create record(s)";
  }
  return parsed;
}

ParsedMessage parse_s3_records(const json& doc) {
  const json& records = doc.at("Records");
  if (!records.is_array()) return malformed("\"Records\" is not an array");
  ParsedMessage parsed;
  std::size_t ignored = 0;
  for (std::size_t index = 0; index < records.size(); ++index) {
    RecordOutcome outcome = parse_s3_record(records[index]);
    if (outcome.object) {
      parsed.objects.push_back(std::move(*outcome.object));
    } else if (!outcome.rejected.empty()) {
      parsed.rejected.push_back({index, std::move(outcome.rejected)});
    } else {
      ++ignored;
    }
  }
  return finish(std::move(parsed), records.size(), ignored);
}

ParsedMessage parse_eventbridge(const json& doc) {
  const std::string detail_type = string_field(doc, "detail-type");
  if (detail_type != "Object Created") {
    return ParsedMessage{
        EventKind::kIgnored, {}, "EventBridge detail-type \"" + detail_type + "\"", {}};
  }
  ParsedMessage parsed;
  auto reject = [&parsed](std::string reason) {
    parsed.rejected.push_back({0, std::move(reason)});
    return finish(std::move(parsed), 1, 0);
  };
  auto detail = doc.find("detail");
  if (detail == doc.end() || !detail->is_object()) {
    return reject("EventBridge event without detail");
  }
  auto bucket = detail->find("bucket");
  auto object = detail->find("object");
  if (bucket == detail->end() || object == detail->end() || !bucket->is_object() ||
      !object->is_object()) {
    return reject("EventBridge detail without bucket or object");
  }
  ObjectCreated created;
  created.bucket = string_field(*bucket, "name");
  // EventBridge carries the key as stored (not form-encoded), per the S3 User Guide
  // "EventBridge event message structure".
  created.key = string_field(*object, "key");
  created.etag = strip_quotes(string_field(*object, "etag"));
  created.version_id = string_field(*object, "version-id");
  created.sequencer = string_field(*object, "sequencer");
  created.size = size_field(*object, "size");
  created.event_name = detail_type;
  if (std::string reason = check_object(created); !reason.empty()) return reject(reason);
  parsed.objects.push_back(std::move(created));
  return finish(std::move(parsed), 1, 0);
}

ParsedMessage parse_document(const json& doc, int depth) {
  if (!doc.is_object()) return malformed("message body is not a JSON object");
  if (doc.contains("Records")) return parse_s3_records(doc);
  if (string_field(doc, "Event") == "s3:TestEvent") {
    return ParsedMessage{EventKind::kTestEvent, {}, "s3:TestEvent", {}};
  }
  if (string_field(doc, "Type") == "Notification" && doc.contains("Message")) {
    // SNS envelope (raw message delivery disabled): the S3 event is a JSON string.
    if (depth > 0) return malformed("nested SNS envelopes");
    const std::string inner = string_field(doc, "Message");
    json inner_doc = json::parse(inner, nullptr, false);
    if (inner_doc.is_discarded()) return malformed("SNS Message is not JSON");
    return parse_document(inner_doc, depth + 1);
  }
  if (string_field(doc, "source") == "aws.s3" && doc.contains("detail-type")) {
    return parse_eventbridge(doc);
  }
  return malformed("unknown message shape");
}

}  // namespace

std::string check_object_key(std::string_view key) {
  // S3 User Guide "Naming Amazon S3 objects": a key is a sequence of Unicode characters
  // whose UTF-8 encoding is at most 1024 bytes long.
  constexpr std::size_t kMaxKeyBytes = 1024;
  if (key.empty()) return "record without object key";
  if (key.size() > kMaxKeyBytes) return "key is longer than 1024 bytes";
  if (!common::is_valid_utf8(key)) return "key is not valid UTF-8";
  // Other control characters are legal in S3 keys and survive PostgreSQL text and JSON
  // logs (escaped); NUL alone truncates.
  if (key.find('\0') != std::string_view::npos) return "key contains a NUL character";
  return {};
}

std::string check_bucket_name(std::string_view bucket) {
  // S3 User Guide "General purpose bucket naming rules": 3-63 of [a-z0-9.-] today; buckets
  // created in us-east-1 before March 2018 may have up to 255 characters with upper case
  // and underscores, so that wider set is accepted. Directory buckets ("--x-s3") fit too.
  constexpr std::size_t kMaxLegacyBucketLength = 255;
  if (bucket.empty()) return "record without bucket name";
  const bool charset_ok = std::all_of(bucket.begin(), bucket.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
  });
  if (bucket.size() > kMaxLegacyBucketLength || !charset_ok) {
    return "bucket name is not a valid S3 bucket name";
  }
  return {};
}

ParsedMessage parse_message_body(std::string_view body) {
  json doc = json::parse(body.begin(), body.end(), nullptr, false);
  if (doc.is_discarded()) return malformed("message body is not valid JSON");
  try {
    return parse_document(doc, 0);
  } catch (const json::exception& e) {
    return malformed(std::string("unexpected JSON structure: ") + e.what());
  }
}

std::string make_object_created_body(const std::string& bucket, const std::string& key,
                                     std::int64_t size, const std::string& etag,
                                     const std::string& region) {
  // Keys are form-encoded in S3 notifications: spaces become '+', the rest %XX.
  std::string encoded = aws::uri_encode(key, true);
  std::string form;
  for (std::size_t i = 0; i < encoded.size(); ++i) {
    if (encoded.compare(i, 3, "%20") == 0) {
      form += '+';
      i += 2;
    } else {
      form += encoded[i];
    }
  }
  json object = {{"key", form}, {"eTag", etag}, {"sequencer", "0A1B2C3D4E5F678901"}};
  if (size >= 0) object["size"] = size;
  json record = {{"eventVersion", "2.1"},
                 {"eventSource", "aws:s3"},
                 {"awsRegion", region},
                 {"eventName", "ObjectCreated:Put"},
                 {"s3",
                  {{"s3SchemaVersion", "1.0"},
                   {"configurationId", "dancer-analysis-send-test-message"},
                   {"bucket", {{"name", bucket}, {"arn", "arn:aws:s3:::" + bucket}}},
                   {"object", object}}}};
  return json{{"Records", json::array({record})}}.dump();
}

}  // namespace dancer::service

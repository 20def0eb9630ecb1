#include "service/events.h"

#include <nlohmann/json.hpp>

#include "aws/uri.h"

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
  return ParsedMessage{EventKind::kMalformed, {}, std::move(reason)};
}

ParsedMessage parse_s3_records(const json& doc) {
  const json& records = doc.at("Records");
  if (!records.is_array()) return malformed("\"Records\" is not an array");
  ParsedMessage parsed;
  parsed.kind = EventKind::kObjectsCreated;
  int ignored = 0;
  for (const json& record : records) {
    if (!record.is_object()) return malformed("a record is not an object");
    const std::string event_name = string_field(record, "eventName");
    // eventVersion is "<major>.<minor>": only major 2 is understood.
    const std::string version = string_field(record, "eventVersion");
    if (!version.empty() && version.rfind("2.", 0) != 0) {
      return malformed("unsupported eventVersion " + version);
    }
    if (event_name.rfind("ObjectCreated:", 0) != 0 &&
        event_name.rfind("s3:ObjectCreated:", 0) != 0) {
      ++ignored;
      continue;
    }
    auto s3 = record.find("s3");
    if (s3 == record.end() || !s3->is_object()) return malformed("record without \"s3\"");
    auto bucket = s3->find("bucket");
    auto object = s3->find("object");
    if (bucket == s3->end() || object == s3->end() || !bucket->is_object() ||
        !object->is_object()) {
      return malformed("record without s3.bucket or s3.object");
    }
    ObjectCreated created;
    created.bucket = string_field(*bucket, "name");
    created.key = decode_event_key(string_field(*object, "key"));
    created.etag = strip_quotes(string_field(*object, "eTag"));
    if (created.etag.empty()) created.etag = strip_quotes(string_field(*object, "etag"));
    created.version_id = string_field(*object, "versionId");
    created.sequencer = string_field(*object, "sequencer");
    created.size = size_field(*object, "size");
    created.event_name = event_name;
    if (created.bucket.empty() || created.key.empty()) {
      return malformed("record without bucket name or object key");
    }
    parsed.objects.push_back(std::move(created));
  }
  if (parsed.objects.empty()) {
    parsed.kind = EventKind::kIgnored;
    parsed.reason =
        records.empty() ? "no records" : std::to_string(ignored) + " non-create record(s)";
  }
  return parsed;
}

ParsedMessage parse_eventbridge(const json& doc) {
  const std::string detail_type = string_field(doc, "detail-type");
  if (detail_type != "Object Created") {
    return ParsedMessage{
        EventKind::kIgnored, {}, "EventBridge detail-type \"" + detail_type + "\""};
  }
  auto detail = doc.find("detail");
  if (detail == doc.end() || !detail->is_object())
    return malformed("EventBridge event without detail");
  auto bucket = detail->find("bucket");
  auto object = detail->find("object");
  if (bucket == detail->end() || object == detail->end() || !bucket->is_object() ||
      !object->is_object()) {
    return malformed("EventBridge detail without bucket or object");
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
  if (created.bucket.empty() || created.key.empty()) {
    return malformed("EventBridge event without bucket name or object key");
  }
  return ParsedMessage{EventKind::kObjectsCreated, {std::move(created)}, {}};
}

ParsedMessage parse_document(const json& doc, int depth) {
  if (!doc.is_object()) return malformed("message body is not a JSON object");
  if (doc.contains("Records")) return parse_s3_records(doc);
  if (string_field(doc, "Event") == "s3:TestEvent") {
    return ParsedMessage{EventKind::kTestEvent, {}, "s3:TestEvent"};
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
